/** Where a list's items sit on screen (DOM only; rovingFocus.ts does the arithmetic). */

/** The `offsetTop` of each item of a list element (none for a list not drawn). */
export function itemTops(list: HTMLElement | undefined): number[] {
  return list ? Array.from(list.children, (item) => (item as HTMLElement).offsetTop) : [];
}
