/**
 * "Verify outputs" as people read it: one sentence, then the findings grouped by what a rerun
 * does about them. Missing, damaged and stale outputs (and photos added since) are made again
 * by running the job again; an edited output is a person's and is kept; an orphan's photo is
 * gone, so only a person can decide to delete it.
 */
import type { OutputFinding, OutputsVerification } from '../../../shared/jobs.ts';

export interface VerificationGroup {
  kind: OutputFinding['kind'];
  title: string;
  explanation: string;
  findings: OutputFinding[];
}

export interface VerificationView {
  summary: string;
  groups: VerificationGroup[];
  /** Outputs a rerun of the job makes again. */
  repairable: number;
}

const GROUPS: readonly Omit<VerificationGroup, 'findings'>[] = [
  {
    kind: 'missing',
    title: 'Missing',
    explanation: 'Deleted or moved since they were written; a rerun makes them again.',
  },
  {
    kind: 'damaged',
    title: 'Damaged',
    explanation:
      'They no longer open as pictures (cut short, corrupted); a rerun replaces them in place.',
  },
  {
    kind: 'stale',
    title: 'Out of date',
    explanation: 'Their photo changed since; a rerun makes them again from the photo as it is now.',
  },
  {
    kind: 'edited',
    title: 'Changed by someone',
    explanation:
      'They differ from what was written but still open (edited in another program?). A rerun keeps them and writes beside them.',
  },
  {
    kind: 'orphaned',
    title: 'Photo gone',
    explanation:
      'Their photo was deleted or moved. They are kept; delete them yourself if they are not wanted.',
  },
];

const REPAIRABLE: ReadonlySet<OutputFinding['kind']> = new Set(['missing', 'damaged', 'stale']);

export function describeVerification(result: OutputsVerification): VerificationView {
  const groups = GROUPS.map((group) => ({
    ...group,
    findings: result.findings.filter((finding) => finding.kind === group.kind),
  })).filter((group) => group.findings.length > 0);
  const repairable = result.findings.filter((finding) => REPAIRABLE.has(finding.kind)).length;
  const summary = !result.hasManifest
    ? 'Nothing to check: this folder holds no record of outputs written by CMSC Upscaler.'
    : result.findings.length === 0
      ? `All ${result.checked} output${result.checked === 1 ? ' is' : 's are'} intact and up to date.`
      : `${result.intact} of ${result.checked} outputs intact; ${result.findings.length} need${result.findings.length === 1 ? 's' : ''} a look.`;
  return { summary, groups, repairable };
}
