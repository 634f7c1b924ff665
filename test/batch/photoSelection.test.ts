/**
 * "Choose the photos" (issue 23): excluded photos, and with "only starred" every photo not
 * starred, are left out of the scan, so they never run and are never counted; the toggles keep
 * a photo from being both starred and excluded.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { scanInputs } from '../../src/main/batch/inputScan.ts';
import {
  emptySelection,
  selectionSummary,
  toggleExclude,
  toggleStar,
} from '../../src/renderer/src/lib/photoSelection.ts';
import { jobInputs, makeTempDir, removeDir } from './batchFixtures.ts';

let root: string;
beforeEach(async () => {
  root = await makeTempDir('selection');
  for (const name of ['a.png', 'b.png', 'c.png', 'd.png'])
    await writeFile(path.join(root, name), 'x');
});
afterEach(async () => removeDir(root));

const names = async (selection: Parameters<typeof toggleStar>[0]) =>
  (await scanInputs({ ...jobInputs([root]), selection })).map((file) => file.relativePath);

it('leaves excluded photos out of the scan, and with only-starred every photo not starred', async () => {
  let selection = toggleExclude(emptySelection(), path.join(root, 'a.png'));
  selection = toggleStar(selection, path.join(root, 'c.png'));
  expect(await names(selection)).toEqual(['b.png', 'c.png', 'd.png']);
  expect(await names({ ...selection, onlyStarred: true })).toEqual(['c.png']);
  const all = ['a', 'b', 'c', 'd'].map((name) => path.join(root, `${name}.png`));
  expect(selectionSummary(selection, all)).toBe(
    '1 starred · 1 excluded · 3 of 4 photos will be upscaled',
  );
  expect(selectionSummary({ ...selection, onlyStarred: true }, all)).toBe(
    '1 starred · 1 excluded · 1 of 4 photos will be upscaled',
  );
});

it('a photo is starred or excluded, never both', () => {
  const photo = path.join(root, 'a.png');
  const starred = toggleStar(emptySelection(), photo);
  const excluded = toggleExclude(starred, photo);
  expect([excluded.starred, excluded.excluded]).toEqual([[], [photo]]);
  const back = toggleStar(excluded, photo);
  expect([back.starred, back.excluded]).toEqual([[photo], []]);
});
