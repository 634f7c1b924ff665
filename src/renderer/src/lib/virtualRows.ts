/**
 * A long list drawn a window at a time: rows of a fixed height, only those on screen (and a few
 * either side) in the page. 1,200 photo cards cost the elements of about fifty.
 */

/** Cards a row holds in `width` pixels: as CSS `repeat(auto-fill, minmax(minWidth, 1fr))`. */
export function columnsFor(width: number, minWidth: number, gap: number): number {
  return Math.max(1, Math.floor((width + gap) / (minWidth + gap)));
}

/**
 * The rows to draw (`first` inclusive, `last` exclusive) for a scroll position: those that meet
 * the viewport, and `overscan` more on each side so a quick scroll does not show gaps.
 */
export function rowWindow(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rowCount: number,
  overscan = 2,
): { first: number; last: number } {
  if (rowCount <= 0 || rowHeight <= 0) return { first: 0, last: 0 };
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rowCount, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan);
  return { first, last: Math.max(first, last) };
}

/** The scroll position that shows `row` whole, moving as little as possible. */
export function scrollToShow(
  row: number,
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
): number {
  const top = row * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewportHeight) return top + rowHeight - viewportHeight;
  return scrollTop;
}
