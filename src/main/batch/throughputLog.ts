/**
 * Measured throughput of this device (output megapixels per second), kept in the state folder
 * so the pre-flight of the next job estimates from real numbers. Keyed by what changes the
 * speed: provider, model, quality preset and self-ensemble.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionProvider, QualityPreset } from '../../shared/upscaleOptions.ts';
import { writeFileAtomic } from './atomicWrite.ts';

const THROUGHPUT_FILE_NAME = 'throughput.json';
/** Weight of the newest image in the running average: recent images count, one outlier does not rule. */
const NEWEST_WEIGHT = 0.3;

export interface ThroughputKey {
  provider: ExecutionProvider;
  model: string;
  quality: QualityPreset;
  selfEnsemble: boolean;
}

type ThroughputTable = Record<string, number>;

export class ThroughputLog {
  private table: ThroughputTable = {};

  constructor(private readonly stateDir: string) {}

  async load(): Promise<void> {
    try {
      const parsed: unknown = JSON.parse(
        await readFile(path.join(this.stateDir, THROUGHPUT_FILE_NAME), 'utf8'),
      );
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
        for (const [key, value] of Object.entries(parsed)) {
          if (typeof value === 'number' && Number.isFinite(value) && value > 0)
            this.table[key] = value;
        }
      }
    } catch {
      // No measurement yet (or an unreadable file): estimates fall back to the assumed speed.
    }
  }

  /** Megapixels per second for `key`, or null when nothing was measured. */
  get(key: ThroughputKey): number | null {
    return this.table[keyString(key)] ?? null;
  }

  /** Any measurement for this model setup, on whichever provider measured it last. */
  find(
    match: Omit<ThroughputKey, 'provider'>,
    providers: readonly ExecutionProvider[],
  ): number | null {
    for (const provider of providers) {
      const value = this.get({ ...match, provider });
      if (value !== null) return value;
    }
    return null;
  }

  async record(key: ThroughputKey, outputMegapixels: number, elapsedMs: number): Promise<number> {
    const measured = (outputMegapixels / Math.max(elapsedMs, 1)) * 1000;
    const previous = this.get(key);
    const value =
      previous === null ? measured : previous * (1 - NEWEST_WEIGHT) + measured * NEWEST_WEIGHT;
    this.table[keyString(key)] = value;
    await writeFileAtomic(
      path.join(this.stateDir, THROUGHPUT_FILE_NAME),
      `${JSON.stringify(this.table, null, 1)}\n`,
    );
    return value;
  }
}

function keyString(key: ThroughputKey): string {
  return `${key.provider}/${key.model}/${key.quality}/${key.selfEnsemble ? 'ensemble' : 'single'}`;
}
