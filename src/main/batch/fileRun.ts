/**
 * The write path of one photo, from input to committed output: header check, target size,
 * output name, the output folder's manifest and the rerun rules, temporary file, engine,
 * metadata, fsync, the manifest record before the rename, the atomic rename. One
 * implementation, run by the local batch queue and by cluster workers (src/main/cluster/):
 * they differ only in how they hold the output folder (see `OutputAccess`).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { FileReason, Job, JobFile } from '../../shared/jobs.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import type {
  ExecutionProvider,
  UpscaleProgress,
  UpscaleResult,
} from '../../shared/upscaleOptions.ts';
import { syncDirectory, syncFile } from '../files/atomicWrite.ts';
import { finishOutput, toUpscaleOptions } from './exportOptions.ts';
import { InputRejected, type ImageUpscaler } from './imageUpscaler.ts';
import { isFileReason, type ImageHeader } from './inputScan.ts';
import { readSourceMetadata } from './metadataTransfer.ts';
import type { OutputManifest } from './outputManifest.ts';
import {
  chooseOutputPath,
  commitOutput,
  outputsAmongInputs,
  planOutputName,
  prepareOutputFolder,
  recordOutputInLedger,
  temporaryOutputPath,
  type PlannedName,
} from './outputPlan.ts';
import {
  decideForFile,
  isWriteError,
  noteFrames,
  outputFolderFailure,
  outputRecordFor,
  upToDateReason,
  writeFailure,
  type PlannedOutput,
} from './outputRecord.ts';
import type { OutputDecision } from './rerunRules.ts';

/**
 * How a runner holds an output folder's manifest.
 * - The local queue holds the folder for the whole job (`exclusive`): what it decided before
 *   upscaling still holds at the rename.
 * - A cluster worker shares the folder with workers on other machines: it decides on a fresh
 *   read, upscales without a lock, and decides again under the folder's lock just before the
 *   record and the rename, so a file another worker finished meanwhile is not written twice.
 */
export interface OutputAccess {
  readonly exclusive: boolean;
  /** The manifest to decide against. */
  open(
    folder: string,
    signal: AbortSignal,
    onWait: (holder: number) => void,
  ): Promise<OutputManifest>;
  /** Runs `commit` holding the folder (a fresh manifest when not `exclusive`). */
  withFolder<T>(
    folder: string,
    signal: AbortSignal,
    commit: (manifest: OutputManifest) => Promise<T>,
  ): Promise<T>;
}

/** What the write path needs of the planner (JobPlanner gives all three). */
export interface FilePlanner {
  readUsableHeader(inputPath: string, settings: ExportSettings): Promise<ImageHeader | FileReason>;
  modelName(settings: ExportSettings): string;
  recordPhoto(settings: ExportSettings, result: UpscaleResult, elapsedMs: number): Promise<void>;
}

export interface FileRunContext {
  upscaler: ImageUpscaler;
  planner: FilePlanner;
  outputs: OutputAccess;
  /** Paths this job must never write over: its inputs and the outputs it already made. */
  reserved: ReadonlySet<string>;
  /** Things to tell the person (another run holds the output folder). */
  onNote: (message: string) => void;
  /**
   * What names this run's temporary output besides the file (default: the job id). Cluster
   * workers add a token per attempt, so two machines running one file (at-least-once
   * delivery) never write the same temporary file; it still starts with the job id, so the
   * job's sweep (`deleteTemporaryOutputs`) finds what a killed worker left.
   */
  tempTag?: string;
}

export interface FileRunControl {
  signal: AbortSignal;
  onProgress?: (progress: UpscaleProgress) => void;
}

export type FileRunOutcome =
  | {
      kind: 'done';
      outputPath: string;
      size: { width: number; height: number };
      elapsedMs: number;
      provider: ExecutionProvider | null;
    }
  | { kind: 'skipped'; reason: FileReason; outputPath: string | null };

/**
 * One image from input to committed output. It fills in what it learns on `file` (the input's
 * size now, notes, rerun note, model, provider, the planned output path) and returns the outcome;
 * a failure throws (InputRejected carries the file's own reason). The temporary file is removed
 * whatever happens.
 */
