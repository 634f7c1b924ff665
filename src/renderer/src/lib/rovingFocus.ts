/**
 * One Tab stop per list (a "roving tabindex"): Tab enters and leaves the list in one step, the
 * arrow keys move between its items, Home and End go to its ends.
 */

/**
 * The item a key moves to from `index` in a list of `count` items laid out `columns` to a row;
 * null when the key is not one the list takes.
 */
export function rovingIndex(key: string, index: number, count: number, columns = 1): number | null {
  if (count <= 0) return null;
  const last = count - 1;
  switch (key) {
    case 'ArrowRight':
      return Math.min(last, index + 1);
    case 'ArrowLeft':
      return Math.max(0, index - 1);
    case 'ArrowDown':
      return Math.min(last, index + columns);
    case 'ArrowUp':
      return Math.max(0, index - columns);
    case 'Home':
      return 0;
    case 'End':
      return last;
    default:
      return null;
  }
}

/**
 * Items a row of a wrapping list (grid or flex) holds, from its items' `offsetTop`s: those level
 * with the first.
 */
export function columnsOf(tops: readonly number[]): number {
  const first = tops[0];
  if (first === undefined) return 1;
  return Math.max(1, tops.filter((top) => top === first).length);
}
