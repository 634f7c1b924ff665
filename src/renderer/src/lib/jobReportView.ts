/**
 * The report of a job as a person reads it: totals first, then the failures with their reason in
 * words, then each folder with its photos in human units (MB, s). Built from the job itself; the
 * CSV and JSON written next to the outputs stay the machine-readable record.
 */
import type { FileState, Job, JobFile } from '../../../shared/jobs.ts';
import { FILE_STATE_LABELS } from './fileStateLabel.ts';
import { fileNameOf, formatBytes, formatDuration } from './format.ts';

export interface ReportPhoto {
  fileId: number;
  inputPath: string;
  name: string;
  state: FileState;
  /** `Done`, `Failed`, …. */
  result: string;
  /** `1.2 MB → 3.4 MB · 640×480 → 1280×960 · 2.1 s`. */
  details: string;
  /** Why it was not done, as a sentence; null for done photos. */
  reason: string | null;
  /** Compare can show it (its header was read). */
  comparable: boolean;
}

export interface ReportTotals {
  photos: number;
  done: number;
  failed: number;
  skipped: number;
  cancelled: number;
  inputBytes: number;
  outputBytes: number;
  timeMs: number;
}

export interface ReportFolder {
  /** Below the job's input (`2024/june`); empty for the top folder. */
  folder: string;
  totals: ReportTotals;
  /** Failed first, then in the job's order. */
  photos: ReportPhoto[];
}

export interface JobReportView {
  totals: ReportTotals;
  failures: ReportPhoto[];
  folders: ReportFolder[];
}

export function buildReportView(job: Job): JobReportView {
  const folders = new Map<string, JobFile[]>();
  for (const file of job.files) {
    const folder = folderOf(file.relativePath);
    folders.set(folder, [...(folders.get(folder) ?? []), file]);
  }
  const photo = (file: JobFile): ReportPhoto => ({
    fileId: file.id,
    inputPath: file.inputPath,
    name: fileNameOf(file.relativePath),
    state: file.state,
    result: FILE_STATE_LABELS[file.state],
    details: photoDetails(file),
    reason: file.state === 'done' || !file.reason ? null : sentence(file.reason.message),
    comparable: file.inputWidth > 0,
  });
  const failedFirst = (files: readonly JobFile[]): JobFile[] => [
    ...files.filter((file) => file.state === 'failed'),
    ...files.filter((file) => file.state !== 'failed'),
  ];
  return {
    totals: totalsOf(job.files),
    failures: job.files.filter((file) => file.state === 'failed').map(photo),
    folders: [...folders.entries()]
      .sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))
      .map(([folder, files]) => ({
        folder,
        totals: totalsOf(files),
        photos: failedFirst(files).map(photo),
      })),
  };
}

/** `12 photos · 10 done · 1 failed · 1 skipped · 48.2 MB → 131 MB · 1 min 12 s`. */
export function describeTotals(totals: ReportTotals): string {
  const parts = [`${totals.photos} photo${totals.photos === 1 ? '' : 's'}`, `${totals.done} done`];
  if (totals.failed > 0) parts.push(`${totals.failed} failed`);
  if (totals.skipped > 0) parts.push(`${totals.skipped} skipped`);
  if (totals.cancelled > 0) parts.push(`${totals.cancelled} cancelled`);
  parts.push(`${formatBytes(totals.inputBytes)} → ${formatBytes(totals.outputBytes)}`);
  parts.push(formatDuration(totals.timeMs));
  return parts.join(' · ');
}

function totalsOf(files: readonly JobFile[]): ReportTotals {
  const totals: ReportTotals = {
    photos: files.length,
    done: 0,
    failed: 0,
    skipped: 0,
    cancelled: 0,
    inputBytes: 0,
    outputBytes: 0,
    timeMs: 0,
  };
  for (const file of files) {
    if (file.state === 'done') totals.done++;
    else if (file.state === 'failed') totals.failed++;
    else if (file.state === 'skipped') totals.skipped++;
    else if (file.state === 'cancelled') totals.cancelled++;
    totals.inputBytes += file.inputBytes;
    if (file.state === 'done') totals.outputBytes += file.outputBytes ?? 0;
    totals.timeMs += file.elapsedMs ?? 0;
  }
  return totals;
}

function photoDetails(file: JobFile): string {
  const bytes =
    file.state === 'done' && file.outputBytes !== null
      ? `${formatBytes(file.inputBytes)} → ${formatBytes(file.outputBytes)}`
      : formatBytes(file.inputBytes);
  const parts = [bytes];
  if (file.inputWidth > 0) {
    parts.push(
      file.outputWidth !== null && file.outputHeight !== null && file.state === 'done'
        ? `${file.inputWidth}×${file.inputHeight} → ${file.outputWidth}×${file.outputHeight}`
        : `${file.inputWidth}×${file.inputHeight}`,
    );
  }
  if (file.elapsedMs !== null) parts.push(formatDuration(file.elapsedMs));
  return parts.join(' · ');
}

function folderOf(relativePath: string): string {
  const parts = relativePath.split(/[/\\]/);
  return parts.slice(0, -1).join('/');
}

function sentence(text: string): string {
  const trimmed = text.trim();
  return trimmed === '' ? trimmed : trimmed[0]!.toUpperCase() + trimmed.slice(1);
}
