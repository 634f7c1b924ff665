import os from 'node:os';
import path from 'node:path';

/** The per-user folder for settings and queue state, where each platform keeps app data. */
export function defaultDataDir(appName = 'cmsc-upscaler'): string {
  const home = os.homedir();
  switch (process.platform) {
    case 'win32':
      return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), appName);
    case 'darwin':
      return path.join(home, 'Library', 'Application Support', appName);
    default:
      return path.join(process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), appName);
  }
}
