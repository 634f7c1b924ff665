/**
 * The output manifest: what we wrote into an output folder, one JSON record a line in
 * `.cmsc-upscaler-manifest.jsonl` at the folder's root, so the folder keeps its history when it
 * is copied or moved, and a person or a script can read it (`jq`, `grep`).
 *
 * JSON lines rather than SQLite: appending one line is O(1) and needs no native addon (a
 * SQLite addon would have to be built for Electron as well as Node, and its prebuilt binaries
 * cannot be downloaded everywhere we build); a torn last line is the only damage a crash can
 * do, and it is recognisable. The file is compacted (rewritten atomically with only the live
 * records) when it grows past twice what it holds.
 *
 * Crash safety. A record is appended and fsynced after the output is complete in its temporary
 * file and before it is renamed into place: the record carries the final hash, size and time.
 * Each target keeps its last two records, and a record only counts when the file on disk
 * matches it, so a record whose rename never happened points at nothing (or at the older
 * output, which its previous record still owns). No record ever vouches for a partial file.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PROGRAM_VERSION } from '../../shared/programVersion.ts';
import { writeFileAtomic } from '../files/atomicWrite.ts';
import { PidLock } from './pidLock.ts';

export const MANIFEST_FILE_NAME = '.cmsc-upscaler-manifest.jsonl';
const MANIFEST_LOCK_NAME = '.cmsc-upscaler-manifest.lock';
export const MANIFEST_VERSION = 1;
/** Records kept per target: the latest, and the one before it (see crash safety above). */
const RECORDS_PER_TARGET = 2;

/** What identifies a file's content cheaply (size, time) and surely (hash). */
export interface FileIdentity {
  bytes: number;
  mtimeMs: number;
  sha256: string;
}

export interface ManifestRecord {
  /** The name the template gave, relative to the manifest's folder (before the overwrite policy). */
  target: string;
  output: FileIdentity & {
    /** Relative to the manifest's folder: the target, or `name-1.jpg` under `rename`. */
    path: string;
  };
  input: FileIdentity & {
    /** Relative to the job's input root, as mirrored under the output folder. */
    path: string;
    /** Where the input was when the output was made (an orphan check needs it). */
    absolutePath: string;
  };
  /** Digest of every setting that changes the output's pixels or bytes (`settingsDigest.ts`). */
  settingsDigest: string;
  /** The same settings in words, for people reading the file. */
  settings: Record<string, unknown>;
  job: string;
  writtenAt: string;
  program: string;
}

interface ManifestHeader {
  cmscUpscalerManifest: number;
  createdAt: string;
}

export interface OpenedManifest {
  manifest: OutputManifest;
  /** Problems found while reading; the manifest still opens (at worst empty). */
  warnings: string[];
}

/**
 * Records are kept per (target, input): two photos whose names map to one target (`a.png` and
 * `a.jpg` as `a_x2.png`) each keep their own history, and never take each other's output.
 */
function recordKey(target: string, inputPath: string): string {
  return `${target}\u0000${inputPath}`;
}

export class OutputManifest {
  /** Per (target, input), newest first. */
  private readonly records = new Map<string, ManifestRecord[]>();
  /** Output paths some live record names, with how many records name each. */
  private readonly namedOutputs = new Map<string, number>();
  private lines = 0;
  private appending: Promise<void> = Promise.resolve();

  private constructor(
    readonly folder: string,
    /** False when the file could not be trusted: every existing output counts as someone else's. */
    readonly trusted: boolean,
  ) {}

  get filePath(): string {
    return path.join(this.folder, MANIFEST_FILE_NAME);
  }

