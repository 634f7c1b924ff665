import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const script = path.resolve(import.meta.dirname, '../../scripts/cuda-provider/prune_fatbin.py');

const CUBIN = 2;
const PTX = 1;
interface Entry {
  kind: number;
  sm: number;
  fill: number;
}

/**
 * A 64-bit little-endian ELF file with a .nv_fatbin section holding one fatbin container of the
 * given entries (payload 40 bytes of `fill` each), and where each payload starts.
 */
function elfWithFatbin(entries: Entry[]): { file: Buffer; payloads: number[] } {
  const entryHeader = 64;
  const payloadSize = 40;
  const body = entries.length * (entryHeader + payloadSize);
  const fatbin = Buffer.alloc(16 + body);
  fatbin.writeUInt32LE(0xba55ed50, 0);
  fatbin.writeUInt16LE(1, 4);
  fatbin.writeUInt16LE(16, 6);
  fatbin.writeBigUInt64LE(BigInt(body), 8);
  const fatbinOffset = 64;
  const payloads: number[] = [];
  entries.forEach((entry, index) => {
    const at = 16 + index * (entryHeader + payloadSize);
    fatbin.writeUInt16LE(entry.kind, at);
    fatbin.writeUInt32LE(entryHeader, at + 4);
    fatbin.writeBigUInt64LE(BigInt(payloadSize), at + 8);
    fatbin.writeUInt32LE(entry.sm, at + 28);
    fatbin.fill(entry.fill, at + entryHeader, at + entryHeader + payloadSize);
    payloads.push(fatbinOffset + at + entryHeader);
  });
  const names = Buffer.from('\0.nv_fatbin\0.shstrtab\0');
  const namesOffset = fatbinOffset + fatbin.length;
  const sectionsOffset = namesOffset + names.length;
  const sections = Buffer.alloc(3 * 64);
  const section = (index: number, name: number, offset: number, size: number): void => {
    sections.writeUInt32LE(name, index * 64);
    sections.writeBigUInt64LE(BigInt(offset), index * 64 + 0x18);
    sections.writeBigUInt64LE(BigInt(size), index * 64 + 0x20);
  };
  section(1, 1, fatbinOffset, fatbin.length);
  section(2, 12, namesOffset, names.length);
  const header = Buffer.alloc(64);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(header);
  header.writeBigUInt64LE(BigInt(sectionsOffset), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(3, 0x3c);
  header.writeUInt16LE(2, 0x3e);
  return { file: Buffer.concat([header, fatbin, names, sections]), payloads };
}

function prune(...args: string[]) {
  return spawnSync('python3', [script, ...args], { encoding: 'utf8' });
}

describe('prune_fatbin.py (the CUDA provider carried to a lent GPU)', () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'cmsc-fatbin-'));
  });
  afterEach(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('zeroes the cubins of other architectures and leaves everything else byte for byte', async () => {
    const { file, payloads } = elfWithFatbin([
      { kind: CUBIN, sm: 80, fill: 0xaa },
      { kind: CUBIN, sm: 90, fill: 0xbb },
      { kind: PTX, sm: 80, fill: 0xcc },
      { kind: CUBIN, sm: 120, fill: 0xdd },
    ]);
    const input = path.join(scratch, 'provider.so');
    const output = path.join(scratch, 'pruned.so');
    await writeFile(input, file);

    const result = prune(input, output, '--keep', '90');
    expect(result.status, result.stderr).toBe(0);
    const pruned = await readFile(output);
    expect(pruned.length).toBe(file.length);
    const zeroed = [payloads[0]!, payloads[3]!];
    const expected = Buffer.from(file);
    for (const at of zeroed) expected.fill(0, at, at + 40);
    expect(pruned.equals(expected)).toBe(true);
    expect(result.stdout).toMatch(/cubin sm_90\s+1 entries\s+40 bytes kept/);
    expect(result.stdout).toMatch(/ptx\s+sm_80\s+1 entries\s+40 bytes kept/);
    expect(result.stdout).toMatch(/zeroed 80 bytes/);
  });

  it('refuses to write a file with no cubin for the kept architecture', async () => {
    const { file } = elfWithFatbin([{ kind: CUBIN, sm: 80, fill: 0xaa }]);
    const input = path.join(scratch, 'provider.so');
    await writeFile(input, file);

    const result = prune(input, path.join(scratch, 'pruned.so'), '--keep', '90');
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no cubin for sm [90]');
  });
});
