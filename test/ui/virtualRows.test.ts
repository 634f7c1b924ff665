import { describe, expect, it } from 'vitest';
import { columnsFor, rowWindow, scrollToShow } from '../../src/renderer/src/lib/virtualRows.ts';

describe('a long list drawn a window at a time', () => {
  it('counts the cards a row holds as CSS auto-fill does', () => {
    // 280 px cards, 8 px gaps: 1180 px hold 4 (4 × 280 + 3 × 8 = 1144), 1150 still 4, 860 three.
    expect([columnsFor(1180, 280, 8), columnsFor(1150, 280, 8), columnsFor(860, 280, 8)]).toEqual([
      4, 4, 3,
    ]);
    expect(columnsFor(100, 280, 8)).toBe(1);
  });

  it('draws the rows on screen and two either side, never past the ends', () => {
    // 300 rows of 124 px (1,200 photos, 4 a row) in a 560 px window.
    expect(rowWindow(0, 560, 124, 300)).toEqual({ first: 0, last: 7 });
    expect(rowWindow(124 * 100 + 10, 560, 124, 300)).toEqual({ first: 98, last: 107 });
    expect(rowWindow(124 * 296, 560, 124, 300)).toEqual({ first: 294, last: 300 });
    expect(rowWindow(0, 560, 124, 0)).toEqual({ first: 0, last: 0 });
  });

  it('scrolls as little as it must to show a row whole', () => {
    expect(scrollToShow(3, 0, 560, 124)).toBe(0);
    expect(scrollToShow(5, 0, 560, 124)).toBe(6 * 124 - 560);
    expect(scrollToShow(1, 400, 560, 124)).toBe(124);
  });
});

describe("Compare's list names each photo's folder", () => {
  it('groups the photos in runs of one folder, in their order', async () => {
    const { groupByFolder } = await import('../../src/renderer/src/lib/comparePhotos.ts');
    const photo = (inputPath: string) => ({
      inputPath,
      relativePath: inputPath.split('/').pop() ?? '',
      jobId: 'j',
      pendingRoot: null,
    });
    const groups = groupByFolder([
      photo('/cards/a/DCIM/IMG_1.jpg'),
      photo('/cards/a/DCIM/IMG_2.jpg'),
      photo('/cards/b/DCIM/IMG_1.jpg'),
    ]);
    expect(groups.map((group) => [group.folder, group.photos.map((p) => p.relativePath)])).toEqual([
      ['/cards/a/DCIM', ['IMG_1.jpg', 'IMG_2.jpg']],
      ['/cards/b/DCIM', ['IMG_1.jpg']],
    ]);
  });
});