  /**
   * Reads the manifest of `folder` (an empty one when there is none). A garbled or newer file is
   * never trusted and never deleted: it is moved aside when we first write, and said so.
   */
  static async open(folder: string): Promise<OpenedManifest> {
    const filePath = path.join(folder, MANIFEST_FILE_NAME);
    let text: string;
    try {
      text = await readFile(filePath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        return { manifest: new OutputManifest(folder, true), warnings: [] };
      return {
        manifest: new OutputManifest(folder, false),
        warnings: [
          `the output manifest ${filePath} cannot be read (${code ?? String(error)}); every existing output is treated as someone else's`,
        ],
      };
    }
    return parseManifest(folder, text);
  }

  /** The records of `input`'s output at `target` (both relative), newest first, up to two. */
  recordsFor(target: string, inputPath: string): readonly ManifestRecord[] {
    return this.records.get(recordKey(target, inputPath)) ?? [];
  }

  /** True when some record names `outputPath` (relative) as its output. */
  namesOutput(outputPath: string): boolean {
    return (this.namedOutputs.get(outputPath) ?? 0) > 0;
  }

  /** The newest record of every target. */
  latestRecords(): ManifestRecord[] {
    return [...this.records.values()].map((list) => list[0]!);
  }

  /** Appends `record` durably (serialised: concurrent calls land in call order). */
  append(record: ManifestRecord): Promise<void> {
    const write = this.appending.then(async () => {
      await this.ensureWritable();
      const handle = await open(this.filePath, 'a');
      try {
        await handle.appendFile(`${JSON.stringify(record)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.remember(record);
      this.lines++;
    });
    this.appending = write.catch(() => undefined);
    return write;
  }

  /**
   * Rewrites the file with only the live records when it holds more than twice as many lines,
   * so its size follows the folder, not the number of runs. Amortised O(1) per append.
   */
  async compactIfLarge(): Promise<boolean> {
    if (!this.trusted) return false;
    let live = 0;
    for (const list of this.records.values()) live += list.length;
    if (this.lines <= 2 * live + 64) return false;
    await this.appending;
    const header: ManifestHeader = {
      cmscUpscalerManifest: MANIFEST_VERSION,
      createdAt: new Date().toISOString(),
    };
    const body: string[] = [JSON.stringify(header)];
    for (const list of this.records.values()) {
      // Oldest first, so that reading back keeps the same order.
      for (const record of [...list].reverse()) body.push(JSON.stringify(record));
    }
    await writeFileAtomic(this.filePath, `${body.join('\n')}\n`);
    this.lines = body.length;
    return true;
  }

  /** Absolute path of a record's output. */
  outputPathOf(record: ManifestRecord): string {
    return path.join(this.folder, record.output.path);
  }

  /** Relative form of an output path inside this folder (what records store). */
  relativePathOf(absolutePath: string): string {
    return toPortable(path.relative(this.folder, absolutePath));
  }

  /** Called from the parser, and after each append. */
  private remember(record: ManifestRecord): void {
    const key = recordKey(record.target, record.input.path);
    const list = this.records.get(key) ?? [];
    list.unshift(record);
    this.count(record.output.path, 1);
    while (list.length > RECORDS_PER_TARGET) this.count(list.pop()!.output.path, -1);
    this.records.set(key, list);
  }

  private count(outputPath: string, delta: number): void {
    const next = (this.namedOutputs.get(outputPath) ?? 0) + delta;
    if (next > 0) this.namedOutputs.set(outputPath, next);
    else this.namedOutputs.delete(outputPath);
  }

  /** Before the first write: a distrusted file is moved aside, a missing one gets its header. */
  private async ensureWritable(): Promise<void> {
    if (this.lines > 0) return;
    await mkdir(this.folder, { recursive: true });
    const existing = await stat(this.filePath).catch(() => null);
    if (existing && !this.trusted) {
      await rename(this.filePath, `${this.filePath}.unreadable-${Date.now()}`);
    } else if (existing) {
      this.lines = 1;
      return;
    }
    const header: ManifestHeader = {
      cmscUpscalerManifest: MANIFEST_VERSION,
      createdAt: new Date().toISOString(),
    };
    await writeFile(this.filePath, `${JSON.stringify(header)}\n`, { flag: 'w' });
    this.lines = 1;
  }

  /** @internal for the parser */
  static fromParsed(
    folder: string,
    trusted: boolean,
    records: readonly ManifestRecord[],
    lines: number,
  ): OutputManifest {
    const manifest = new OutputManifest(folder, trusted);
    if (trusted) for (const record of records) manifest.remember(record);
    manifest.lines = lines;
    return manifest;
  }
}

function parseManifest(folder: string, text: string): OpenedManifest {
  const filePath = path.join(folder, MANIFEST_FILE_NAME);
  const warnings: string[] = [];
  const distrust = (why: string): OpenedManifest => {
    warnings.push(
      `the output manifest ${filePath} ${why}; every existing output there is treated as someone else's (nothing is deleted; the file is kept aside as ${MANIFEST_FILE_NAME}.unreadable-…)`,
    );
    return { manifest: OutputManifest.fromParsed(folder, false, [], 0), warnings };
  };
  const lines = text.split('\n');
  // A crash during an append leaves the last line without its newline: that record never
  // counted (its output was not renamed yet), so it is dropped without a word.
  const complete = lines.slice(0, -1);
  if (complete.length === 0) {
    return text.trim() === ''
      ? { manifest: OutputManifest.fromParsed(folder, true, [], 0), warnings }
      : distrust('has no complete line');
  }
  let header: unknown;
  try {
    header = JSON.parse(complete[0]!);
  } catch {
    return distrust('does not start with a manifest header (garbled)');
  }
  if (!isRecordLike(header) || typeof header.cmscUpscalerManifest !== 'number') {
    return distrust('does not start with a manifest header (garbled)');
  }
  if (header.cmscUpscalerManifest > MANIFEST_VERSION) {
    return distrust(
      `was written by a newer version (format ${header.cmscUpscalerManifest}; this one reads ${MANIFEST_VERSION})`,
    );
  }
  const records: ManifestRecord[] = [];
  for (let index = 1; index < complete.length; index++) {
    const line = complete[index]!;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return distrust(`is garbled at line ${index + 1}`);
    }
    const record = parseRecord(value);
    if (typeof record === 'string') return distrust(`is garbled at line ${index + 1} (${record})`);
    const outside = [record.target, record.output.path].find((p) => !isInsideFolder(p));
    if (outside !== undefined) {
      warnings.push(
        `the output manifest ${filePath} line ${index + 1} names ${JSON.stringify(outside)}, outside its folder; that line is ignored`,
      );
      continue;
    }
    records.push(record);
  }
  return {
    manifest: OutputManifest.fromParsed(folder, true, records, complete.length),
    warnings,
  };
}

/** A relative path that stays inside its folder: no `..`, not absolute, no drive letter. */
export function isInsideFolder(relativePath: string): boolean {
  if (relativePath === '' || path.isAbsolute(relativePath) || /^[A-Za-z]:/.test(relativePath))
    return false;
  return !relativePath.split(/[\\/]/).some((part) => part === '..');
}

function parseRecord(value: unknown): ManifestRecord | string {
  if (!isRecordLike(value)) return 'not an object';
  const output = value.output;
  const input = value.input;
  if (typeof value.target !== 'string') return 'no target';
  if (!isIdentity(output) || typeof output.path !== 'string') return 'no output';
  if (
    !isIdentity(input) ||
    typeof input.path !== 'string' ||
    typeof input.absolutePath !== 'string'
  )
    return 'no input';
  if (typeof value.settingsDigest !== 'string') return 'no settings digest';
  return {
    target: value.target,
    output: {
      path: output.path,
      bytes: output.bytes,
      mtimeMs: output.mtimeMs,
      sha256: output.sha256,
    },
    input: {
      path: input.path,
      absolutePath: input.absolutePath,
      bytes: input.bytes,
      mtimeMs: input.mtimeMs,
      sha256: input.sha256,
    },
    settingsDigest: value.settingsDigest,
    settings: isRecordLike(value.settings) ? value.settings : {},
    job: typeof value.job === 'string' ? value.job : '',
    writtenAt: typeof value.writtenAt === 'string' ? value.writtenAt : '',
    program: typeof value.program === 'string' ? value.program : '',
  };
}

function isIdentity(value: unknown): value is Record<string, unknown> & FileIdentity {
  return (
    isRecordLike(value) &&
    typeof value.bytes === 'number' &&
    typeof value.mtimeMs === 'number' &&
    typeof value.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(value.sha256)
  );
}

function isRecordLike(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Manifests use `/` whatever the platform, so a folder moved between systems still reads. */
function toPortable(relativePath: string): string {
  return relativePath.split(path.sep).join('/');
}

/** The SHA-256 of a file's bytes, streamed (a 24 MP JPEG is not read into memory at once). */
export async function hashFile(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Size, modification time and hash of a file. */
export async function identify(filePath: string): Promise<FileIdentity> {
  const info = await stat(filePath);
  return { bytes: info.size, mtimeMs: info.mtimeMs, sha256: await hashFile(filePath) };
}

/** What wrote a record (the manifest says which program version made each output). */
export function programName(): string {
  return `cmsc-upscaler ${PROGRAM_VERSION}`;
}

/** The lock an output folder's writer holds (see `PidLock`). */
export function manifestLock(folder: string): PidLock {
  return new PidLock(path.join(folder, MANIFEST_LOCK_NAME));
}
