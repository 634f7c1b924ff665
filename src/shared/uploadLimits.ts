/**
 * Web mode's drop-to-upload limits, shared by the page (which refuses before sending a byte)
 * and the server (which refuses whatever the page did not). A photo is rarely above 100 MB; a
 * few hundred photos at once is a card's worth. Past that, a folder on the server's computer
 * (Add folder…) is the better road than the browser.
 */
/** In decimal units, as the app writes sizes (200 MB, 4 GB). */
export const MAX_UPLOAD_FILE_BYTES = 200_000_000;
export const MAX_UPLOAD_FILES = 500;
export const MAX_UPLOAD_TOTAL_BYTES = 4_000_000_000;
