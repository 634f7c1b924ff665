/**
 * "Run on: the queue at …" in the browser UI, against a real redis-server and a real worker
 * process: the setting and its Test connection, a job that runs on the worker through the same
 * batch screen, job card, progress and report as a local job, and the Workers view.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startRedis,
  stopAll,
  worker,
  type CliProcess,
  type RedisServer,
} from '../cluster/clusterHarness.ts';
import {
  startWebMode,
  unlabelledControls,
  writeSyntheticPhotos,
  type WebModeSession,
} from './webModeHarness.ts';

describe('jobs on the cluster queue in the browser UI', () => {
  let session: WebModeSession;
  let redis: RedisServer;
  const workers: CliProcess[] = [];
  beforeAll(async () => {
    // Refused settings answer 400, which Chromium logs; the test types a refused address on purpose.
    session = await startWebMode('cluster', { expectedConsoleErrors: [/status of 400/] });
    await mkdir(path.join(session.workDir, 'redis'));
    redis = await startRedis(path.join(session.workDir, 'redis'));
  });
  afterAll(async () => {
    await stopAll(workers);
    await redis?.stop();
    await session?.close();
  });

  it('chooses the queue, runs a job of 4 photos on a worker with progress and a report, and shows the worker', async () => {
    const { page } = session;
    const photos = path.join(session.workDir, 'yearbook');
    // Big enough that each photo takes a few of the worker's 0.5 s progress reports.
    await writeSyntheticPhotos(photos, 4, 480, 360);

    await page.goto(session.url);
    await page.getByRole('button', { name: 'Export settings' }).click();
    // Small tiles make each photo many steps, so the worker's progress is seen.
    await page.getByLabel('Tile size mode').selectOption('fixed');
    await page.getByLabel('Tile side in pixels').fill('32');
    await page.getByLabel('Tile side in pixels').press('Tab');
    await expect.poll(() => page.getByTestId('settings-status').textContent()).toBe('Saved');

    // A queue nobody listens on: said in plain words, the password never shown.
    const closed = await freePort();
    await page.getByRole('radio', { name: 'The queue at' }).check();
    await page.getByLabel('Queue address').fill(`redis://:hunter2@127.0.0.1:${closed}`);
    await page.getByLabel('Queue address').press('Tab');
    await expect
      .poll(() => page.getByTestId('run-on-status').textContent())
      .toContain(
        `Cannot reach Redis at redis://:***@127.0.0.1:${closed}: connection refused (is redis-server running there?)`,
      );
    await page.getByLabel('Queue address').fill('localhost:6379');
    await page.getByLabel('Queue address').press('Tab');
    await expect
      .poll(() => page.getByTestId('run-on-status').textContent())
      .toContain('The address must start with redis:// or rediss://');

    await page.getByLabel('Queue address').fill(redis.url);
    await page.getByLabel('Queue address').press('Tab');
    await expect
      .poll(() => page.getByTestId('run-on-status').textContent())
      .toMatch(new RegExp(`Connected to Redis 7[\\d.]* at ${redis.url}: 0 workers connected\\.`));
    await page.getByTestId('run-on').scrollIntoViewIfNeeded();
    await session.screenshots('1-run-on');

    const running = worker(redis.url, session.workDir, 1000);
    workers.push(running);
    await running.waitFor(/^worker \S+ on /m);
    await page.getByRole('button', { name: 'Test connection' }).click();
    await expect
      .poll(() => page.getByTestId('run-on-status').textContent())
      .toContain('1 worker connected.');

    await page.getByRole('button', { name: 'Batch', exact: true }).click();
    await expect
      .poll(() => page.getByTestId('queue-bar').textContent())
      .toContain(`New jobs run on the queue at ${redis.url}`);
    await expect
      .poll(() => page.getByTestId('queue-workers').textContent())
      .toBe('1 worker connected');
    await page.getByRole('button', { name: 'Workers', exact: true }).click();
    const rows = page.getByTestId('worker-row');
    await expect.poll(() => rows.count()).toBe(1);
    await expect.poll(() => rows.first().getAttribute('data-state')).toBe('idle');
    expect(await rows.first().locator('td').nth(1).textContent()).toBe('CPU');

    await page.getByRole('button', { name: 'Add folder…' }).click();
    const browser = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await browser.getByRole('button', { name: 'yearbook' }).click();
    await browser.getByRole('button', { name: 'Choose this folder' }).click();
    await expect.poll(() => page.getByTestId('preflight-files').textContent()).toBe('4');
    await page.getByRole('button', { name: 'Start batch' }).click();

    await expect
      .poll(() => page.getByTestId('job-queue').textContent())
      .toBe(`on the queue at ${redis.url}`);
    await expect.poll(() => page.getByTestId('file-row').count()).toBe(4);
    // The worker's tiles arrive as the running photo's own bar, between empty and full.
    const partial = page.locator(
      '[data-file-state="running"] [role="progressbar"]:not([aria-valuenow="0"]):not([aria-valuenow="100"])',
    );
    await partial.first().waitFor({ timeout: 60_000 });
    await expect.poll(() => rows.first().getAttribute('data-state')).toBe('working');
    await session.screenshots('2-running-on-queue');
    expect(await unlabelledControls(page)).toEqual([]);

    await page.waitForSelector('[data-testid="job-state"]:text("Finished")', { timeout: 90_000 });
    await expect.poll(() => page.getByTestId('job-counts').textContent()).toBe('4 of 4 done');
    await expect.poll(() => page.locator('[data-file-state="done"]').count()).toBe(4);
    // The worker's pace and count reach the Workers view with its next heartbeat.
    await expect
      .poll(() => rows.first().locator('td').nth(5).textContent(), { timeout: 15_000 })
      .toBe('4');
    await expect.poll(() => rows.first().getAttribute('data-state')).toBe('idle');
    await session.screenshots('3-workers');

    await page.getByRole('button', { name: 'Open report' }).click();
    await expect.poll(() => page.getByTestId('report-row').count()).toBe(4);
    await session.screenshots('4-report');

    const outputs = (await readdir(`${photos}-upscaled`)).filter((name) => name.endsWith('.jpg'));
    expect(outputs.sort()).toEqual([
      'photo-1_x2.jpg',
      'photo-2_x2.jpg',
      'photo-3_x2.jpg',
      'photo-4_x2.jpg',
    ]);
    expect(running.out()).toMatch(/ok {3}\S*photo-1\.jpg/);
  });
});
