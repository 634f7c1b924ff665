/**
 * The transport-independent request handlers: Electron IPC (src/main/electron/ipcRegistration.ts)
 * and HTTP (src/main/server/webServer.ts) both call `handle(channel, args)`. Every argument is
 * checked here, once, before a service sees it; paths must lie inside the folders the user
 * added. Errors come back as an `ErrorAnswer`, never as a crash of main.
 */
import os from 'node:os';
import path from 'node:path';
import type {
  ErrorAnswer,
  InvokeArgs,
  InvokeChannel,
  InvokeResult,
  ModelChoice,
} from '../../shared/ipc.ts';
import { isInvokeChannel } from '../../shared/ipc.ts';
import {
  cloneSettings,
  parseExportSettings,
  type ExportSettings,
} from '../../shared/exportSettings.ts';
import { PAUSE_WHEN, type JobInputs, type PhotoSelection } from '../../shared/jobs.ts';
import { resolveOutputFolder } from '../batch/outputPlan.ts';
import { QUALITY_PRESETS, SOURCE_SETTINGS } from '../../shared/upscaleOptions.ts';
import { type OutputSharpening, readOutputSharpening } from '../../shared/outputSharpening.ts';
import type { AllowedFolders } from './allowedFolders.ts';
import { clusterHandlers } from './clusterHandlers.ts';
import { OUTPUT_ACTIONS, writtenOutput } from './jobOutputs.ts';
import { writtenCrop } from './writtenCrop.ts';
import { Superseded } from './cropScheduler.ts';
import {
  createFolder,
  expectFolderName,
  expectFolderPath,
  imagesIn,
  listFolder,
} from './folderBrowser.ts';
import type { AppServices, PlatformActions } from './services.ts';
import {
  expectArgCount,
  expectArray,
  expectBoolean,
  expectInteger,
  expectList,
  expectNumber,
  expectOneOf,
  expectPattern,
  expectRecord,
  expectString,
  InvalidArgument,
  PathNotAllowed,
  UnreadableImage,
} from './validate.ts';

/** Thrown when the current transport cannot do what was asked (e.g. a native dialog in web mode). */
export class Unavailable extends Error {
  override readonly name = 'Unavailable';
}

export const MAX_INPUTS_PER_REQUEST = 1000;
export const MAX_THUMBNAIL_SIDE = 1024;
/** The crop box's largest side in input pixels: keeps one preview well under a second on CPU. */
export const MAX_CROP_SIDE = 512;
export const MAX_INPUT_SIDE = 65_535;
export const FOLDER_PREVIEW_COUNT = 8;
export const FOLDER_PREVIEW_SIDE = 96;
/** Photos Compare lists for inputs not started yet; a person previews a few, not thousands. */
export const MAX_PREVIEW_PHOTOS = 1000;
/** Model card names as the registry writes them (`cmsc-lite-photo`). */
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

type ChannelHandler<C extends InvokeChannel> = (
  args: readonly unknown[],
) => Promise<InvokeResult<C>>;
type HandlerTable = { [C in InvokeChannel]: ChannelHandler<C> };

export type HandlerAnswer<C extends InvokeChannel> =
  { ok: true; value: InvokeResult<C> } | { ok: false; error: ErrorAnswer };

export interface RequestHandlers {
  /** Runs one request; unknown channels and bad arguments answer with an error. */
  handle(channel: string, args: unknown): Promise<HandlerAnswer<InvokeChannel>>;
}

