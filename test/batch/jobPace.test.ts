/** The job's own pace against the planner's figures (jobPace.ts): the factor its ETA is scaled by. */
import { describe, expect, it } from 'vitest';
import { PACE_FACTOR_MAX, PACE_FACTOR_MIN, paceFactor } from '../../src/main/batch/jobPace.ts';

describe('paceFactor', () => {
  it('is 1 before a photo of the job finished, or with nothing predicted', () => {
    expect(paceFactor({ actualMs: 0, predictedMs: 0, photos: 0 })).toBe(1);
    expect(paceFactor({ actualMs: 500, predictedMs: 0, photos: 1 })).toBe(1);
  });

  it('one photo moves the prediction halfway (geometrically) towards what it took', () => {
    // Took a quarter of the prediction: the rest is predicted at half.
    expect(paceFactor({ actualMs: 250, predictedMs: 1000, photos: 1 })).toBeCloseTo(0.5, 12);
    expect(paceFactor({ actualMs: 4000, predictedMs: 1000, photos: 1 })).toBeCloseTo(2, 12);
  });

  it('more photos are trusted more: n / (n + 1) of the way', () => {
    const ten = paceFactor({ actualMs: 5000, predictedMs: 10_000, photos: 10 });
    expect(ten).toBeCloseTo(0.5 ** (10 / 11), 12);
    expect(ten).toBeLessThan(paceFactor({ actualMs: 500, predictedMs: 1000, photos: 1 }));
  });

  it('is clamped, so one stalled or oddly quick photo cannot rule the ETA', () => {
    const many = 1_000_000;
    expect(paceFactor({ actualMs: 1, predictedMs: 1000, photos: many })).toBeCloseTo(
      PACE_FACTOR_MIN,
      4,
    );
    expect(paceFactor({ actualMs: 1e9, predictedMs: 1000, photos: many })).toBeCloseTo(
      PACE_FACTOR_MAX,
      3,
    );
  });
});
