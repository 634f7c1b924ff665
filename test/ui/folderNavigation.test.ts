import { describe, expect, it } from 'vitest';
import { FolderNavigation } from '../../src/renderer/src/lib/folderNavigation.ts';

const home = { path: '/home/ann' };
const trip = { path: '/home/ann/trip' };
const work = { path: '/home/ann/work' };

describe('folder browser navigation', () => {
  it('picks nothing while a clicked folder is opening, then that folder', () => {
    const navigation = new FolderNavigation();
    expect(navigation.choosable).toBe(null);
    expect(navigation.arrived(navigation.start(), home)).toBe(true);
    expect(navigation.choosable).toBe('/home/ann');

    // The click on "trip" was sent; its listing has not come: "Choose" must not take home.
    const opening = navigation.start();
    expect(navigation.opening).toBe(true);
    expect(navigation.shown).toBe(home);
    expect(navigation.choosable).toBe(null);

    expect(navigation.arrived(opening, trip)).toBe(true);
    expect(navigation.opening).toBe(false);
    expect(navigation.choosable).toBe('/home/ann/trip');
  });

  it('drops a listing that arrives after a later navigation began', () => {
    const navigation = new FolderNavigation();
    navigation.arrived(navigation.start(), home);
    const first = navigation.start();
    const second = navigation.start();

    expect(navigation.arrived(second, work)).toBe(true);
    expect(navigation.arrived(first, trip)).toBe(false);
    expect(navigation.shown).toBe(work);
    expect(navigation.choosable).toBe('/home/ann/work');
  });

  it('keeps waiting for the latest navigation when an earlier one answers first', () => {
    const navigation = new FolderNavigation();
    navigation.arrived(navigation.start(), home);
    const first = navigation.start();
    const second = navigation.start();

    expect(navigation.arrived(first, trip)).toBe(false);
    expect(navigation.shown).toBe(home);
    expect(navigation.choosable).toBe(null);
    expect(navigation.failed(first)).toBe(false);
    expect(navigation.opening).toBe(true);

    expect(navigation.failed(second)).toBe(true);
    expect(navigation.opening).toBe(false);
    // Home is still listed, but it is not the folder asked for: it cannot be chosen.
    expect(navigation.choosable).toBe(null);
  });

  it('never chooses the folder listed before one that failed to open, until a folder opens', () => {
    const navigation = new FolderNavigation();
    navigation.arrived(navigation.start(), home);
    // A typed folder that does not exist: the error shows, home stays listed.
    expect(navigation.failed(navigation.start())).toBe(true);
    expect([navigation.shown, navigation.choosable]).toEqual([home, null]);
    expect(navigation.arrived(navigation.start(), trip)).toBe(true);
    expect(navigation.choosable).toBe('/home/ann/trip');
  });
});
