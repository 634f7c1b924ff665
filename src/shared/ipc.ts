/**
 * The one channel map between the UI and the main-process services. Preload (Electron IPC),
 * main (ipcMain handlers) and the web server (HTTP + server-sent events) are all typed from it,
 * so a channel cannot exist on one side only. Channels are named `domain:verb`.
 *
 * Argument lists are named tuples: they document themselves in editor hints on both sides.
 * Every argument is validated again in main (src/main/api/handlers.ts); these types are a
 * promise the renderer makes, not a guarantee main relies on.
 */
import type { ExportSettings } from './exportSettings.ts';
import type { OutputSharpening } from './outputSharpening.ts';
import type {
  BatchEvent,
  Job,
  JobInputs,
  JobProgress,
  OutputsVerification,
  PauseWhen,
  PreflightEstimate,
} from './jobs.ts';
import type {
  ExecutionProvider,
  ExportFormat,
  InferencePrecision,
  ModelSummary,
  ProviderReport,
  QualityPreset,
  SourceDecision,
  SourceSetting,
} from './upscaleOptions.ts';

/** An encoded picture for an <img>: PNG or JPEG bytes plus the pixel size they decode to. */
export interface EncodedImage {
  mime: 'image/png' | 'image/jpeg';
  bytes: Uint8Array;
  width: number;
  height: number;
}

export interface Thumbnail {
  image: EncodedImage;
  /** The photo's own size, upright (EXIF orientation applied, as the engine sees it). */
  sourceWidth: number;
  sourceHeight: number;
}

export interface AppInfo {
  version: string;
  /** `desktop`: Electron with native dialogs; `web`: browser with the server-side folder browser. */
  mode: 'desktop' | 'web';
  platform: string;
}

export interface DeviceInfo {
  /** Providers this build of ONNX Runtime can try on this machine, best first. */
  available: ExecutionProvider[];
  /** What `auto` picked when the engine last opened a model; null before the first use. */
  active: ProviderReport | null;
}

export interface FolderEntry {
  name: string;
  path: string;
}

export interface FolderPreview {
  name: string;
  /** The photo itself, so the folder browser can open it in Compare. */
  path: string;
  image: EncodedImage;
}

/** A photo a job of some inputs would take, before any job exists (Compare's preview list). */
export interface InputPhoto {
  inputPath: string;
  /** Below the picked folder, as the job would mirror it. */
  relativePath: string;
  /** The picked folder or file it was found through. */
  inputRoot: string;
}

export interface FolderListing {
  path: string;
  /** null at a file-system root. */
  parent: string | null;
  folders: FolderEntry[];
  /** How many images sit directly in this folder (shown so people pick the right one). */
  imageCount: number;
  /** Starting points: home folder, drives / mount roots. */
  places: FolderEntry[];
}

/** A rectangle in input-image pixels. */
export interface PixelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface CropRequest {
  inputPath: string;
  rect: PixelRect;
  /** Output pixels per input pixel for the crop (the job's scale). */
  scale: number;
  /** `fast` runs stage 1 only: the quick preview shown first on slow devices. */
  quality: QualityPreset;
  /** Model card name; absent = the model the settings choose (or the default on this hardware). */
  model?: string;
  /** Clean or photo variant (Compare's flip); absent = the Source setting. */
  source?: SourceSetting;
  /** Output sharpening applied to the upscaled crop, as the export will; absent = the setting's. */
  sharpening?: OutputSharpening;
}

export interface CropResult {
  /** The input crop at its own size: the "nearest neighbour" view is this, scaled pixelated. */
  input: EncodedImage;
  /** The input crop resized with bicubic to the output size (the model's own starting point). */
  bicubic: EncodedImage;
  /** The upscaled crop. */
  upscaled: EncodedImage;
  quality: QualityPreset;
  /** The model card that produced `upscaled` (a photo variant when the file was judged a photo). */
  model: string;
  stages: number;
  /** Whether the model's int8 or float file produced `upscaled`. */
  precision: InferencePrecision;
  /** Why the clean or the photo variant ran. */
  source: SourceDecision;
  provider: ExecutionProvider;
  /** Time the upscale took in main (context read, inference, encode). */
  elapsedMs: number;
  /** True when this answer came from the crop cache. */
  cached: boolean;
}

/** Everything the Batch screen shows at start-up; later changes arrive as `batch:event`. */
export interface BatchSnapshot {
  /** In queue order. */
  jobs: Job[];
  /** Live progress of jobs that have started, by job id. */
  progress: Record<string, JobProgress>;
}

/**
 * A model and preset chosen in Compare for a job ("Use these settings for the batch"): the
 * model by name, so a photo variant picked there runs as picked (source `photo`) and a clean
 * model stays clean (source `clean`) instead of being swapped per photo.
 */
export interface ModelChoice {
  model: string;
  qualityPreset: QualityPreset;
  source: SourceSetting;
}

/** Scale, format and quality of a job that has not started, as its card edits them. */
export interface JobOutputChange {
  scale: number;
  format: ExportFormat;
  qualityPreset: QualityPreset;
}

