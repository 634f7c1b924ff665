/**
 * The batch pre-flight says, before any work, when the chosen format cannot hold a photo's
 * output (WebP stops at 16383 px a side) and when a WebP or AVIF output is big enough that its
 * encoder's whole frame needs memory beyond the upscaler's budget (issue 22, "Limits that
 * follow the disk, not the memory"). The engine's refusal for the same photo is
 * streamedOutput.test.ts; the encoders' bytes per pixel are measured in imageEncode.ts.
 */
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { BatchQueue } from '../../src/main/batch/batchQueue.ts';
import { wholeFrameEncoderWarning } from '../../src/main/batch/encoderMemory.ts';
import { wholeFrameEncoderBytes } from '../../src/main/engine/index.ts';
import {
  jobInputs,
  rawImage,
  testSettings,
  useFixtureQueue,
  writeImage,
} from '../batch/batchFixtures.ts';

let root: string;
let queue: BatchQueue;

useFixtureQueue('format-preflight', { autoStart: false }, (freshRoot, freshQueue) => {
  root = freshRoot;
  queue = freshQueue;
});

const header = (width: number, height: number) => ({ width, height });

describe('format limits in the pre-flight', () => {
  it('refuses a WebP output wider than 16383 px before any work, naming the formats that can', async () => {
    const folder = path.join(root, 'in');
    // 8200 px wide at x2: 16400 px, past WebP's 16383.
    await writeImage(path.join(folder, 'panorama.png'), rawImage(8200, 8, 3).png());
    await writeImage(path.join(folder, 'small.png'), rawImage(20, 10, 3).png());
    const settings = testSettings({ format: 'webp' });
    const estimate = await queue.preflight({ inputs: jobInputs([folder]), settings });
    expect(estimate.problems).toEqual([
      {
        path: path.join(folder, 'panorama.png'),
        reason: {
          code: 'too-large',
          message:
            'the output would be 16400x16 px and WebP holds at most 16383 px a side; choose JPEG (up to 65500 px a side), PNG or TIFF, or a smaller size',
        },
      },
    ]);
    // The same photo as a JPEG is no problem.
    const asJpeg = await queue.preflight({
      inputs: jobInputs([folder]),
      settings: testSettings({ format: 'jpeg' }),
    });
    expect(asJpeg.problems).toEqual([]);
  });
});

describe('whole-frame encoders in the pre-flight', () => {
  it('WebP and AVIF hold the whole frame, JPEG, PNG and TIFF stream', () => {
    expect(wholeFrameEncoderBytes('webp', 1e6)).toBe(12e6);
    expect(wholeFrameEncoderBytes('avif', 1e6)).toBe(44e6);
    for (const format of ['jpeg', 'png', 'tiff'] as const)
      expect(wholeFrameEncoderBytes(format, 1e9)).toBe(0);
  });

  it('warns when the largest WebP or AVIF frame needs more than half the memory budget', () => {
    // A 12 MP camera photo at x2: 48 MP out, about 0.58 GB for WebP's frame.
    const files = [
      { inputPath: '/photos/small.jpg', header: header(1224, 816) },
      { inputPath: '/photos/camera.jpg', header: header(4240, 2832) },
    ];
    const target = { kind: 'scale' as const, scale: 2 };
    expect(wholeFrameEncoderWarning(files, { format: 'webp', target })).toEqual({
      code: 'whole-frame-encoder',
      message:
        "WebP keeps the whole picture in memory while it encodes: camera.jpg (48 MP out) needs about 0.6 GB for that, on top of the upscaler's 1.1 GB. JPEG, PNG and TIFF are written row by row and need none of it.",
    });
    expect(wholeFrameEncoderWarning(files, { format: 'same', target })).toBeNull();
    expect(wholeFrameEncoderWarning(files, { format: 'png', target })).toBeNull();
    // The 1 MP photo alone at x2 is 4 MP out: 48 MB for WebP, not worth a word; AVIF's 176 MB neither.
    expect(wholeFrameEncoderWarning(files.slice(0, 1), { format: 'webp', target })).toBeNull();
    expect(wholeFrameEncoderWarning(files.slice(0, 1), { format: 'avif', target })).toBeNull();
  });

  it('shows in the job pre-flight for a big WebP output', async () => {
    const folder = path.join(root, 'big');
    await writeImage(
      path.join(folder, 'camera.png'),
      sharp({ create: { width: 4240, height: 2832, channels: 3, background: '#456' } }).png(),
    );
    const estimate = await queue.preflight({
      inputs: jobInputs([folder]),
      settings: testSettings({ format: 'webp' }),
    });
    expect(estimate.warnings.map((warning) => warning.code)).toContain('whole-frame-encoder');
    const asJpeg = await queue.preflight({
      inputs: jobInputs([folder]),
      settings: testSettings({ format: 'jpeg' }),
    });
    expect(asJpeg.warnings.map((warning) => warning.code)).not.toContain('whole-frame-encoder');
  });
});
