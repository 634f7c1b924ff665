/**
 * Photos dropped on the page in web mode. A web page never learns where a dropped file lives,
 * and the server may run on another computer, so the photos are uploaded into a folder the
 * person chooses, then added as a job like any folder. The limits are checked here before a
 * byte is sent (and again by the server, src/main/server/uploads.ts).
 */
import { hasImageExtension, SUPPORTED_INPUT_EXTENSIONS } from '../../../shared/imageExtensions.ts';
import {
  MAX_UPLOAD_FILE_BYTES,
  MAX_UPLOAD_FILES,
  MAX_UPLOAD_TOTAL_BYTES,
} from '../../../shared/uploadLimits.ts';
import { formatBytes } from './format.ts';

export interface DroppedFile {
  name: string;
  size: number;
}

export interface DropCheck<F extends DroppedFile> {
  /** The photos to upload (empty when refused). */
  photos: F[];
  /** Why nothing is uploaded, in words; null when the photos may go. */
  refusal: string | null;
  /** Files that are not photos, left out (said so, not refused). */
  leftOut: string[];
}

export function checkDrop<F extends DroppedFile>(
  files: readonly F[],
  folders: number,
): DropCheck<F> {
  const refused = (refusal: string): DropCheck<F> => ({ photos: [], refusal, leftOut: [] });
  if (folders > 0)
    return refused(
      'Folders cannot be uploaded from the browser: drop the photos themselves, or use “Add folder…” for a folder on the computer that runs the app.',
    );
  const photos = files.filter((file) => hasImageExtension(file.name));
  const leftOut = files.filter((file) => !hasImageExtension(file.name)).map((file) => file.name);
  if (photos.length === 0)
    return refused(
      `None of the dropped files is a photo this app reads (${SUPPORTED_INPUT_EXTENSIONS.join(', ')}).`,
    );
  if (photos.length > MAX_UPLOAD_FILES)
    return refused(
      `That is ${photos.length} photos; up to ${MAX_UPLOAD_FILES} can be uploaded at once. For more, use “Add folder…” on the computer that runs the app.`,
    );
  const tooBig = photos.find((file) => file.size > MAX_UPLOAD_FILE_BYTES);
  if (tooBig)
    return refused(
      `${tooBig.name} is ${formatBytes(tooBig.size)}; a photo can be up to ${formatBytes(MAX_UPLOAD_FILE_BYTES)}.`,
    );
  const total = photos.reduce((sum, file) => sum + file.size, 0);
  if (total > MAX_UPLOAD_TOTAL_BYTES)
    return refused(
      `These photos are ${formatBytes(total)} together; up to ${formatBytes(MAX_UPLOAD_TOTAL_BYTES)} can be uploaded at once.`,
    );
  return { photos, refusal: null, leftOut };
}
