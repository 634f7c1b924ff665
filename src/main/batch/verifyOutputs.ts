/**
 * Checks an output folder against its manifest: every output we wrote is there, intact, made
 * from the input as it is now, and that input still exists. `cmsc-upscale verify` and the app's
 * "Verify outputs" both call this; a rerun of the job repairs what it finds (see rerunRules.ts:
 * a missing or undecodable output is made again in place, a stale one replaced; an output that
 * differs but still decodes is taken for a person's edit and kept).
 */
import { stat } from 'node:fs/promises';
import type { OutputFinding, OutputsVerification } from '../../shared/jobs.ts';
import { hashFile, OutputManifest, type ManifestRecord } from './outputManifest.ts';
import { decodesCompletely, outputMatches } from './rerunRules.ts';

export type VerifyFinding = OutputFinding;
export type VerifyResult = OutputsVerification;

export async function verifyOutputs(folder: string): Promise<VerifyResult> {
  const { manifest, warnings } = await OutputManifest.open(folder);
  const hasManifest = (await stat(manifest.filePath).catch(() => null)) !== null;
  const findings: VerifyFinding[] = [];
  let checked = 0;
  let intact = 0;
  for (const latest of manifest.latestRecords()) {
    checked++;
    const records = manifest.recordsFor(latest.target, latest.input.path);
    const finding = await checkTarget(manifest, records);
    if (finding) findings.push(finding);
    else intact++;
  }
  findings.sort((a, b) => (a.output < b.output ? -1 : a.output > b.output ? 1 : 0));
  return { folder, checked, intact, findings, warnings, hasManifest };
}

async function checkTarget(
  manifest: OutputManifest,
  records: readonly ManifestRecord[],
): Promise<VerifyFinding | null> {
  let owner: ManifestRecord | null = null;
  for (const record of records) {
    if (await outputMatches(manifest.outputPathOf(record), record)) {
      owner = record;
      break;
    }
  }
  const latest = records[0]!;
  const output = manifest.outputPathOf(owner ?? latest);
  const input = (owner ?? latest).input.absolutePath;
  if (!owner) {
    if (!(await stat(output).catch(() => null)))
      return { kind: 'missing', output, input, detail: 'the output is gone' };
    return (await decodesCompletely(output))
      ? {
          kind: 'edited',
          output,
          input,
          detail:
            'the output differs from what we wrote but still decodes (edited by hand?); a rerun keeps it',
        }
      : {
          kind: 'damaged',
          output,
          input,
          detail: 'the output no longer decodes (truncated or corrupt)',
        };
  }
  const info = await stat(input).catch(() => null);
  if (!info || !info.isFile())
    return { kind: 'orphaned', output, input, detail: 'its input is gone' };
  const same =
    info.size === owner.input.bytes &&
    (info.mtimeMs === owner.input.mtimeMs ||
      (await hashFile(input).catch(() => null)) === owner.input.sha256);
  return same
    ? null
    : { kind: 'stale', output, input, detail: 'its input changed since the output was made' };
}