export interface ReportView {
  path: string;
  text: string;
}

/**
 * Where new jobs run: on this computer, or on the cluster queue (BullMQ on Redis) whose workers
 * may be on other computers. A setting of the machine, not of a job's outputs: it is kept beside
 * the export settings, never in a job's snapshot (the address may hold a password).
 */
export type RunOn = { kind: 'local' } | { kind: 'queue'; address: string };

export interface RunOnView {
  runOn: RunOn;
  /** The queue's address as people may see it (password as `***`); null on this computer. */
  display: string | null;
}

/** What "Test connection" found: reachable, its Redis version and workers, or why not. */
export interface QueueCheck {
  ok: boolean;
  /** One plain sentence either way. */
  message: string;
  redisVersion: string | null;
  workersConnected: number | null;
}

/** One worker as its heartbeat says (src/main/cluster/clusterStore.ts). */
export interface WorkerView {
  id: string;
  host: string;
  /** The provider its last photo ran on, else the device it was started with. */
  device: string;
  /** `working`: on a photo now; `idle`: connected, nothing to do; `lost`: stopped beating. */
  state: 'working' | 'idle' | 'lost';
  /** The photo it is on now (the first, when it runs several at once). */
  currentFile: string | null;
  filesPerMinute: number;
  done: number;
  failed: number;
  /** Time since its last heartbeat. */
  beatAgeMs: number;
  jobId: string | null;
}

export interface WorkersView {
  /** The queue's address without its password. */
  queue: string;
  /** Workers working or idle. */
  connected: number;
  workers: WorkerView[];
}

/** Request/response channels: `invoke(channel, ...args)` resolves with `result`. */
export interface InvokeChannels {
  'app:info': { args: []; result: AppInfo };
  'engine:devices': { args: []; result: DeviceInfo };
  'engine:models': { args: []; result: ModelSummary[] };
  'settings:get': { args: []; result: ExportSettings };
  'settings:set': { args: [settings: ExportSettings]; result: ExportSettings };
  'settings:reset': { args: []; result: ExportSettings };
  /** Desktop only: native pickers; what the user picks becomes an allowed folder. */
  'dialog:pickInputs': { args: [kind: 'folders' | 'files']; result: string[] };
  'dialog:pickOutputFolder': { args: []; result: string | null };
  /** Desktop only: files and folders dropped on the window (paths resolved by the preload). */
  'paths:dropped': { args: [paths: string[]]; result: string[] };
  /** Web only: the server-side folder browser; `null` lists the home folder. */
  'browse:list': { args: [folder: string | null]; result: FolderListing };
  /**
   * Small pictures of the first photos in a folder, so people see what they pick: any folder in
   * web mode's folder browser, added folders only on the desktop.
   */
  'browse:previews': { args: [folder: string]; result: FolderPreview[] };
  /** Web only: the user chose this folder in the browser; it becomes an allowed folder. */
  'browse:choose': { args: [folder: string]; result: string };
  /** Web only: makes a new folder `name` inside `parent` and answers its listing. */
  'browse:createFolder': { args: [parent: string, name: string]; result: FolderListing };
  'image:thumbnail': { args: [path: string, maxSide: number]; result: Thumbnail };
  'compare:crop': { args: [request: CropRequest]; result: CropResult };
  /**
   * A finished photo's crop as it was written: the same region of its output file (with the
   * input crop and bicubic beside it), instead of a fresh upscale.
   */
  'compare:written': {
    args: [jobId: string, fileId: number, rect: PixelRect];
    result: CropResult;
  };
  /** The photos a job of these (allowed) inputs would take, for previews before it starts. */
  'batch:photos': { args: [inputs: JobInputs]; result: InputPhoto[] };
  /** What a job of these inputs would do with the current settings (files, bytes, disk, time). */
  'batch:preflight': { args: [inputs: JobInputs]; result: PreflightEstimate };
  /**
   * Queues a job with a snapshot of the current settings (with the model and preset chosen in
   * Compare, when given); it starts when the queue reaches it.
   */
  'batch:add': { args: [inputs: JobInputs, choice?: ModelChoice]; result: Job };
  /**
   * Scans a job that has not started again (photos added or removed since), keeping its
   * settings and its place in the queue. Answers the job as it is now (a new id).
   */
  'batch:rescan': { args: [jobId: string]; result: Job };
  /** Writes a model and preset into a job that has not started (a new id, same place). */
  'batch:useModel': { args: [jobId: string, choice: ModelChoice]; result: Job };
  /** Writes scale, format and quality into a job that has not started (a new id, same place). */
  'batch:setOutput': { args: [jobId: string, change: JobOutputChange]; result: Job };
  'batch:list': { args: []; result: BatchSnapshot };
  /**
   * `after-photo` (default): the running photo finishes and is kept; `now`: it stops at once,
   * its finished part kept for Resume.
   */
  'batch:pause': { args: [jobId: string, when?: PauseWhen]; result: void };
  'batch:resume': { args: [jobId: string]; result: void };
  'batch:cancel': { args: [jobId: string]; result: void };
  'batch:retryFailed': { args: [jobId: string]; result: void };
  'batch:remove': { args: [jobId: string]; result: void };
  'batch:report': { args: [jobId: string]; result: ReportView };
  /** Checks a job's output folder against its manifest (missing, damaged, stale, orphaned). */
  'batch:verify': { args: [jobId: string]; result: OutputsVerification };
  /**
   * Queues the job again with its own inputs and settings: up-to-date outputs are skipped, so
   * this makes exactly what is missing, damaged or stale (and any photo added since).
   */
  'batch:rerun': { args: [jobId: string]; result: Job };
  /** Desktop: opens the folder in the file manager. Web: answers the path to show. */
  'shell:openFolder': { args: [jobId: string]; result: { opened: boolean; path: string } };
  /**
   * Desktop only: a written output of a job, shown selected in the file manager (`reveal`) or
   * opened in the system's viewer (`open`). Answers the file's path.
   */
  'shell:showOutput': {
    args: [jobId: string, fileId: number, action: 'reveal' | 'open'];
    result: string;
  };
  /** Where new jobs run (this computer or the cluster queue). */
  'cluster:runOn': { args: []; result: RunOnView };
  /** Validates (a redis:// or rediss:// address) and stores where new jobs run. */
  'cluster:setRunOn': { args: [runOn: RunOn]; result: RunOnView };
  /** Connects to the queue at `address` once: reachable, password, Redis version, workers. */
  'cluster:test': { args: [address: string]; result: QueueCheck };
  /** The workers of the queue new jobs run on (fails in plain words when it is unreachable). */
  'cluster:workers': { args: []; result: WorkersView };
}

