// @ts-check
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/** Node built-ins by every name they can be imported under (fs, node:fs, fs/promises, ...). */
const nodeBuiltinPatterns = ['node:*', ...builtinModules.flatMap((name) => [name, `${name}/*`])];

// The one module allowed to load onnxruntime-node: keeping the native runtime behind a single
// file keeps session options, provider selection and tensor handling in one place.
const onnxSessionModule = 'src/main/engine/onnxSession.ts';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'out/**',
      'dist/**',
      'release/**',
      'coverage/**',
      'training/**',
      'models/**',
      'test/fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    // Svelte components: the Svelte parser, with TypeScript inside <script lang="ts">.
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
  },
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: [
            {
              name: 'onnxruntime-node',
              message: `Only ${onnxSessionModule} imports onnxruntime-node; go through it.`,
            },
          ],
        },
      ],
    },
  },
  {
    files: [onnxSessionModule],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // Shared types and the renderer run in every process, including the browser: no Node, no
    // Electron, no native runtime.
    files: ['src/shared/**/*.ts', 'src/renderer/**/*.ts', 'src/renderer/**/*.svelte'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'src/shared and src/renderer must not import electron.' },
            { name: 'onnxruntime-node', message: 'Inference runs in the main process engine.' },
          ],
          patterns: [
            {
              group: nodeBuiltinPatterns,
              message: 'src/shared and src/renderer must not import Node built-ins.',
            },
          ],
        },
      ],
    },
  },
  {
    // Electron stays at the edge: only src/main/electron and src/preload may import it.
    files: ['src/main/**/*.ts'],
    ignores: ['src/main/electron/**', onnxSessionModule],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'electron', message: 'Only src/main/electron/ imports electron.' },
            {
              name: 'onnxruntime-node',
              message: `Only ${onnxSessionModule} imports onnxruntime-node.`,
            },
          ],
        },
      ],
    },
  },
);
