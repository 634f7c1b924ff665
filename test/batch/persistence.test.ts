/** The queue file and the reports on disk: atomic replacement, damaged files, CSV quoting. */
import { spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/main/files/atomicWrite.ts';
import { buildReport, reportToCsv } from '../../src/main/batch/jobReport.ts';
import { QueueStore } from '../../src/main/batch/queueStore.ts';
import type { Job } from '../../src/shared/jobs.ts';
import { jobInputs, makeTempDir, removeDir, testSettings } from './batchFixtures.ts';

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir('persist');
});
afterEach(async () => {
  await removeDir(dir);
});

function sampleJob(id: string, inputPath: string): Job {
  return {
    id,
    createdAt: '2026-11-25T10:00:00.000Z',
    inputs: jobInputs(['/photos']),
    settings: testSettings(),
    outputFolder: '/photos-upscaled',
    state: 'finished',
    files: [
      {
        id: 0,
        inputPath,
        relativePath: path.basename(inputPath),
        inputBytes: 1000,
        inputWidth: 10,
        inputHeight: 8,
        state: 'failed',
        reason: { code: 'decode-failed', message: 'truncated file, "premature end"' },
        outputPath: null,
        outputBytes: null,
        outputWidth: null,
        outputHeight: null,
        elapsedMs: 12.6,
        provider: 'cpu',
        attempts: 1,
      },
    ],
    summary: null,
  };
}

it('writeFileAtomic replaces the content and leaves no temporary file', async () => {
  const target = path.join(dir, 'state.json');
  await writeFileAtomic(target, 'first');
  await writeFileAtomic(target, 'second');
  expect([await readFile(target, 'utf8'), await readdir(dir)]).toEqual(['second', ['state.json']]);
});

it('saves that are not awaited one by one still end with the latest state', async () => {
  const store = new QueueStore(dir);
  await store.load();
  const saves = Array.from({ length: 20 }, (_, index) =>
    store.save([sampleJob(`job-${index}`, '/photos/a.jpg')]),
  );
  await Promise.all(saves);
  const reloaded = await new QueueStore(dir).load();
  expect([reloaded.jobs.map((j) => j.id), reloaded.warnings]).toEqual([['job-19'], []]);
  expect(await readdir(dir)).toEqual(['queue.json']);
});

it('round-trips jobs exactly', async () => {
  const store = new QueueStore(dir);
  await store.load();
  const job = sampleJob('job-a', '/photos/a.jpg');
  await store.save([job]);
  expect((await new QueueStore(dir).load()).jobs).toEqual([job]);
});

/** A done file made by the int8 file of a photo variant, as the queue records it. */
function doneJob(id: string): Job {
  const job = sampleJob(id, '/photos/a.jpg');
  job.files[0] = {
    ...job.files[0]!,
    state: 'done',
    reason: null,
    outputPath: '/photos-upscaled/a-x2.jpg',
    outputBytes: 4000,
    outputWidth: 20,
    outputHeight: 16,
    model: 'cmsc-fast-photo',
    source: {
      kind: 'photo',
      setting: 'auto',
      reason: 'JPEG quality ≈ 72',
      jpegQuality: 72,
      noiseSigma: 1.5,
    },
    precision: 'int8',
  };
  return job;
}

it('keeps which model, variant and precision made a done file across a restart', async () => {
  const store = new QueueStore(dir);
  await store.load();
  const job = doneJob('job-a');
  await store.save([job]);
  expect((await new QueueStore(dir).load()).jobs).toEqual([job]);
});

it('reads done files recorded before the model, source and precision were kept', async () => {
  const job = doneJob('job-old');
  const { model: _model, source: _source, precision: _precision, ...older } = job.files[0]!;
  await writeFile(
    path.join(dir, 'queue.json'),
    JSON.stringify({ schemaVersion: 1, jobs: [{ ...job, files: [older] }] }),
  );
  const loaded = await new QueueStore(dir).load();
  expect([loaded.jobs, loaded.warnings]).toEqual([[{ ...job, files: [older] }], []]);
  // Its report row leaves the columns empty rather than guessing.
  const csv = reportToCsv(buildReport(loaded.jobs[0]!, 'finished', new Date()));
  expect(csv.split('\r\n')[1]).toMatch(/,cpu,,,,$/);
});

it('writes the model, why that variant, and which precision ran in the report', () => {
  const report = buildReport(doneJob('job-a'), 'finished', new Date('2026-11-25T11:00:00.000Z'));
  expect(report.files[0]).toMatchObject({
    model: 'cmsc-fast-photo',
    source: 'JPEG quality ≈ 72',
    precision: 'int8',
  });
  expect(reportToCsv(report).split('\r\n')[1]).toBe(
    '/photos/a.jpg,/photos-upscaled/a-x2.jpg,done,1000,4000,10,8,20,16,13,cpu,cmsc-fast-photo,JPEG quality ≈ 72,int8,',
  );
});

