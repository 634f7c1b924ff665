/**
 * The rerun rules, one implementation for the CLI, the app, web mode and cluster workers: what
 * to do with one input whose output would land at `target`, given the output folder's manifest.
 *
 * - up to date: a record owns the file on disk (same size and time, or same hash), and was
 *   made from the same input content under the same settings digest → skip, write nothing;
 * - ours, stale: the input or the settings changed → replace the output the record names, in place;
 * - ours, deleted: the recorded output is gone → write it again where it was;
 * - ours, damaged: the recorded output differs and no longer decodes (a truncated copy) → replace it;
 * - someone else's: a file at the target that no record owns, or ours edited since (it differs
 *   and still decodes: retouched by a person) → the overwrite policy decides, as for any file;
 * - another photo's: the target holds the output we made for another input whose name maps to
 *   the same target (`a.png` and `a.jpg`) → a new name, whatever the policy: ours are never
 *   overwritten by each other.
 *
 * Cheap first: size and modification time equal to the record's mean unchanged, and the
 * content is hashed only when they differ.
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { hashFile, type ManifestRecord, type OutputManifest } from './outputManifest.ts';

export type ReplaceWhy = 'input-changed' | 'settings-changed' | 'deleted' | 'damaged';

export type OutputDecision =
  /** Nothing at the target and no record: write at the target. */
  | { kind: 'new' }
  | { kind: 'up-to-date'; record: ManifestRecord; outputPath: string }
  /** Ours: write again at `outputPath`, replacing what is there. */
  | { kind: 'replace'; record: ManifestRecord; outputPath: string; why: ReplaceWhy }
  /** A file we did not write (or one a person edited): the overwrite policy decides. */
  | { kind: 'not-ours'; why: 'not-in-manifest' | 'edited'; existingPath: string }
  /** Our output of another input holds the target: write beside it under a new name. */
  | { kind: 'taken'; existingPath: string };

export interface InputState {
  /** Absolute path now. */
  path: string;
  /** Relative to the job's input root (what records store). */
  relativePath: string;
  bytes: number;
  mtimeMs: number;
  /** Hashes the input when its size or time differ from the record's (memoised by the caller). */
  sha256: () => Promise<string>;
}

export async function decideOutput(
  manifest: OutputManifest,
  targetPath: string,
  input: InputState,
  digest: string,
): Promise<OutputDecision> {
  const target = manifest.relativePathOf(targetPath);
  let records = manifest.trusted ? manifest.recordsFor(target, input.relativePath) : [];
  // The same relative name under another picked folder whose photo still exists: its records.
  for (const record of records) {
    if (record.input.absolutePath !== input.path && (await isFile(record.input.absolutePath))) {
      records = [];
      break;
    }
  }
  if (records.length === 0) {
    if (!(await stat(targetPath).catch(() => null))) return { kind: 'new' };
    return manifest.trusted && manifest.namesOutput(target)
      ? { kind: 'taken', existingPath: targetPath }
      : { kind: 'not-ours', why: 'not-in-manifest', existingPath: targetPath };
  }
  for (const record of records) {
    const outputPath = manifest.outputPathOf(record);
    if (!(await outputMatches(outputPath, record))) continue;
    const sameInput =
      input.bytes === record.input.bytes &&
      (input.mtimeMs === record.input.mtimeMs || (await input.sha256()) === record.input.sha256);
    if (!sameInput) return { kind: 'replace', record, outputPath, why: 'input-changed' };
    if (record.settingsDigest !== digest)
      return { kind: 'replace', record, outputPath, why: 'settings-changed' };
    return { kind: 'up-to-date', record, outputPath };
  }
  // No record owns what is on disk: the newest one says where our output was.
  const latest = records[0]!;
  const outputPath = manifest.outputPathOf(latest);
  if (!(await stat(outputPath).catch(() => null)))
    return { kind: 'replace', record: latest, outputPath, why: 'deleted' };
  if (await decodesCompletely(outputPath))
    return { kind: 'not-ours', why: 'edited', existingPath: outputPath };
  return { kind: 'replace', record: latest, outputPath, why: 'damaged' };
}

async function isFile(filePath: string): Promise<boolean> {
  return (await stat(filePath).catch(() => null))?.isFile() ?? false;
}

/** True when the file at `outputPath` is the one `record` describes. */
export async function outputMatches(outputPath: string, record: ManifestRecord): Promise<boolean> {
  const info = await stat(outputPath).catch(() => null);
  if (!info || !info.isFile() || info.size !== record.output.bytes) return false;
  if (info.mtimeMs === record.output.mtimeMs) return true;
  return (await hashFile(outputPath).catch(() => null)) === record.output.sha256;
}

/**
 * True when every byte of the image decodes (a truncated file fails). A shrink on load keeps
 * the memory small; JPEG still reads every block to do it.
 */
export async function decodesCompletely(filePath: string): Promise<boolean> {
  try {
    await sharp(filePath, { failOn: 'truncated', limitInputPixels: false })
      .resize(256, 256, { fit: 'inside' })
      .raw()
      .toBuffer();
    return true;
  } catch {
    return false;
  }
}
