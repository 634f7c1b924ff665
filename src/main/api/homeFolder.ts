/**
 * `~` in a folder a person types: the home folder, as in a shell. Only the server knows where
 * that is (web mode's browser does not), so the UI sends the text as typed and main expands it.
 */
import os from 'node:os';
import path from 'node:path';

/** `~` → home, `~/Photos` → home/Photos; anything else unchanged (`~bob` is left alone). */
export function expandHome(typed: string, home: string = os.homedir()): string {
  if (typed === '~') return home;
  if (typed.startsWith('~/') || (path.sep === '\\' && typed.startsWith('~\\')))
    return path.join(home, typed.slice(2));
  return typed;
}
