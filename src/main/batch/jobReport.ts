/**
 * The report of a finished job, next to its outputs: JSON for programs, CSV for spreadsheets,
 * one row per file (input, output, sizes, time, device, model, precision, error). When the
 * output folder cannot take them (read-only, gone) they go to the queue's state folder instead,
 * so a report exists.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { FileState, Job, JobSummary } from '../../shared/jobs.ts';
import { FILE_STATES, rerunNoteText } from '../../shared/jobs.ts';
import type { InferencePrecision } from '../../shared/upscaleOptions.ts';
import { writeFileAtomic } from '../files/atomicWrite.ts';

export interface ReportRow {
  input: string;
  output: string | null;
  state: FileState;
  inputBytes: number;
  outputBytes: number | null;
  inputWidth: number;
  inputHeight: number;
  outputWidth: number | null;
  outputHeight: number | null;
  timeMs: number | null;
  device: string | null;
  /** The model that made the output (clean or photo variant), and why that variant. */
  model: string | null;
  source: string | null;
  /** `int8` or `fp32`: which of the model's files ran; null when not done or not recorded. */
  precision: InferencePrecision | null;
  error: string | null;
  /**
   * `code: message` of each note (`first-frame-only: …`, `rerun: the photo changed since the last
   * run: its output replaced in place`); only on rows that have notes.
   */
  notes?: string[];
}

export interface JobReport {
  jobId: string;
  createdAt: string;
  finishedAt: string;
  state: 'finished' | 'cancelled';
  outputFolder: string;
  settings: Job['settings'];
  counts: Record<FileState, number>;
  files: ReportRow[];
}

const CSV_COLUMNS: readonly Exclude<keyof ReportRow, 'notes'>[] = [
  'input',
  'output',
  'state',
  'inputBytes',
  'outputBytes',
  'inputWidth',
  'inputHeight',
  'outputWidth',
  'outputHeight',
  'timeMs',
  'device',
  'model',
  'source',
  'precision',
  'error',
];

export function summarizeJob(
  job: Job,
  state: 'finished' | 'cancelled',
): Omit<JobSummary, 'reportJsonPath' | 'reportCsvPath' | 'reportError'> {
  const counts = Object.fromEntries(FILE_STATES.map((s) => [s, 0])) as Record<FileState, number>;
  let inputBytes = 0;
  let outputBytes = 0;
  let processingMs = 0;
  for (const file of job.files) {
    counts[file.state]++;
    inputBytes += file.inputBytes;
    if (file.state === 'done') outputBytes += file.outputBytes ?? 0;
    processingMs += file.elapsedMs ?? 0;
  }
  return {
    jobId: job.id,
    state,
    counts,
    inputBytes,
    outputBytes,
    processingMs: Math.round(processingMs),
  };
}

export function buildReport(
  job: Job,
  state: 'finished' | 'cancelled',
  finishedAt: Date,
): JobReport {
  return {
    jobId: job.id,
    createdAt: job.createdAt,
    finishedAt: finishedAt.toISOString(),
    state,
    outputFolder: job.outputFolder,
    settings: job.settings,
    counts: summarizeJob(job, state).counts,
    files: job.files.map((file) => ({
      input: file.inputPath,
      output: file.state === 'done' ? file.outputPath : null,
      state: file.state,
      inputBytes: file.inputBytes,
      outputBytes: file.state === 'done' ? file.outputBytes : null,
      inputWidth: file.inputWidth,
      inputHeight: file.inputHeight,
      outputWidth: file.state === 'done' ? file.outputWidth : null,
      outputHeight: file.state === 'done' ? file.outputHeight : null,
      timeMs: file.elapsedMs === null ? null : Math.round(file.elapsedMs),
      device: file.provider,
      model: file.state === 'done' ? (file.model ?? null) : null,
      source: file.state === 'done' && file.source ? file.source.reason : null,
      precision: file.state === 'done' ? (file.precision ?? null) : null,
      error: file.reason ? `${file.reason.code}: ${file.reason.message}` : null,
      ...(file.notes?.length || (file.state === 'done' && file.rerun)
        ? {
            notes: [
              ...(file.notes ?? []).map((note) => `${note.code}: ${note.message}`),
              // What a rerun found at the output's place: replaced in place, or not ours.
              ...(file.state === 'done' && file.rerun
                ? [`rerun: ${rerunNoteText(file.rerun)}`]
                : []),
            ],
          }
        : {}),
    })),
  };
}

export function reportToCsv(report: JobReport): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of report.files)
    lines.push(CSV_COLUMNS.map((column) => csvField(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

/** RFC 4180 quoting; a leading = + - @ is prefixed with ' so spreadsheets do not run it as a formula. */
function csvField(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const safe = /^[=+\-@]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export interface WrittenReport {
  jsonPath: string | null;
  csvPath: string | null;
  error: string | null;
}

/** Writes `cmsc-report-<job>.json` and `.csv` into the output folder, else into `fallbackDir`. */
export async function writeReport(report: JobReport, fallbackDir: string): Promise<WrittenReport> {
  const baseName = `cmsc-report-${report.jobId}`;
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const csv = reportToCsv(report);
  const attempt = async (dir: string): Promise<{ jsonPath: string; csvPath: string }> => {
    await mkdir(dir, { recursive: true });
    const jsonPath = path.join(dir, `${baseName}.json`);
    const csvPath = path.join(dir, `${baseName}.csv`);
    await writeFileAtomic(jsonPath, json);
    await writeFileAtomic(csvPath, csv);
    return { jsonPath, csvPath };
  };
  try {
    return { ...(await attempt(report.outputFolder)), error: null };
  } catch (error) {
    const reason = `the output folder could not take the report (${(error as Error).message})`;
    try {
      return { ...(await attempt(fallbackDir)), error: reason };
    } catch (fallbackError) {
      return {
        jsonPath: null,
        csvPath: null,
        error: `${reason}; nor could ${fallbackDir} (${(fallbackError as Error).message})`,
      };
    }
  }
}