it('moves an unreadable queue file aside, deletes stale temporaries, and opens empty', async () => {
  await writeFile(path.join(dir, 'queue.json'), '{"schemaVersion": 1, "jobs": [ {"id": 3');
  await writeFile(path.join(dir, '.cmsc-atomic.queue.json.1a2b3c4d'), 'half a write');
  const loaded = await new QueueStore(dir).load();
  const names = await readdir(dir);
  expect(loaded.jobs).toEqual([]);
  expect(names).toHaveLength(1);
  expect(names[0]).toMatch(/^queue\.json\.unreadable-\d+$/);
  expect(loaded.warnings).toHaveLength(1);
  expect(loaded.warnings[0]).toContain(
    `moved to ${path.join(dir, names[0]!)}, starting with an empty queue`,
  );
});

it('drops a job that does not validate, keeps the others, and keeps the original file', async () => {
  const good = sampleJob('job-good', '/photos/a.jpg');
  const bad = { ...sampleJob('job-bad', '/photos/b.jpg'), state: 'exploded' };
  const original = JSON.stringify({ schemaVersion: 1, jobs: [bad, good] });
  await writeFile(path.join(dir, 'queue.json'), original);
  const loaded = await new QueueStore(dir).load();
  const copy = (await readdir(dir)).find((name) => name.startsWith('queue.json.unreadable-'))!;
  expect([loaded.jobs, loaded.warnings]).toEqual([
    [good],
    [
      'job dropped from the queue: jobs[0].state is not one of queued, running, paused, finished, cancelled',
      `the original queue file is kept as ${path.join(dir, copy)}`,
    ],
  ]);
  expect(await readFile(path.join(dir, copy), 'utf8')).toBe(original);
});

it('writes CSV with RFC 4180 quoting and no spreadsheet formulas', () => {
  const job = sampleJob('job-a', '/photos/=cmd|calc,"x".jpg');
  const csv = reportToCsv(buildReport(job, 'finished', new Date('2026-11-25T11:00:00.000Z')));
  expect(csv.split('\r\n')).toEqual([
    'input,output,state,inputBytes,outputBytes,inputWidth,inputHeight,outputWidth,outputHeight,timeMs,device,model,source,precision,error',
    '"/photos/=cmd|calc,""x"".jpg",,failed,1000,,10,8,,,13,cpu,,,,"decode-failed: truncated file, ""premature end"""',
    '',
  ]);
  const formula = reportToCsv(
    buildReport(sampleJob('job-b', '=HYPERLINK("x")'), 'finished', new Date()),
  );
  expect(formula.split('\r\n')[1]!.startsWith(`"'=HYPERLINK(""x"")"`)).toBe(true);
});

it('one process at a time: a live holder is refused, a dead one’s lock is taken over', async () => {
  const first = new QueueStore(dir);
  await first.lock();
  await expect(new QueueStore(dir).lock()).rejects.toThrow(
    `the batch queue in ${dir} is in use by process ${process.pid}`,
  );
  await first.unlock();
  // A lock left by a process that no longer exists (as after SIGKILL).
  const exited = spawnSync(process.execPath, ['-e', '0']);
  await writeFile(path.join(dir, 'queue.lock'), `${exited.pid}\n`);
  const second = new QueueStore(dir);
  await second.lock();
  expect(await readFile(path.join(dir, 'queue.lock'), 'utf8')).toBe(`${process.pid}\n`);
  await second.unlock();
});

it('the journal replays over the snapshot; a torn last line is dropped; a replay twice changes nothing', async () => {
  const store = new QueueStore(dir);
  const job = sampleJob('job-a', '/photos/a.png');
  await store.save([job]);
  const done = { ...job.files[0]!, state: 'done' as const, reason: null, outputPath: '/out/a.png' };
  await store.append({ op: 'file', jobId: 'job-a', file: done });
  await store.append({ op: 'state', jobId: 'job-a', state: 'finished', summary: null });
  await store.closeJournal();
  const journalPath = path.join(dir, 'queue.journal');
  const journal = await readFile(journalPath, 'utf8');
  // A kill in the middle of the next append leaves half a line.
  await writeFile(journalPath, `${journal}{"op":"file","jobId":"job-a","fi`);
  const loaded = await new QueueStore(dir).load();
  expect([loaded.jobs[0]!.files[0]!.state, loaded.jobs[0]!.files[0]!.outputPath]).toEqual([
    'done',
    '/out/a.png',
  ]);
  expect(loaded.warnings).toEqual([]);
  // A crash after a snapshot that already holds the change, before the journal was emptied:
  // replaying it again gives the same queue.
  await new QueueStore(dir).save(loaded.jobs);
  await writeFile(journalPath, journal);
  expect((await new QueueStore(dir).load()).jobs).toEqual(loaded.jobs);
});

it('the journal is folded into a snapshot once it outgrows the queue', async () => {
  const store = new QueueStore(dir);
  const job = sampleJob('job-b', '/photos/b.png');
  await store.save([job]);
  let compact = false;
  let appended = 0;
  while (!compact) {
    compact = await store.append({ op: 'file', jobId: 'job-b', file: job.files[0]! }, false);
    appended++;
  }
  // Past max(1000, files in the queue) lines the caller is told to write a snapshot.
  expect(appended).toBe(1001);
  await store.save([job]);
  expect((await readdir(dir)).filter((name) => name.startsWith('queue.'))).toEqual(['queue.json']);
});