export function createRequestHandlers(
  services: AppServices,
  allowedFolders: AllowedFolders,
  platform: PlatformActions,
): RequestHandlers {
  const jobId = (args: readonly unknown[]): string => {
    expectArgCount(args, 1);
    return expectString(args[0], 'job id', 200);
  };
  const jobInputs = async (value: unknown): Promise<JobInputs> => {
    const inputs = expectRecord(value, 'inputs');
    const extensions = (field: string): string[] =>
      inputs[field] === undefined
        ? []
        : expectList(inputs[field], `inputs.${field}`, 50, (element, what) =>
            expectPattern(
              element,
              what,
              /^[a-z0-9]{1,10}$/,
              'a lower-case extension without the dot',
            ),
          );
    const paths = expectArray(
      inputs.paths,
      'inputs.paths',
      MAX_INPUTS_PER_REQUEST,
      (element, what) => expectString(element, what),
    );
    // Shape first, file system last: a malformed request never touches the disk.
    const recursive = expectBoolean(inputs.recursive, 'inputs.recursive');
    const includeExtensions = extensions('includeExtensions');
    const excludeExtensions = extensions('excludeExtensions');
    const selection = inputs.selection === undefined ? undefined : photoSelection(inputs.selection);
    return {
      paths: await Promise.all(paths.map((candidate) => allowedFolders.check(candidate))),
      recursive,
      includeExtensions,
      excludeExtensions,
      ...(selection ? { selection } : {}),
    };
  };
  /** The settings a job would run with, once the folder it would write to is checked. */
  const checkedSettings = async (inputs: JobInputs): Promise<ExportSettings> => {
    const settings = await services.settings.load();
    const outputFolder = await resolveOutputFolder(inputs.paths, settings.outputFolder);
    await allowedFolders.checkOutput(
      outputFolder,
      settings.outputFolder === null ? inputs.paths : null,
    );
    return settings;
  };
  const requirePlatform = <T>(action: T | undefined, what: string): T => {
    if (action === undefined)
      throw new Unavailable(`${what} is not available in ${platform.mode} mode`);
    return action;
  };
  /** A model and preset from Compare: a model the registry has, a preset, clean or photo. */
  const modelChoice = async (value: unknown): Promise<ModelChoice> => {
    const choice = expectRecord(value, 'choice');
    const model = expectPattern(choice.model, 'choice.model', MODEL_NAME, 'a model card name');
    const qualityPreset = expectOneOf(
      choice.qualityPreset,
      'choice.qualityPreset',
      QUALITY_PRESETS,
    );
    const source = expectOneOf(choice.source, 'choice.source', SOURCE_SETTINGS);
    const known = await services.engine.models();
    if (!known.some((summary) => summary.name === model))
      throw new InvalidArgument(`There is no model named ${model} here`);
    return { model, qualityPreset, source };
  };
  const withChoice = (settings: ExportSettings, choice: ModelChoice | null): ExportSettings =>
    choice === null
      ? settings
      : {
          ...settings,
          model: choice.model,
          qualityPreset: choice.qualityPreset,
          source: choice.source,
        };
  const addChosen = async (paths: string[]): Promise<string[]> =>
    Promise.all(paths.map((chosen) => allowedFolders.add(chosen)));

  const table: HandlerTable = {
    'app:info': async (args) => {
      expectArgCount(args, 0);
      return { version: services.version, mode: platform.mode, platform: process.platform };
    },
    'engine:devices': async (args) => {
      expectArgCount(args, 0);
      return services.engine.devices();
    },
    'engine:models': async (args) => {
      expectArgCount(args, 0);
      return services.engine.models();
    },
    'settings:get': async (args) => {
      expectArgCount(args, 0);
      return services.settings.load();
    },
    'settings:set': async (args) => {
      expectArgCount(args, 1);
      const candidate = expectRecord(args[0], 'settings');
      // The output folder is a path like any other: only one the user picked may be written to.
      if (typeof candidate.outputFolder === 'string' && candidate.outputFolder !== '') {
        await allowedFolders.check(candidate.outputFolder);
      }
      return services.settings.save(candidate).catch((error: unknown) => {
        throw peopleSettingsError(error);
      });
    },
    'settings:reset': async (args) => {
      expectArgCount(args, 0);
      return services.settings.reset();
    },
    'dialog:pickInputs': async (args) => {
      expectArgCount(args, 1);
      const kind = expectOneOf(args[0], 'kind', ['folders', 'files'] as const);
      const picked = await requirePlatform(platform.pickInputs, 'a native file dialog')(kind);
      return addChosen(picked);
    },
    'dialog:pickOutputFolder': async (args) => {
      expectArgCount(args, 0);
      const picked = await requirePlatform(platform.pickOutputFolder, 'a native folder dialog')();
      return picked === null ? null : allowedFolders.add(picked);
    },
    'paths:dropped': async (args) => {
      expectArgCount(args, 1);
      if (platform.mode !== 'desktop')
        throw new Unavailable('dropped paths come from the desktop app only');
      const paths = expectArray(args[0], 'paths', MAX_INPUTS_PER_REQUEST, (element, what) =>
        expectString(element, what),
      );
      return addChosen(paths);
    },
    'browse:list': async (args) => {
      expectArgCount(args, 1);
      if (platform.mode !== 'web')
        throw new Unavailable('the folder browser is for web mode; use the dialog');
      const folder = args[0] === null ? os.homedir() : expectString(args[0], 'folder');
      return listFolder(expectFolderPath(folder));
    },
    'browse:previews': async (args) => {
      expectArgCount(args, 1);
      const requested = expectFolderPath(expectString(args[0], 'folder'));
      // Web mode browses any folder by design (names and pictures, to choose one); the desktop
      // app has native dialogs, so there it only shows folders the user already added.
      const folder =
        platform.mode === 'web' ? path.resolve(requested) : await allowedFolders.check(requested);
      const images = await imagesIn(folder, FOLDER_PREVIEW_COUNT).catch(() => []);
      // A photo that cannot be decoded simply has no preview; the batch will report it.
      const previews = await Promise.all(
        images.map((image) =>
          services.engine.thumbnail(image, FOLDER_PREVIEW_SIDE).then(
            (thumbnail) => ({ name: path.basename(image), path: image, image: thumbnail.image }),
            () => null,
          ),
        ),
      );
      return previews.filter((preview) => preview !== null);
    },
    'browse:choose': async (args) => {
      expectArgCount(args, 1);
      if (platform.mode !== 'web')
        throw new Unavailable('the folder browser is for web mode; use the dialog');
      return allowedFolders.add(expectFolderPath(expectString(args[0], 'folder')));
    },
    'browse:createFolder': async (args) => {
      expectArgCount(args, 2);
      if (platform.mode !== 'web')
        throw new Unavailable('the folder browser is for web mode; use the dialog');
      const parent = expectFolderPath(expectString(args[0], 'parent'));
      return createFolder(parent, expectFolderName(args[1]));
    },
    'image:thumbnail': async (args) => {
      expectArgCount(args, 2);
      const imagePath = await allowedFolders.check(expectString(args[0], 'path'));
      const maxSide = expectInteger(args[1], 'maxSide', 16, MAX_THUMBNAIL_SIDE);
      return services.engine.thumbnail(imagePath, maxSide);
    },
    'compare:crop': async (args) => {
      expectArgCount(args, 1);
      const request = expectRecord(args[0], 'crop request');
      const rect = expectRecord(request.rect, 'rect');
      const width = expectInteger(rect.width, 'rect.width', 1, MAX_CROP_SIDE);
      const height = expectInteger(rect.height, 'rect.height', 1, MAX_CROP_SIDE);
      return services.engine.crop({
        inputPath: await allowedFolders.check(expectString(request.inputPath, 'inputPath')),
        rect: {
          x: expectInteger(rect.x, 'rect.x', 0, MAX_INPUT_SIDE - width),
          y: expectInteger(rect.y, 'rect.y', 0, MAX_INPUT_SIDE - height),
          width,
          height,
        },
        scale: expectNumber(request.scale, 'scale', 1, 4),
        quality: expectOneOf(request.quality, 'quality', QUALITY_PRESETS),
        ...(request.model === undefined
          ? {}
          : { model: expectPattern(request.model, 'model', MODEL_NAME, 'a model card name') }),
        ...(request.source === undefined
          ? {}
          : { source: expectOneOf(request.source, 'source', SOURCE_SETTINGS) }),
        ...(request.sharpening === undefined
          ? {}
          : { sharpening: expectSharpening(request.sharpening) }),
      });
    },
    'batch:photos': async (args) => {
      expectArgCount(args, 1);
      return services.batch.photos(await jobInputs(args[0]), MAX_PREVIEW_PHOTOS);
    },
    'batch:preflight': async (args) => {
      expectArgCount(args, 1);
      const inputs = await jobInputs(args[0]);
      return services.batch.preflight(inputs, await checkedSettings(inputs));
    },
    'batch:add': async (args) => {
      expectArgCount(args, 1, 2);
      const inputs = await jobInputs(args[0]);
      const choice = args[1] === undefined ? null : await modelChoice(args[1]);
      return services.batch.add(inputs, withChoice(await checkedSettings(inputs), choice));
    },
    'batch:rescan': async (args) => services.batch.rebuild(jobId(args)),
    'batch:useModel': async (args) => {
      expectArgCount(args, 2);
      const job = services.batch.job(expectString(args[0], 'job id', 200));
      const choice = await modelChoice(args[1]);
      return services.batch.rebuild(job.id, withChoice(job.settings, choice));
    },
    'compare:written': async (args) => {
      expectArgCount(args, 3);
      const job = services.batch.job(expectString(args[0], 'job id', 200));
      const fileId = expectInteger(args[1], 'photo number', 0, job.files.length);
      const rectangle = expectRecord(args[2], 'rect');
      const side = (field: 'x' | 'y' | 'width' | 'height', min: number): number =>
        expectInteger(rectangle[field], `rect.${field}`, min, MAX_INPUT_SIDE);
      return writtenCrop(job, fileId, {
        x: side('x', 0),
        y: side('y', 0),
        width: side('width', 1),
        height: side('height', 1),
      });
    },
    'batch:setOutput': async (args) => {
      expectArgCount(args, 2);
      const job = services.batch.job(expectString(args[0], 'job id', 200));
      const change = expectRecord(args[1], 'change');
      // The card has one number field: answer for it alone.
      if (typeof change.scale !== 'number' || !(change.scale >= 1 && change.scale <= 4))
        throw new InvalidArgument('Scale goes from 1 to 4');
      // The job's own snapshot with three fields changed, checked as settings:set checks a
      // whole form (the same sentences: "Scale goes from 1 to 4").
      let settings: ExportSettings;
      try {
        settings = parseExportSettings({
          ...cloneSettings(job.settings),
          target: { kind: 'scale', scale: change.scale },
          format: change.format,
          qualityPreset: change.qualityPreset,
        });
      } catch (error) {
        throw peopleSettingsError(error);
      }
      return services.batch.rebuild(job.id, settings);
    },
    'batch:list': async (args) => {
      expectArgCount(args, 0);
      return services.batch.snapshot();
    },
    'batch:pause': async (args) => {
      expectArgCount(args, 1, 2);
      const when = args[1] === undefined ? 'after-photo' : expectOneOf(args[1], 'when', PAUSE_WHEN);
      return services.batch.pause(jobId(args.slice(0, 1)), when);
    },
    'batch:resume': async (args) => services.batch.resume(jobId(args)),
    'batch:cancel': async (args) => services.batch.cancel(jobId(args)),
    'batch:retryFailed': async (args) => services.batch.retryFailed(jobId(args)),
    'batch:remove': async (args) => services.batch.remove(jobId(args)),
    'batch:report': async (args) => services.batch.report(jobId(args)),
    'batch:verify': async (args) => services.batch.verify(jobId(args)),
    'batch:rerun': async (args) => services.batch.rerun(jobId(args)),
    'shell:openFolder': async (args) => {
      const folder = services.batch.job(jobId(args)).outputFolder;
      if (!platform.openFolder) return { opened: false, path: folder };
      await platform.openFolder(folder);
      return { opened: true, path: folder };
    },
    'shell:showOutput': async (args) => {
      expectArgCount(args, 3);
      const job = services.batch.job(expectString(args[0], 'job id', 200));
      const fileId = expectInteger(args[1], 'photo number', 0, job.files.length);
      const action = expectOneOf(args[2], 'action', OUTPUT_ACTIONS);
      const { outputPath } = writtenOutput(job, fileId);
      await requirePlatform(platform.showOutput, 'showing a file on this computer')(
        outputPath,
        action,
      );
      return outputPath;
    },
    ...clusterHandlers(services.cluster, (what) => new Unavailable(`${what} is not offered here`)),
  };

  return {
    async handle(channel, args) {
      try {
        if (!isInvokeChannel(channel)) throw new InvalidArgument(`unknown channel ${channel}`);
        if (!Array.isArray(args)) throw new InvalidArgument('arguments must be a list');
        const value = await (table[channel] as ChannelHandler<InvokeChannel>)(args);
        return { ok: true, value };
      } catch (error) {
        // The developer's words (errno codes, raw text) go to the log; the answer carries
        // the sentence written for people.
        if ((error instanceof InvalidArgument || error instanceof UnreadableImage) && error.detail)
          console.warn(`${channel}: ${error.message} [${error.detail}]`);
        return { ok: false, error: toErrorAnswer(error) };
      }
    },
  };
}

