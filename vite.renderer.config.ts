import { svelte } from '@sveltejs/vite-plugin-svelte';
import path from 'node:path';
import type { UserConfig } from 'vite';

/**
 * The renderer build, shared by electron-vite (desktop) and `npm run serve` (web mode), so both
 * transports serve the very same bundle.
 */
export const rendererRoot = path.resolve(import.meta.dirname, 'src/renderer');
export const rendererOutDir = path.resolve(import.meta.dirname, 'out/renderer');

export function rendererViteConfig(): UserConfig {
  return {
    root: rendererRoot,
    // Relative asset URLs: the bundle is loaded from file:// in Electron and from / in web mode.
    base: './',
    plugins: [svelte()],
    build: {
      outDir: rendererOutDir,
      emptyOutDir: true,
      target: 'chrome120',
    },
  };
}

export default rendererViteConfig();
