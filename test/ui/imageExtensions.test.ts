import { describe, expect, it } from 'vitest';
import { hasImageExtension } from '../../src/shared/imageExtensions.ts';

describe('hasImageExtension (which inputs get a thumbnail rather than folder previews)', () => {
  it('knows photos by their extension in any case, on either path separator', () => {
    expect(hasImageExtension('/home/ana/trip/IMG_0001.JPG')).toBe(true);
    expect(hasImageExtension('C:\\Users\\ana\\scan.tiff')).toBe(true);
    expect(hasImageExtension('photo.heic')).toBe(true);
  });

  it('treats folders, dotfiles and other files as not photos', () => {
    expect(hasImageExtension('/home/ana/trip')).toBe(false);
    expect(hasImageExtension('/home/ana/photos.d/readme')).toBe(false);
    expect(hasImageExtension('/home/ana/.png')).toBe(false);
    expect(hasImageExtension('/home/ana/notes.txt')).toBe(false);
  });
});