/** Typed convenience for callers inside main (tests, the Electron shell). */
export async function invoke<C extends InvokeChannel>(
  handlers: RequestHandlers,
  channel: C,
  ...args: InvokeArgs<C>
): Promise<InvokeResult<C>> {
  const answer = await handlers.handle(channel, args);
  if (!answer.ok) throw new Error(`${answer.error.code}: ${answer.error.message}`);
  return answer.value as InvokeResult<C>;
}

/** Names of settings fields as the Settings screen labels them. */
const SETTINGS_FIELD_LABELS: Record<string, string> = {
  target: 'Size',
  format: 'File format',
  'encoding.jpegQuality': 'JPEG quality (1–100)',
  'encoding.webpQuality': 'WebP quality (1–100)',
  'encoding.avifQuality': 'AVIF quality (1–100)',
  'encoding.pngCompressionLevel': 'PNG compression (0–9)',
  'encoding.tiffCompression': 'TIFF compression',
  outputFolder: 'Output folder',
  namingTemplate: 'File name template',
  tileSize: 'Tile size (32–4096)',
};

/**
 * Settings main refused, in words: `Not saved: Scale goes from 1 to 4`, never the JSON of the
 * value (that stays in the log).
 */
function peopleSettingsError(error: unknown): unknown {
  if (!(error instanceof TypeError) || !error.message.startsWith('invalid export settings'))
    return error;
  const fields = [...error.message.matchAll(/(?:: |; )([A-Za-z.]+): /g)].map((match) => match[1]!);
  const words = [
    ...new Set(
      fields.map((field) =>
        field === 'target'
          ? 'Scale goes from 1 to 4; width and height from 1 to 65535 pixels'
          : `check ${SETTINGS_FIELD_LABELS[field] ?? field}`,
      ),
    ),
  ];
  return new InvalidArgument(`Not saved: ${words.join('; ') || 'a setting is not possible'}`, {
    detail: error.message,
  });
}

