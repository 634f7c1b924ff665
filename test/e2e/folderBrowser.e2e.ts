import path from 'node:path';
import type { Locator, Route } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startWebMode, writeSyntheticPhotos, type WebModeSession } from './webModeHarness.ts';

/**
 * The web folder browser while its answers are slow. Both orderings below once lost a click in
 * the corrupt-file test on a loaded machine: "Choose" took the folder still on screen (the parent)
 * when the clicked folder's listing came late, and a click whose press and release straddled the
 * arrival of the pictures was lost because the pictures pushed the button down.
 */
describe('the web folder browser', () => {
  let session: WebModeSession;
  let trip: string;
  beforeAll(async () => {
    session = await startWebMode('folder-browser');
    trip = path.join(session.workDir, 'trip');
    await writeSyntheticPhotos(trip, 2, 96, 64);
  });
  afterAll(async () => {
    await session?.close();
  });
  const held: (() => void)[] = [];
  afterEach(async () => {
    for (const release of held.splice(0)) release();
    await session.page.unrouteAll({ behavior: 'wait' });
  });

  /** Holds the answers to `channel` requests whose body contains `marker` until `release()`. */
  async function holdAnswers(channel: string, marker: string): Promise<{ release(): void }> {
    let release = (): void => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    held.push(release);
    await session.page.route(`**/api/invoke/${channel}`, async (route: Route) => {
      if ((route.request().postData() ?? '').includes(marker)) await released;
      await route.continue();
    });
    return { release };
  }

  /** Opens the folder browser on a fresh page and clicks the "trip" folder in it. */
  async function clickTripInFolderBrowser(): Promise<{ dialog: Locator; choose: Locator }> {
    const { page } = session;
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a folder of photos' });
    await dialog.getByRole('button', { name: 'trip' }).click();
    return { dialog, choose: dialog.getByRole('button', { name: 'Choose this folder' }) };
  }

  it('chooses the folder that was clicked, not the one still shown while it opens', async () => {
    const { page } = session;
    const listing = await holdAnswers('browse:list', trip);
    const { choose } = await clickTripInFolderBrowser();
    await expect.poll(() => choose.isDisabled()).toBe(true);

    listing.release();
    await choose.click();
    await expect.poll(() => page.getByTestId('preflight-files').textContent()).toBe('2');
    expect(await page.getByLabel('New job').getByText(trip, { exact: true }).count()).toBe(1);
  });

  it('keeps its buttons in place while the pictures of a folder load', async () => {
    const pictures = await holdAnswers('browse:previews', trip);
    const { dialog, choose } = await clickTripInFolderBrowser();
    await dialog.getByText('2 images directly in').waitFor();
    const before = await choose.boundingBox();

    pictures.release();
    const shown = dialog.getByRole('list', { name: 'Photos in this folder' }).getByRole('img');
    await expect.poll(() => shown.count()).toBe(2);
    expect(await choose.boundingBox()).toEqual(before);
  });

  it('closes on a click on the backdrop, not on a press inside released on the backdrop', async () => {
    const { page } = session;
    await page.goto(session.url);
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add a folder of photos' });
    const box = (await dialog.boundingBox())!;
    // Press inside the dialog, release outside it (as when selecting text and overshooting).
    await page.mouse.move(box.x + 20, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(4, 4, { steps: 4 });
    await page.mouse.up();
    expect(await dialog.isVisible()).toBe(true);

    await page.mouse.click(4, 4);
    await expect.poll(() => dialog.count()).toBe(0);
  });
});
