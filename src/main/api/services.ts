/**
 * What the request handlers need from the main-process services. The batch queue and the
 * engine keep their own richer APIs; `appServices.ts` adapts them to these shapes, which are the
 * views the UI renders (src/shared/ipc.ts).
 */
import type { ExportSettings } from '../../shared/exportSettings.ts';
import type {
  BatchSnapshot,
  CropRequest,
  CropResult,
  DeviceInfo,
  EventChannels,
  InputPhoto,
  ReportView,
  Thumbnail,
} from '../../shared/ipc.ts';
import type {
  Job,
  JobInputs,
  OutputsVerification,
  PauseWhen,
  PreflightEstimate,
} from '../../shared/jobs.ts';
import type { ModelSummary } from '../../shared/upscaleOptions.ts';
import type { ClusterService } from './clusterService.ts';

export interface BatchService {
  /** The photos a job of `inputs` would take (at most `limit`), before any job exists. */
  photos(inputs: JobInputs, limit: number): Promise<InputPhoto[]>;
  preflight(inputs: JobInputs, settings: ExportSettings): Promise<PreflightEstimate>;
  add(inputs: JobInputs, settings: ExportSettings): Promise<Job>;
  /**
   * Scans a job that has not started again and queues it in its place, with `settings` when
   * given (else its own snapshot). Answers the new job; throws when the job has started or its
   * inputs hold no photos now (the job then stays as it was).
   */
  rebuild(jobId: string, settings?: ExportSettings): Promise<Job>;
  snapshot(): BatchSnapshot;
  /** `after-photo`: the running photo finishes and is kept; `now`: it is abandoned at once. */
  pause(jobId: string, when: PauseWhen): Promise<void>;
  resume(jobId: string): Promise<void>;
  cancel(jobId: string): Promise<void>;
  retryFailed(jobId: string): Promise<void>;
  remove(jobId: string): Promise<void>;
  report(jobId: string): Promise<ReportView>;
  /** The job's output folder checked against its manifest. */
  verify(jobId: string): Promise<OutputsVerification>;
  /** The job queued again as a new job with its own inputs and settings (a build: only what is out of date runs). */
  rerun(jobId: string): Promise<Job>;
  /** Throws for an unknown id. */
  job(jobId: string): Job;
}

export interface EngineService {
  devices(): Promise<DeviceInfo>;
  models(): Promise<ModelSummary[]>;
  crop(request: CropRequest): Promise<CropResult>;
  thumbnail(path: string, maxSide: number): Promise<Thumbnail>;
}

export interface SettingsStore {
  load(): Promise<ExportSettings>;
  /** Validates (throws on bad input), persists and answers what was stored. */
  save(candidate: unknown): Promise<ExportSettings>;
  reset(): Promise<ExportSettings>;
}

/** Things only one transport can do; absent members answer `unavailable`. */
export interface PlatformActions {
  mode: 'desktop' | 'web';
  pickInputs?: (kind: 'folders' | 'files') => Promise<string[]>;
  pickOutputFolder?: () => Promise<string | null>;
  openFolder?: (folder: string) => Promise<void>;
  /** Shows a written file in the file manager, or opens it in its default app. */
  showOutput?: (file: string, action: 'reveal' | 'open') => Promise<void>;
}

/** What the services push; the desktop shell sends the rest (`app:openPaths`) itself. */
type ServiceEventChannel = Exclude<keyof EventChannels, 'app:openPaths'>;

export type ServiceEvent = {
  [C in ServiceEventChannel]: { channel: C; payload: EventChannels[C] };
}[ServiceEventChannel];

export interface AppServices {
  version: string;
  batch: BatchService;
  /** "Run on" and the Workers view; absent where no cluster queue is offered. */
  cluster?: ClusterService;
  engine: EngineService;
  settings: SettingsStore;
  /** Subscribes to everything main pushes to the UI; returns the unsubscribe function. */
  subscribe(listener: (event: ServiceEvent) => void): () => void;
  close(): Promise<void>;
}
