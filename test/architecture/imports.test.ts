import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');

async function listSourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && /\.(ts|js|mjs|svelte)$/.test(entry.name))
    .map((entry) => path.relative(repoRoot, path.join(entry.parentPath, entry.name)));
}

async function filesImporting(moduleName: string, dirs: string[]): Promise<string[]> {
  const importPattern = new RegExp(
    String.raw`(from\s+|import\s*\(\s*|require\s*\(\s*)['"]${moduleName}['"]`,
  );
  const hits: string[] = [];
  for (const dir of dirs) {
    for (const file of await listSourceFiles(path.join(repoRoot, dir))) {
      if (importPattern.test(await readFile(path.join(repoRoot, file), 'utf8'))) hits.push(file);
    }
  }
  return hits.sort();
}

describe('module boundaries', () => {
  it('exactly one module imports onnxruntime-node', async () => {
    expect(await filesImporting('onnxruntime-node', ['src', 'bench', 'bin'])).toEqual([
      'src/main/engine/onnxSession.ts',
    ]);
  });

  it('nothing outside src/main/electron and src/preload imports electron', async () => {
    const importers = await filesImporting('electron', ['src', 'bench', 'bin']);
    expect(importers.filter((file) => !/^src\/(main\/electron|preload)\//.test(file))).toEqual([]);
  });
});
