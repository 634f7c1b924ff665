import { describe, expect, it } from 'vitest';
import { columnsOf, rovingIndex } from '../../src/renderer/src/lib/rovingFocus.ts';

describe('one Tab stop per list: arrow keys inside it', () => {
  it('moves by one across, by a row down and up, to the ends, and stops there', () => {
    // 7 photos, 4 to a row.
    expect([
      rovingIndex('ArrowRight', 1, 7, 4),
      rovingIndex('ArrowDown', 1, 7, 4),
      rovingIndex('ArrowDown', 5, 7, 4),
      rovingIndex('ArrowUp', 5, 7, 4),
      rovingIndex('ArrowUp', 2, 7, 4),
      rovingIndex('ArrowLeft', 0, 7, 4),
      rovingIndex('ArrowRight', 6, 7, 4),
      rovingIndex('Home', 4, 7, 4),
      rovingIndex('End', 0, 7, 4),
    ]).toEqual([2, 5, 6, 1, 0, 0, 6, 0, 6]);
  });

  it('leaves other keys (Enter, Tab, letters) to the item', () => {
    expect([rovingIndex('Enter', 1, 7), rovingIndex('Tab', 1, 7), rovingIndex('s', 1, 7)]).toEqual([
      null,
      null,
      null,
    ]);
    expect(rovingIndex('ArrowRight', 0, 0)).toBeNull();
  });

  it('counts a wrapping row by the items level with the first', () => {
    expect([columnsOf([0, 0, 0, 120, 120]), columnsOf([5]), columnsOf([])]).toEqual([3, 1, 1]);
  });
});
