/**
 * What a person should know before starting a job, found while the pre-flight scans it: outputs
 * that already exist (and what the overwrite policy will do with them), a folder whose photos
 * all sit in sub-folders that are not included, and files that cannot be read.
 */
import path from 'node:path';
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type { JobInputs, PreflightFileProblem, PreflightWarning } from '../../shared/jobs.ts';
import { unreadableText } from '../../shared/jobs.ts';
import { resolveTargetSize } from '../../shared/targetSize.ts';
import type { ImageHeader } from './inputScan.ts';
import { scanInputs } from './inputScan.ts';
import { pathExists, planOutputName } from './outputPlan.ts';
import { wholeFrameEncoderWarning } from './encoderMemory.ts';

/** File names listed in a warning before "and N more". */
const NAMES_LISTED = 3;

export interface WarningInputs {
  inputs: JobInputs;
  files: readonly { inputPath: string; relativePath: string; header: ImageHeader | null }[];
  problems: readonly PreflightFileProblem[];
  settings: ExportSettings;
  outputFolder: string;
  /** The model name `{model}` expands to. */
  modelName: string;
}

export async function preflightWarnings(request: WarningInputs): Promise<PreflightWarning[]> {
  const warnings: PreflightWarning[] = [];
  const existing = await existingOutputs(request);
  if (existing.length > 0) {
    warnings.push({
      code: 'outputs-exist',
      message: `${countOf(existing.length, 'output')} already ${existing.length === 1 ? 'exists' : 'exist'} in ${request.outputFolder} (${listNames(existing)}): ${policyOutcome(request.settings.overwrite, existing.length)}`,
    });
  }
  if (!request.inputs.recursive) {
    const below =
      (await scanInputs({ ...request.inputs, recursive: true }, [request.outputFolder])).length -
      request.files.length;
    if (below > 0) {
      warnings.push({
        code: 'photos-in-subfolders',
        message: `${countOf(request.files.length, 'photo')} here, ${below} in sub-folders: tick “Include subfolders” to upscale them too.`,
      });
    }
  }
  if (request.problems.length > 0) {
    warnings.push({
      code: 'unreadable-files',
      message: `${unreadableText(request.problems)} and will be listed as failed: ${request.problems
        .slice(0, NAMES_LISTED)
        .map((problem) => `${path.basename(problem.path)} (${problem.reason.message})`)
        .join('; ')}${moreThan(request.problems.length)}.`,
    });
  }
  const encoder = wholeFrameEncoderWarning(request.files, request.settings);
  if (encoder) warnings.push(encoder);
  return warnings;
}

/** File names of outputs the job would write that are already on disk. */
async function existingOutputs(request: WarningInputs): Promise<string[]> {
  const createdAt = new Date().toISOString();
  const found: string[] = [];
  for (const file of request.files) {
    if (!file.header) continue;
    let planned;
    try {
      const size = resolveTargetSize(file.header, request.settings.target);
      planned = planOutputName(request.settings, request.outputFolder, {
        inputPath: file.inputPath,
        relativePath: file.relativePath,
        outputWidth: size.width,
        outputHeight: size.height,
        scale: size.scale,
        model: request.modelName,
        createdAt,
      });
    } catch {
      continue; // Out of range or an invalid template: reported elsewhere.
    }
    if (await pathExists(path.join(planned.folder, planned.fileName))) found.push(planned.fileName);
  }
  return found;
}

function policyOutcome(policy: ExportSettings['overwrite'], count: number): string {
  const them = count === 1 ? 'it' : 'they';
  switch (policy) {
    case 'skip':
      return `${them} will be skipped and left as ${count === 1 ? 'it is' : 'they are'} (When the file exists: Skip).`;
    case 'rename':
      return `the new ${count === 1 ? 'file gets' : 'files get'} a number instead, e.g. name-1 (When the file exists: Add a number).`;
    case 'overwrite':
      return `${them} will be replaced (When the file exists: Replace).`;
  }
}

function listNames(names: readonly string[]): string {
  return names.slice(0, NAMES_LISTED).join(', ') + moreThan(names.length);
}

function moreThan(count: number): string {
  return count > NAMES_LISTED ? ` and ${count - NAMES_LISTED} more` : '';
}

function countOf(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
