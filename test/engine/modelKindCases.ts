/**
 * One case per kind of model the fixtures hold (output-resolution; input-resolution x2 in fp32
 * and int8, resized to x2.5; x4 at x4 and resized to x3), with alpha, self-ensemble and a
 * preset: the streamed output and Compare's crops are checked against the whole-image path for
 * each (streamedOutput.test.ts, compareWindow.test.ts).
 */
import path from 'node:path';
import type { UpscaleOptions } from '../../src/shared/upscaleOptions.ts';
import { FIXTURE_MODELS_DIR } from '../helpers/testImages.ts';

export const FAST_DIR = path.resolve(import.meta.dirname, '../fixtures/models-fast');
export const FAST_X4_DIR = path.resolve(import.meta.dirname, '../fixtures/models-fast-x4');

export interface ModelKindCase {
  name: string;
  dir: string;
  model: string;
  scale: number;
  alpha?: boolean;
  tta?: boolean;
  precision?: 'auto' | 'fp32';
  quality?: UpscaleOptions['quality'];
}

export const MODEL_KIND_CASES: readonly ModelKindCase[] = [
  { name: 'output-resolution model x2', dir: FIXTURE_MODELS_DIR, model: 'cmsc-tiny', scale: 2 },
  { name: 'output-resolution model x2.5', dir: FIXTURE_MODELS_DIR, model: 'cmsc-tiny', scale: 2.5 },
  {
    name: 'output-resolution model x2, alpha',
    dir: FIXTURE_MODELS_DIR,
    model: 'cmsc-tiny',
    scale: 2,
    alpha: true,
  },
  {
    name: 'output-resolution model x2, self-ensemble, fast preset',
    dir: FIXTURE_MODELS_DIR,
    model: 'cmsc-tiny',
    scale: 2,
    tta: true,
    quality: 'fast',
  },
  {
    name: 'input-resolution model x2, fp32',
    dir: FAST_DIR,
    model: 'cmsc-tiny-fast',
    scale: 2,
    precision: 'fp32',
  },
  { name: 'input-resolution model x2, int8', dir: FAST_DIR, model: 'cmsc-tiny-fast', scale: 2 },
  {
    name: 'input-resolution model x2 resized up to x2.5, alpha',
    dir: FAST_DIR,
    model: 'cmsc-tiny-fast',
    scale: 2.5,
    alpha: true,
  },
  {
    name: 'input-resolution model x2, self-ensemble',
    dir: FAST_DIR,
    model: 'cmsc-tiny-fast',
    scale: 2,
    tta: true,
  },
  {
    name: 'input-resolution x4 model at x4',
    dir: FAST_X4_DIR,
    model: 'cmsc-tiny-fast-x4',
    scale: 4,
    precision: 'fp32',
  },
  {
    name: 'input-resolution x4 model resized down to x3',
    dir: FAST_X4_DIR,
    model: 'cmsc-tiny-fast-x4',
    scale: 3,
    precision: 'fp32',
  },
];
