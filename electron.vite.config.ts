import path from 'node:path';
import { defineConfig } from 'electron-vite';
import { rendererViteConfig } from './vite.renderer.config.ts';

/**
 * Desktop build: main (ESM, with the inference worker as a second entry so the engine can start
 * it as a file), preload (CommonJS: sandboxed preloads cannot load ES modules) and the renderer
 * (the same Vite config as web mode). Output: out/main, out/preload, out/renderer.
 */
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: path.resolve(import.meta.dirname, 'src/main/electron/main.ts'),
          inferenceWorker: path.resolve(import.meta.dirname, 'src/main/engine/inferenceWorker.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      // Bundle everything (shared types and constants included) into one sandbox-safe file.
      externalizeDeps: false,
      rollupOptions: {
        input: { index: path.resolve(import.meta.dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: rendererViteConfig(),
});
