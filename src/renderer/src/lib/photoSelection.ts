import type { PhotoSelection } from '../../../shared/jobs.ts';
import { isLeftOut } from '../../../shared/jobs.ts';

/** Nothing chosen: every photo runs. */
export function emptySelection(): PhotoSelection {
  return { starred: [], excluded: [], onlyStarred: false };
}

/** True when the selection changes nothing (the job need not carry it). */
export function isEmptySelection(selection: PhotoSelection): boolean {
  return (
    selection.starred.length === 0 && selection.excluded.length === 0 && !selection.onlyStarred
  );
}

/** Stars a photo, or takes its star away; a starred photo is never excluded. */
export function toggleStar(selection: PhotoSelection, photo: string): PhotoSelection {
  const starred = selection.starred.includes(photo);
  return {
    ...selection,
    starred: starred ? selection.starred.filter((p) => p !== photo) : [...selection.starred, photo],
    excluded: selection.excluded.filter((p) => p !== photo),
  };
}

/** Excludes a photo, or brings it back; an excluded photo loses its star. */
export function toggleExclude(selection: PhotoSelection, photo: string): PhotoSelection {
  const excluded = selection.excluded.includes(photo);
  return {
    ...selection,
    excluded: excluded
      ? selection.excluded.filter((p) => p !== photo)
      : [...selection.excluded, photo],
    starred: selection.starred.filter((p) => p !== photo),
  };
}

/** `2 starred · 1 excluded · 9 of 12 photos will be upscaled`. */
export function selectionSummary(selection: PhotoSelection, photos: readonly string[]): string {
  const starred = photos.filter((photo) => selection.starred.includes(photo)).length;
  const excluded = photos.filter((photo) => selection.excluded.includes(photo)).length;
  const running = photos.filter((photo) => !isLeftOut(selection, photo)).length;
  return [
    ...(starred > 0 ? [`${starred} starred`] : []),
    ...(excluded > 0 ? [`${excluded} excluded`] : []),
    `${running} of ${photos.length} photo${photos.length === 1 ? '' : 's'} will be upscaled`,
  ].join(' · ');
}
