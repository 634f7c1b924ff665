/**
 * PNG outputs carry the input's resolution tag, or none: never the encoder's default of
 * 1000 px/m (which Photoshop shows as 25.4 ppi).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import type { BatchQueue } from '../../src/main/batch/batchQueue.ts';
import { setPngDensity } from '../../src/main/batch/metadataTransfer.ts';
import { jobInputs, rawImage, testSettings, writeImage, useFixtureQueue } from './batchFixtures.ts';

let root: string;
let queue: BatchQueue;

useFixtureQueue('density', {}, (freshRoot, freshQueue) => {
  root = freshRoot;
  queue = freshQueue;
});

/** The pHYs chunk's pixels per unit (x, y) and unit, or null when the PNG has none. */
async function physOf(file: string): Promise<[number, number, number] | null> {
  const png = await readFile(file);
  for (let at = 8; at + 12 <= png.length;) {
    const length = png.readUInt32BE(at);
    if (png.toString('latin1', at + 4, at + 8) === 'pHYs')
      return [png.readUInt32BE(at + 8), png.readUInt32BE(at + 12), png[at + 16]!];
    at += 12 + length;
  }
  return null;
}

async function upscaleOne(input: string, metadata: 'keep' | 'strip'): Promise<string> {
  const job = await queue.addJob({
    inputs: jobInputs([input]),
    settings: testSettings({ format: 'png', metadata, outputFolder: path.join(root, 'out') }),
  });
  await queue.whenIdle();
  const file = queue.job(job.id)!.files[0]!;
  expect(file.state).toBe('done');
  return file.outputPath!;
}

it('a PNG without a resolution tag gives a PNG without one', async () => {
  const input = await writeImage(path.join(root, 'in', 'plain.png'), rawImage(24, 16, 3).png());
  // sharp tags every PNG it writes; this input must have no tag at all.
  await setPngDensity(input, null);
  expect(await physOf(input)).toBe(null);
  expect(await physOf(await upscaleOne(input, 'keep'))).toBe(null);
});

it("a 300 ppi JPEG gives a PNG tagged 300 ppi (11811 px/m), not the encoder's 1000 px/m", async () => {
  const input = await writeImage(
    path.join(root, 'in', 'print.jpg'),
    rawImage(24, 16, 3).withMetadata({ density: 300 }).jpeg(),
  );
  expect((await sharp(input).metadata()).density).toBe(300);
  const output = await upscaleOne(input, 'keep');
  expect(await physOf(output)).toEqual([11811, 11811, 1]);
  expect((await sharp(output).metadata()).density).toBe(300);
});

it('stripping metadata leaves no resolution tag', async () => {
  const input = await writeImage(
    path.join(root, 'in', 'print.jpg'),
    rawImage(24, 16, 3).withMetadata({ density: 300 }).jpeg(),
  );
  expect(await physOf(await upscaleOne(input, 'strip'))).toBe(null);
});