export async function runFile(
  context: FileRunContext,
  job: Job,
  file: JobFile,
  control: FileRunControl,
): Promise<FileRunOutcome> {
  const { settings } = job;
  const { signal } = control;
  const started = performance.now();
  const header = await context.planner.readUsableHeader(file.inputPath, settings);
  if (isFileReason(header)) throw new InputRejected(header);
  // The photo may have been replaced since the scan: the report gives what was processed.
  file.inputBytes = header.bytes;
  file.inputWidth = header.width;
  file.inputHeight = header.height;
  noteFrames(file, header);
  let size;
  try {
    size = resolveTargetSize(header, settings.target);
  } catch (error) {
    throw new InputRejected({ code: 'scale-out-of-range', message: (error as Error).message });
  }
  const planned = planOutputName(settings, job.outputFolder, {
    inputPath: file.inputPath,
    relativePath: file.relativePath,
    outputWidth: size.width,
    outputHeight: size.height,
    scale: size.scale,
    model: context.planner.modelName(settings),
    createdAt: job.createdAt,
  });
  const amongInputs = outputsAmongInputs(job.outputFolder, job.inputs.paths);
  try {
    await prepareOutputFolder(job.outputFolder, planned.folder, !amongInputs);
  } catch (error) {
    throw new InputRejected(await outputFolderFailure(error, planned.folder));
  }
  const manifest = await context.outputs.open(job.outputFolder, signal, (holder) =>
    context.onNote(
      `${job.outputFolder} is being written by another run (process ${holder}); waiting for it to finish`,
    ),
  );
  const target: PlannedOutput = {
    targetPath: path.join(planned.folder, planned.fileName),
    format: planned.format,
  };
  const models = context.upscaler.listModels();
  const done = (outputPath: string, provider: ExecutionProvider | null): FileRunOutcome => ({
    kind: 'done',
    outputPath,
    size,
    elapsedMs: performance.now() - started,
    provider,
  });
  /** The outcome when the decision leaves nothing to write; null when the file must be written. */
  const settledBy = (decision: OutputDecision): FileRunOutcome | null => {
    if (decision.kind !== 'up-to-date') return null;
    // Made by an earlier run, or by this job before a kill or on another worker (its record
    // precedes the rename): either way the output is complete and ours.
    if (decision.record.job === job.id) return done(decision.outputPath, file.provider);
    return { kind: 'skipped', reason: upToDateReason(), outputPath: decision.outputPath };
  };
  const decision = await decideForFile(manifest, job, file, target, models);
  const early = settledBy(decision);
  if (early) return early;
  const first = await choosePath(decision, planned, settings, context.reserved, file);
  if (first === null) return skippedExisting(planned, decision);
  // Not persisted here: a kill after the rename is recognised by the manifest record, which is
  // written before it (see outputRecord.ts).
  file.outputPath = first.finalPath;

  const tempPath = temporaryOutputPath(first.finalPath, context.tempTag ?? job.id, file.id);
  try {
    const source = settings.metadata === 'keep' ? await readSourceMetadata(file.inputPath) : null;
    const result = await context.upscaler
      .upscaleFile(
        file.inputPath,
        tempPath,
        toUpscaleOptions(settings, planned.format),
        settings.device,
        { signal, ...(control.onProgress ? { onProgress: control.onProgress } : {}) },
      )
      .catch((error: unknown) => {
        throw isWriteError(error) ? new InputRejected(writeFailure(error, planned.folder)) : error;
      });
    file.provider = result.provider;
    file.model = result.model;
    if (result.source) file.source = result.source;
    file.precision = result.precision;
    await finishOutput(
      tempPath,
      planned.format,
      settings,
      { width: result.outputWidth, height: result.outputHeight },
      source,
    );
    await syncFile(tempPath);
    signal.throwIfAborted();

    const commit = async (held: OutputManifest): Promise<FileRunOutcome> => {
      let choice = first;
      if (!context.outputs.exclusive) {
        // Another worker may have written this file, or another photo's output may hold the
        // name, since the first look: the rules again, on the manifest as it is now.
        const now = await decideForFile(held, job, file, target, models);
        const settled = settledBy(now);
        if (settled) return settled;
        const again = await choosePath(now, planned, settings, context.reserved, file);
        if (again === null) return skippedExisting(planned, now);
        choice = again;
      }
      let finalPath = choice.finalPath;
      file.outputPath = finalPath;
      // Among inputs, the name is listed before it appears, so no later scan takes it for a photo.
      if (amongInputs) await recordOutputInLedger(finalPath);
      // The record goes down before the rename: a kill in between leaves a record that owns
      // nothing (the file it names is not there, or is the older output its previous record owns).
      await held.append(
        await outputRecordFor(held, job, file, target, finalPath, tempPath, models),
      );
      // Under skip/rename a name can be taken between choosing and committing: choose again.
      while (!(await commitOutput(tempPath, finalPath, choice.policy))) {
        const next = await chooseOutputPath(planned, settings.overwrite, context.reserved);
        if (next === null) {
          return {
            kind: 'skipped',
            reason: {
              code: 'output-exists',
              message: `${path.join(planned.folder, planned.fileName)} appeared while the image was processed (overwrite policy: skip)`,
            },
            outputPath: null,
          };
        }
        finalPath = next;
        if (amongInputs) await recordOutputInLedger(finalPath);
        file.outputPath = finalPath;
        await held.append(
          await outputRecordFor(held, job, file, target, finalPath, tempPath, models),
        );
      }
      await syncDirectory(path.dirname(finalPath));
      return done(finalPath, result.provider);
    };
    const outcome = context.outputs.exclusive
      ? await commit(manifest)
      : await context.outputs.withFolder(job.outputFolder, signal, commit);
    // This machine's speed learns from the photo; a figure that cannot be saved (its folder
    // gone) must not fail a photo whose output is written and recorded.
    if (outcome.kind === 'done')
      await context.planner.recordPhoto(settings, result, outcome.elapsedMs).catch(() => undefined);
    return outcome;
  } finally {
    await rm(tempPath, { force: true });
  }
}

