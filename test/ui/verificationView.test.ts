import { describe, expect, it } from 'vitest';
import { describeVerification } from '../../src/renderer/src/lib/verificationView.ts';
import type { OutputsVerification } from '../../src/shared/jobs.ts';

const base: OutputsVerification = {
  folder: '/out',
  checked: 5,
  intact: 5,
  findings: [],
  warnings: [],
  hasManifest: true,
};
const finding = (kind: OutputsVerification['findings'][number]['kind'], name: string) => ({
  kind,
  output: `/out/${name}_x2.jpg`,
  input: `/in/${name}.jpg`,
  detail: '',
});

describe('Verify outputs in words', () => {
  it('all intact, none to repair', () => {
    expect(describeVerification(base)).toEqual({
      summary: 'All 5 outputs are intact and up to date.',
      groups: [],
      repairable: 0,
    });
  });

  it('groups by what a rerun does; only missing, damaged and stale are repaired', () => {
    const view = describeVerification({
      ...base,
      intact: 1,
      findings: [
        finding('orphaned', 'e'),
        finding('stale', 'c'),
        finding('missing', 'a'),
        finding('edited', 'd'),
        finding('damaged', 'b'),
      ].slice(0, 4),
    });
    expect(view.summary).toBe('1 of 5 outputs intact; 4 need a look.');
    expect(view.groups.map((g) => [g.title, g.findings.length])).toEqual([
      ['Missing', 1],
      ['Out of date', 1],
      ['Changed by someone', 1],
      ['Photo gone', 1],
    ]);
    expect(view.repairable).toBe(2);
  });

  it('a folder without a manifest has nothing to check', () => {
    expect(
      describeVerification({ ...base, checked: 0, intact: 0, hasManifest: false }).summary,
    ).toBe('Nothing to check: this folder holds no record of outputs written by CMSC Upscaler.');
  });
});