export function toErrorAnswer(error: unknown): ErrorAnswer {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof InvalidArgument) return { code: 'invalid-argument', message };
  if (error instanceof PathNotAllowed) return { code: 'forbidden', message };
  if (error instanceof Unavailable) return { code: 'unavailable', message };
  if (error instanceof UnreadableImage) return { code: 'unreadable', message };
  if (error instanceof Superseded) return { code: 'superseded', message };
  return { code: 'failed', message };
}

/** Compare's sharpening, as the export settings spell it. */
function expectSharpening(value: unknown): OutputSharpening {
  const sharpening = readOutputSharpening(value);
  if (!sharpening)
    throw new InvalidArgument(
      'sharpening must be { amount: none|low|standard|high, medium: screen|print }',
    );
  return sharpening;
}

/** The most photos one selection may star or exclude. */
const MAX_SELECTED_PHOTOS = 10_000;

/** "Choose the photos": starred and excluded photos (absolute paths) and "only starred". */
function photoSelection(value: unknown): PhotoSelection {
  const selection = expectRecord(value, 'inputs.selection');
  const paths = (field: 'starred' | 'excluded'): string[] =>
    expectList(
      selection[field],
      `inputs.selection.${field}`,
      MAX_SELECTED_PHOTOS,
      (element, what) => {
        const photo = expectString(element, what);
        if (!path.isAbsolute(photo)) throw new InvalidArgument(`${what} must be an absolute path`);
        return path.resolve(photo);
      },
    );
  return {
    starred: paths('starred'),
    excluded: paths('excluded'),
    onlyStarred: expectBoolean(selection.onlyStarred, 'inputs.selection.onlyStarred'),
  };
}
