import { describe, expect, it } from 'vitest';
import {
  busiestWindow,
  centreForOffset,
  cropOnDetail,
  nextZoom,
  offsetForCentre,
  offsetKeeping,
  visibleSpan,
  wheelZoom,
  zoomPercent,
} from '../../src/renderer/src/lib/cropGeometry.ts';
import { CompareMemory } from '../../src/renderer/src/lib/compareMemory.ts';

describe('Compare zoom like a photo tool', () => {
  it('names zoom in % of the output pixels', () => {
    expect([zoomPercent(1), zoomPercent(4), zoomPercent(0.634)]).toEqual([
      '100 %',
      '400 %',
      '63 %',
    ]);
  });

  it('steps from any factor to the next level, fit counting as its own factor', () => {
    // A crop that fits at 150 %: fit sits between 100 % and 200 %.
    expect(nextZoom('fit', 1, 1.5)).toBe(2);
    expect(nextZoom('fit', -1, 1.5)).toBe(1);
    expect(nextZoom(1, 1, 1.5)).toBe('fit');
    // The wheel left it at 300 %.
    expect(nextZoom(3, 1, 0.5)).toBe(4);
    expect(nextZoom(3, -1, 0.5)).toBe(2);
    expect(nextZoom(8, 1, 0.5)).toBe(8);
  });

  it('wheel zoom stops at 1600 % and at the fit', () => {
    expect(wheelZoom(10, 2, 0.5)).toBe(16);
    expect(wheelZoom(1, 1.25, 0.5)).toBe(1.25);
    expect(wheelZoom(0.6, 0.5, 0.5)).toBe('fit');
    // A crop smaller than the pane: its fit is above 100 %, and the wheel stops at 100 %.
    expect(wheelZoom(1.2, 0.5, 1.8)).toBe(1);
  });

  it('keeps the point under the cursor in place', () => {
    // Content at offset -100, factor 2: the cursor at 300 is over content point 200 (output px).
    const offset = offsetKeeping(300, -100, 2, 4);
    expect(offset).toBe(-500);
    expect((300 - offset) / 4).toBe(200);
  });

  it('turns a centre fraction into an offset and back, within the content', () => {
    expect(offsetForCentre(0.5, 1000, 400)).toBe(-300);
    expect(centreForOffset(-300, 1000, 400)).toBe(0.5);
    // Past the edge: clamped so the content still covers the pane.
    expect(offsetForCentre(0, 1000, 400)).toBe(0);
    expect(centreForOffset(-900, 1000, 400)).toBe(0.8);
    // Smaller than the pane: centred.
    expect(centreForOffset(37, 200, 400)).toBe(0.5);
  });

  it('says which part of the crop is on screen', () => {
    expect(visibleSpan(-300, 1000, 400)).toEqual([0.3, 0.7]);
    expect(visibleSpan(100, 200, 400)).toEqual([0, 1]);
  });
});

describe('default crop on detail', () => {
  /** A 20×10 grey picture, flat except a checkerboard in columns 14..17, rows 2..5. */
  function picture(): Float32Array {
    const grey = new Float32Array(20 * 10).fill(128);
    for (let y = 2; y < 6; y++)
      for (let x = 14; x < 18; x++) grey[y * 20 + x] = (x + y) % 2 === 0 ? 0 : 255;
    return grey;
  }

  it('puts the window on the busiest part, and in the middle of a flat picture', () => {
    expect(busiestWindow(picture(), 20, 10, 4, 4)).toEqual({ x: 14, y: 2 });
    expect(busiestWindow(new Float32Array(20 * 10).fill(9), 20, 10, 4, 4)).toEqual({ x: 8, y: 3 });
  });

  it('moves a crop of the photo there, its size kept', () => {
    // The grey picture is the 2000×1000 photo at 1/100.
    expect(
      cropOnDetail({ x: 800, y: 300, width: 400, height: 400 }, picture(), 20, 10, 2000, 1000),
    ).toEqual({ x: 1400, y: 200, width: 400, height: 400 });
  });
});

describe('Compare memory', () => {
  it("keeps each photo's view and offers the last one for a new photo", () => {
    const memory = new CompareMemory();
    const view = {
      rect: { x: 1, y: 2, width: 30, height: 40 },
      zoom: 4,
      centreX: 0.2,
      centreY: 0.7,
      mode: 'split' as const,
      beforeView: 'model' as const,
      rightChoice: 'cmsc-tiny|best',
      leftChoice: '',
    };
    memory.remember('/a.jpg', view);
    view.rect.x = 99;
    expect(memory.recall('/a.jpg')?.rect.x).toBe(1);
    expect(memory.recall('/b.jpg')).toBeUndefined();
    expect(memory.last()?.zoom).toBe(4);
  });
});
