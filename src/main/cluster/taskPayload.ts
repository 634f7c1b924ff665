/**
 * What travels through Redis, and how a worker checks it. A job is stored once (its spec: the
 * settings snapshot, the output folder, the models' file digests); each file is one small task
 * naming the job. Both carry a version; a worker validates both strictly and executes nothing
 * it cannot read: an unknown version, a missing field or an absurd value fails the task with
 * `invalid-task` and the reason.
 */
import path from 'node:path';
import { parseExportSettings, type ExportSettings } from '../../shared/exportSettings.ts';
import {
  FILE_REASON_CODES,
  RETRYABLE_REASON_CODES,
  type FileReason,
  type FileReasonCode,
  type JobFile,
  type JobInputs,
} from '../../shared/jobs.ts';
import type { ModelSummary } from '../../shared/upscaleOptions.ts';
import { modelFamily } from '../batch/settingsDigest.ts';

export const JOB_SPEC_VERSION = 1;
export const TASK_VERSION = 1;

/** Bounds no real photo reaches: a task past them is not a photo of ours. */
const MAX_PATH_LENGTH = 4096;
const MAX_INPUT_BYTES = 2 ** 40;
const MAX_FILES = 10_000_000;
const MAX_SIDE = 1_000_000;

export type ClusterJobState = 'active' | 'paused' | 'cancelled' | 'finished';

/** A model the job may run, by the digest of its files (ModelSummary.filesDigest). */
export interface ModelSnapshot {
  name: string;
  filesDigest: string;
}

export interface JobSpec {
  v: typeof JOB_SPEC_VERSION;
  id: string;
  createdAt: string;
  inputs: JobInputs;
  settings: ExportSettings;
  outputFolder: string;
  models: ModelSnapshot[];
  /** Tasks put on the queue (files to upscale). */
  tasks: number;
  /** Files the job found (tasks plus up-to-date and refused ones). */
  files: number;
  state: ClusterJobState;
}

export interface TaskPayload {
  v: typeof TASK_VERSION;
  jobId: string;
  fileId: number;
  inputPath: string;
  relativePath: string;
  inputBytes: number;
  inputWidth: number;
  inputHeight: number;
  inputJpegQuality?: number;
}

export class InvalidPayload extends Error {
  override readonly name = 'InvalidPayload';
}

/** The models a job snapshots: the ones whose files can shape its outputs. */
export function modelSnapshot(
  settings: Pick<ExportSettings, 'model' | 'source'>,
  models: readonly ModelSummary[],
): ModelSnapshot[] {
  return modelFamily(settings, models).map((m) => ({
    name: m.name,
    filesDigest: m.filesDigest ?? 'unknown',
  }));
}

/**
 * Why this machine's models cannot run a job, or null when they match: every snapshotted model
 * must be here with the same files.
 */
export function modelMismatch(
  snapshot: readonly ModelSnapshot[],
  models: readonly ModelSummary[],
): string | null {
  for (const wanted of snapshot) {
    const here = models.find((m) => m.name === wanted.name);
    if (!here) return `the job needs model ${wanted.name}, which this worker does not have`;
    if ((here.filesDigest ?? 'unknown') !== wanted.filesDigest)
      return `model ${wanted.name} differs: its files here hash to ${short(here.filesDigest)}, the job's to ${short(wanted.filesDigest)}`;
  }
  return null;
}

function short(digest: string | undefined): string {
  return (digest ?? 'unknown').slice(0, 12);
}

export function taskFor(jobId: string, file: JobFile): TaskPayload {
  return {
    v: TASK_VERSION,
    jobId,
    fileId: file.id,
    inputPath: file.inputPath,
    relativePath: file.relativePath,
    inputBytes: file.inputBytes,
    inputWidth: file.inputWidth,
    inputHeight: file.inputHeight,
    ...(file.inputJpegQuality !== undefined ? { inputJpegQuality: file.inputJpegQuality } : {}),
  };
}

/** The task's id on its job's queue: adding the same file twice adds it once. */
export function taskId(fileId: number): string {
  return `f${fileId}`;
}

export function parseTask(data: unknown): TaskPayload {
  const task = record(data, 'task');
  if (task.v !== TASK_VERSION)
    throw new InvalidPayload(
      `task version ${JSON.stringify(task.v)} is not one this worker reads (${TASK_VERSION})`,
    );
  const inputJpegQuality =
    task.inputJpegQuality === undefined
      ? undefined
      : integer(task.inputJpegQuality, 'inputJpegQuality', 1, 100);
  return {
    v: TASK_VERSION,
    jobId: jobIdText(task.jobId),
    fileId: integer(task.fileId, 'fileId', 0, MAX_FILES),
    inputPath: absolutePath(task.inputPath, 'inputPath'),
    relativePath: relativePath(task.relativePath),
    inputBytes: integer(task.inputBytes, 'inputBytes', 0, MAX_INPUT_BYTES),
    inputWidth: integer(task.inputWidth, 'inputWidth', 0, MAX_SIDE),
    inputHeight: integer(task.inputHeight, 'inputHeight', 0, MAX_SIDE),
    ...(inputJpegQuality !== undefined ? { inputJpegQuality } : {}),
  };
}

