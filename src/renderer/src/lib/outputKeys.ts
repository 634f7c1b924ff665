/**
 * Keys for a finished photo in a job's list of photos. Its Download, Show in folder and Open
 * are not Tab stops (a list of photos is one Tab stop, arrow keys inside), so the focused
 * photo takes them as keys, the way the photo chooser takes S and X: D gets at the file (a
 * download in the browser, which may run on another computer; the file manager on the
 * desktop), O opens it in the system's viewer (desktop only). Enter stays Compare (the
 * focused element is the photo's Compare button).
 */

/** What a key does to the focused photo's output; each names the control that does it. */
export type OutputKeyAction = 'download' | 'reveal' | 'open';

export interface OutputKey {
  /** The key as the hint and the help show it. */
  key: string;
  action: OutputKeyAction;
  /** In words, as the photo's own control says it. */
  does: string;
}

const KEYS: Readonly<Record<'web' | 'desktop', readonly OutputKey[]>> = {
  web: [{ key: 'D', action: 'download', does: 'Download' }],
  desktop: [
    { key: 'D', action: 'reveal', does: 'Show in folder' },
    { key: 'O', action: 'open', does: 'Open' },
  ],
};

/** What of a KeyboardEvent the keys need (the unit tests, run without a DOM, build one). */
export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** The keys a finished photo takes in this mode. */
export function outputKeys(mode: 'web' | 'desktop'): readonly OutputKey[] {
  return KEYS[mode];
}

/**
 * The action a key press asks of the focused finished photo; null for any other key, and for
 * the key with Ctrl, Cmd or Alt (Ctrl+O adds a folder anywhere).
 */
export function outputKeyAction(event: KeyPress, mode: 'web' | 'desktop'): OutputKeyAction | null {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const key = event.key.toUpperCase();
  return KEYS[mode].find((entry) => entry.key === key)?.action ?? null;
}
