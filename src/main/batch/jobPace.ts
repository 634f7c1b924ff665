/**
 * A running job's own pace against the planner's figures: how much longer or shorter this
 * job's finished photos took than the figures say they should, as a factor for the time its
 * waiting photos (and the running one before its first tile) are predicted to take.
 *
 * Why: the figures are machine-wide and learn slowly on purpose (one photo moves them by a
 * share of NEWEST_WEIGHT, so one outlier does not rule), which also means a figure that is off
 * for this job (a calibration taken while the machine was busy, another model's photos before,
 * a folder that encodes differently) stays off for many photos. Measured on the batch tests'
 * machine: the time left after a job's first photo came out 1.2x to 2.1x the time the rest
 * took, while the first photo itself already showed the same bias.
 *
 * The job's photos are compared with the figures as they are now, not as they were when each
 * photo finished: the figures have since learned from those photos, and what remains between
 * them and the job is the part still to correct (a ratio frozen at each finish would count the
 * figures' own learning twice).
 */

/** The factor never leaves this range: a stalled or an oddly quick photo cannot rule the ETA. */
export const PACE_FACTOR_MIN = 0.25;
export const PACE_FACTOR_MAX = 4;

/** What a job's finished photos took and what the figures say they take now. */
export interface PaceSample {
  /** Measured milliseconds of the job's finished photos (those whose figures are not assumed). */
  actualMs: number;
  /** The planner's milliseconds for the same photos at the figures of now. */
  predictedMs: number;
  /** How many photos the two sums cover. */
  photos: number;
}

/**
 * The factor for the job's remaining predicted time: the ratio of the finished photos' actual
 * to predicted time, clamped, and trusted by the number of photos behind it: n / (n + 1) in
 * log space (one photo moves the prediction halfway there, geometrically; ten, 91 % of the
 * way), since one photo on a shared machine can be a quarter off either way. 1 before any
 * photo finished.
 */
export function paceFactor(sample: PaceSample): number {
  if (sample.photos <= 0 || sample.predictedMs <= 0 || sample.actualMs <= 0) return 1;
  const ratio = Math.min(
    PACE_FACTOR_MAX,
    Math.max(PACE_FACTOR_MIN, sample.actualMs / sample.predictedMs),
  );
  return ratio ** (sample.photos / (sample.photos + 1));
}