export type InvokeChannel = keyof InvokeChannels;
export type InvokeArgs<C extends InvokeChannel> = InvokeChannels[C]['args'];
export type InvokeResult<C extends InvokeChannel> = InvokeChannels[C]['result'];

/** Channels main pushes to the UI (IPC `webContents.send`, or SSE events of the same name). */
export interface EventChannels {
  /** The batch queue's own events, unchanged (progress throttled in main). */
  'batch:event': BatchEvent;
  /**
   * Desktop: photos and folders the system handed to the app ("Open with", a second launch,
   * macOS open-file), already allowed; the page adds them as a new job's inputs.
   */
  'app:openPaths': { paths: string[] };
}

export type EventChannel = keyof EventChannels;

export const INVOKE_CHANNELS = [
  'app:info',
  'engine:devices',
  'engine:models',
  'settings:get',
  'settings:set',
  'settings:reset',
  'dialog:pickInputs',
  'dialog:pickOutputFolder',
  'paths:dropped',
  'browse:list',
  'browse:previews',
  'browse:choose',
  'browse:createFolder',
  'image:thumbnail',
  'compare:crop',
  'compare:written',
  'batch:photos',
  'batch:preflight',
  'batch:add',
  'batch:rescan',
  'batch:useModel',
  'batch:setOutput',
  'batch:list',
  'batch:pause',
  'batch:resume',
  'batch:cancel',
  'batch:retryFailed',
  'batch:remove',
  'batch:report',
  'batch:verify',
  'batch:rerun',
  'shell:openFolder',
  'shell:showOutput',
  'cluster:runOn',
  'cluster:setRunOn',
  'cluster:test',
  'cluster:workers',
] as const satisfies readonly InvokeChannel[];

export const EVENT_CHANNELS = [
  'batch:event',
  'app:openPaths',
] as const satisfies readonly EventChannel[];

/** Compile-time check that INVOKE_CHANNELS lists every channel of the map. */
type MissingChannels = Exclude<InvokeChannel, (typeof INVOKE_CHANNELS)[number]>;
export const INVOKE_CHANNELS_COMPLETE: MissingChannels extends never ? true : false = true;

export function isInvokeChannel(name: string): name is InvokeChannel {
  return (INVOKE_CHANNELS as readonly string[]).includes(name);
}

/** What a transport answers when a handler refuses or fails: never a stack trace. */
export interface ErrorAnswer {
  /**
   * `invalid-argument` (bad input), `forbidden` (path outside allowed folders), `unreadable`
   * (the file is not an image that can be decoded), `unavailable` (not in this mode),
   * `superseded` (a newer Compare crop replaced this one before it finished), `failed`.
   */
  code: 'invalid-argument' | 'forbidden' | 'unreadable' | 'unavailable' | 'superseded' | 'failed';
  message: string;
}

/** What every transport answers for one invoke: the value, or why not. */
export type InvokeAnswer<C extends InvokeChannel> =
  { ok: true; value: InvokeResult<C> } | { ok: false; error: ErrorAnswer };

/**
 * The preload bridge (`window.cmscBridge`): one function per channel, an event subscription,
 * and the path of a dropped file (Electron hides it from web pages; the preload may ask).
 */
export interface BridgeApi {
  invoke: { [C in InvokeChannel]: (...args: InvokeArgs<C>) => Promise<InvokeAnswer<C>> };
  on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void): () => void;
  pathForFile(file: File): string;
}

export const BRIDGE_GLOBAL = 'cmscBridge';