interface PathChoice {
  finalPath: string;
  policy: ExportSettings['overwrite'];
}

/**
 * Where the output goes under the rules' decision. Ours: replaced where it is, whatever the
 * policy (the policy protects other people's files), unless another photo of this job wrote
 * it in this run. Another photo's output always gets a new name beside it. Null: `skip` found
 * the name taken.
 */
async function choosePath(
  decision: OutputDecision,
  planned: PlannedName,
  settings: ExportSettings,
  reserved: ReadonlySet<string>,
  file: JobFile,
): Promise<PathChoice | null> {
  if (decision.kind === 'replace') file.rerun = { kind: 'replaced', why: decision.why };
  else if (decision.kind === 'not-ours')
    file.rerun = { kind: 'not-ours', why: decision.why, existingPath: decision.existingPath };
  else delete file.rerun;
  const replaceInPlace = decision.kind === 'replace' && !reserved.has(decision.outputPath);
  const policy = replaceInPlace ? 'overwrite' : settings.overwrite;
  const finalPath =
    decision.kind === 'replace' && replaceInPlace
      ? decision.outputPath
      : decision.kind === 'taken'
        ? await chooseOutputPath(planned, 'rename', new Set([...reserved, decision.existingPath]))
        : await chooseOutputPath(planned, settings.overwrite, reserved);
  return finalPath === null ? null : { finalPath, policy };
}

function skippedExisting(planned: PlannedName, decision: OutputDecision): FileRunOutcome {
  return {
    kind: 'skipped',
    reason: {
      code: 'output-exists',
      message: `${path.join(planned.folder, planned.fileName)} already exists${decision.kind === 'not-ours' && decision.why === 'edited' ? ' and was edited since we wrote it' : ' and was not written by us'} (overwrite policy: skip)`,
    },
    outputPath: null,
  };
}