export function parseJobSpec(data: unknown): JobSpec {
  const spec = record(data, 'job');
  if (spec.v !== JOB_SPEC_VERSION)
    throw new InvalidPayload(
      `job version ${JSON.stringify(spec.v)} is not one this worker reads (${JOB_SPEC_VERSION})`,
    );
  const inputs = record(spec.inputs, 'inputs');
  if (!Array.isArray(inputs.paths) || inputs.paths.length === 0 || inputs.paths.length > MAX_FILES)
    throw new InvalidPayload('inputs.paths must be a list of absolute paths');
  let settings: ExportSettings;
  try {
    settings = parseExportSettings(spec.settings);
  } catch (error) {
    throw new InvalidPayload((error as Error).message);
  }
  if (!Array.isArray(spec.models)) throw new InvalidPayload('models must be a list');
  const models = spec.models.map((entry, index) => {
    const model = record(entry, `models[${index}]`);
    return {
      name: text(model.name, `models[${index}].name`, 200),
      filesDigest: text(model.filesDigest, `models[${index}].filesDigest`, 200),
    };
  });
  const state = spec.state;
  if (state !== 'active' && state !== 'paused' && state !== 'cancelled' && state !== 'finished')
    throw new InvalidPayload(`state must be active, paused, cancelled or finished`);
  return {
    v: JOB_SPEC_VERSION,
    id: jobIdText(spec.id),
    createdAt: text(spec.createdAt, 'createdAt', 64),
    inputs: {
      paths: inputs.paths.map((p, index) => absolutePath(p, `inputs.paths[${index}]`)),
      recursive: inputs.recursive === true,
      includeExtensions: stringList(inputs.includeExtensions, 'inputs.includeExtensions'),
      excludeExtensions: stringList(inputs.excludeExtensions, 'inputs.excludeExtensions'),
    },
    settings,
    outputFolder: absolutePath(spec.outputFolder, 'outputFolder'),
    models,
    tasks: integer(spec.tasks, 'tasks', 0, MAX_FILES),
    files: integer(spec.files, 'files', 0, MAX_FILES),
    state,
  };
}

// ---- outcomes ---------------------------------------------------------------------------

/**
 * A failed task's reason travels as the error message (BullMQ keeps only the text): JSON of
 * the FileReason, so the submitter shows the same code and words a local run does.
 */
export function reasonText(reason: FileReason): string {
  return JSON.stringify(reason);
}

export function reasonFromText(text: string | undefined): FileReason {
  try {
    const parsed = JSON.parse(text ?? '') as Partial<FileReason>;
    if (
      typeof parsed.message === 'string' &&
      FILE_REASON_CODES.includes(parsed.code as FileReasonCode)
    )
      return { code: parsed.code as FileReasonCode, message: parsed.message };
  } catch {
    // Not ours: a stall past the limit, a lost lock; BullMQ's own words.
  }
  return { code: 'upscale-failed', message: text ?? 'the task failed without a reason' };
}

/**
 * Whether another attempt can help: a lost connection, the engine out of memory, a folder not
 * writable for a moment. A file's own problem (corrupt, too big, out of scale range) or a task
 * refused by the path policy or validation fails once.
 */
export function isTransient(reason: FileReason): boolean {
  return RETRYABLE_REASON_CODES.includes(reason.code);
}

// ---- checks -----------------------------------------------------------------------------

function record(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidPayload(`${what} is missing or not an object`);
  return value as Record<string, unknown>;
}

function integer(value: unknown, what: string, min: number, max: number): number {
  if (value === undefined) throw new InvalidPayload(`${what} is missing`);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidPayload(
      `${what} must be a whole number from ${min} to ${max} (got ${String(value)})`,
    );
  return value;
}

function text(value: unknown, what: string, maxLength: number): string {
  if (value === undefined) throw new InvalidPayload(`${what} is missing`);
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength)
    throw new InvalidPayload(`${what} must be text of 1 to ${maxLength} characters`);
  return value;
}

function jobIdText(value: unknown): string {
  const id = text(value, 'jobId', 100);
  if (!/^[A-Za-z0-9_-]+$/.test(id))
    throw new InvalidPayload(`job id ${JSON.stringify(id)} is not one of ours`);
  return id;
}

function absolutePath(value: unknown, what: string): string {
  const p = text(value, what, MAX_PATH_LENGTH);
  if (p.includes('\0') || !path.isAbsolute(p))
    throw new InvalidPayload(`${what} must be an absolute path`);
  return p;
}

function relativePath(value: unknown): string {
  const p = text(value, 'relativePath', MAX_PATH_LENGTH);
  if (p.includes('\0') || path.isAbsolute(p) || p.split(/[\\/]/).includes('..'))
    throw new InvalidPayload(`relativePath ${JSON.stringify(p)} must stay below the input folder`);
  return p;
}

function stringList(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
    throw new InvalidPayload(`${what} must be a list of text`);
  return value as string[];
}
