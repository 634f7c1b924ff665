import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { psnrY } from '../../src/main/engine/metrics.ts';
import { bicubicBaseline, degrade, loadHr, PYTHON_BICUBIC } from '../../bench/srProtocol.ts';

const set5 = path.resolve(import.meta.dirname, '../../../shared/datasets/Set5');
const hasSet5 = existsSync(set5);

describe('the TypeScript bicubic matches the training package on Set5', () => {
  it.skipIf(!hasSet5)(
    `bicubic PSNR within 0.01 dB of training.evaluate at x2, x3, x4 (needs ${set5})`,
    async () => {
      const files = (await readdir(set5)).filter((f) => f.endsWith('.png')).sort();
      expect(files).toHaveLength(5);
      const images = await Promise.all(files.map((f) => loadHr(path.join(set5, f))));
      for (const scale of [2, 3, 4]) {
        let sum = 0;
        for (const hr of images) {
          const { hrY, lr } = degrade(hr, scale);
          sum += psnrY(hrY, bicubicBaseline(lr, hrY), scale);
        }
        expect(Math.abs(sum / images.length - PYTHON_BICUBIC.Set5![scale]!)).toBeLessThan(0.01);
      }
    },
  );
});
