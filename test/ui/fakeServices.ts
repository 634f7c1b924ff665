/**
 * Services that record what the handlers pass them: the unit tests check validation, which
 * happens before any service is called. The real services run in the e2e tests.
 */
import {
  DEFAULT_EXPORT_SETTINGS,
  cloneSettings,
  type ExportSettings,
} from '../../src/shared/exportSettings.ts';
import type { CropRequest } from '../../src/shared/ipc.ts';
import type { Job, JobInputs } from '../../src/shared/jobs.ts';
import type { AppServices, ServiceEvent } from '../../src/main/api/services.ts';
import { UnreadableImage } from '../../src/main/api/validate.ts';

export interface RecordedCalls {
  add: JobInputs[];
  photos: JobInputs[];
  preflight: JobInputs[];
  crop: CropRequest[];
  thumbnail: [string, number][];
  saved: unknown[];
  addSettings: ExportSettings[];
  rebuild: { jobId: string; settings: ExportSettings | null }[];
}

export function fakeServices(): {
  services: AppServices;
  calls: RecordedCalls;
  emit: (event: ServiceEvent) => void;
} {
  const calls: RecordedCalls = {
    add: [],
    photos: [],
    preflight: [],
    crop: [],
    thumbnail: [],
    saved: [],
    addSettings: [],
    rebuild: [],
  };
  const listeners = new Set<(event: ServiceEvent) => void>();
  let settings: ExportSettings = cloneSettings(DEFAULT_EXPORT_SETTINGS);
  const job = (inputs: JobInputs): Job => ({
    id: 'job-1',
    createdAt: '2026-01-31T00:00:00.000Z',
    inputs,
    settings,
    outputFolder: '/tmp/out',
    state: 'queued',
    files: [],
    summary: null,
  });
  const image = {
    mime: 'image/png' as const,
    bytes: new Uint8Array([1, 2, 3]),
    width: 1,
    height: 1,
  };
  const services: AppServices = {
    version: '9.9.9',
    batch: {
      async photos(inputs) {
        calls.photos.push(inputs);
        return [];
      },
      async preflight(inputs) {
        calls.preflight.push(inputs);
        return {
          filesFound: 0,
          upToDate: 0,
          problems: [],
          inputMegapixels: 0,
          outputMegapixels: 0,
          estimatedOutputBytes: 0,
          estimatedMs: 0,
          throughputBasis: 'assumed',
          speedBasis: 'cmsc-lite (fast, fp32): assumed 2 GFLOP/s on CPU (nothing measured yet)',
          megapixelsPerSecond: 1,
          warnings: [],
          outputFolder: '/tmp/out',
          freeBytes: 1,
          fitsOnDisk: true,
          refusal: null,
        };
      },
      async add(inputs, addSettings) {
        calls.add.push(inputs);
        calls.addSettings.push(addSettings);
        return job(inputs);
      },
      async rebuild(jobId, settings) {
        calls.rebuild.push({ jobId, settings: settings ?? null });
        return {
          ...job({ paths: [], recursive: false, includeExtensions: [], excludeExtensions: [] }),
          id: 'job-2',
        };
      },
      snapshot: () => ({ jobs: [], progress: {} }),
      pause: async () => undefined,
      resume: async () => undefined,
      cancel: async () => undefined,
      retryFailed: async () => undefined,
      remove: async () => undefined,
      report: async () => ({ path: '/tmp/out/report.csv', text: 'file,state\n' }),
      verify: async () => ({
        folder: '/tmp/out',
        checked: 0,
        intact: 0,
        findings: [],
        warnings: [],
        hasManifest: false,
      }),
      rerun: async () => {
        throw new Error('not in the fake');
      },
      job(jobId) {
        if (jobId !== 'job-1') throw new Error(`no job ${jobId}`);
        return job({ paths: [], recursive: false, includeExtensions: [], excludeExtensions: [] });
      },
    },
    engine: {
      devices: async () => ({ available: ['cpu'], active: null }),
      models: async () => [
        {
          name: 'cmsc-tiny',
          isDefault: true,
          displayName: 'CMSC tiny',
          description: 'test',
          parameters: 1,
          presets: [],
        },
      ],
      async crop(request) {
        calls.crop.push(request);
        return {
          input: image,
          bicubic: image,
          upscaled: image,
          quality: request.quality,
          model: request.model ?? 'cmsc-tiny',
          stages: 1,
          precision: 'fp32',
          source: {
            kind: request.source === 'photo' ? 'photo' : 'clean',
            setting: request.source ?? 'auto',
            reason: request.source === 'photo' ? 'set to Photo' : 'PNG, noise σ ≈ 0.5',
            jpegQuality: null,
            noiseSigma: 0.5,
          },
          provider: 'cpu',
          elapsedMs: 5,
          cached: false,
        };
      },
      async thumbnail(path, maxSide) {
        calls.thumbnail.push([path, maxSide]);
        if (path.endsWith('broken.jpg')) throw new UnreadableImage(`no picture of ${path}`);
        return { image, sourceWidth: 10, sourceHeight: 10 };
      },
    },
    settings: {
      load: async () => cloneSettings(settings),
      async save(candidate) {
        calls.saved.push(candidate);
        settings = candidate as ExportSettings;
        return cloneSettings(settings);
      },
      reset: async () => (settings = cloneSettings(DEFAULT_EXPORT_SETTINGS)),
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: async () => undefined,
  };
  return { services, calls, emit: (event) => listeners.forEach((listener) => listener(event)) };
}
