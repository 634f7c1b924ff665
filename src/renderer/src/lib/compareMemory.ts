/**
 * What Compare showed for each photo (crop, zoom, pan, view, models), so leaving Compare and
 * coming back, or going to another photo and back, finds it as it was. A photo not seen yet
 * opens with the view and models of the photo seen last, at its own default crop.
 */
import type { PixelRect } from '../../../shared/ipc.ts';
import type { ZoomLevel } from './cropGeometry.ts';

export interface CompareView {
  rect: PixelRect;
  zoom: ZoomLevel;
  /** The fraction (0..1) of the crop in the middle of the panes, across and down. */
  centreX: number;
  centreY: number;
  mode: 'side-by-side' | 'split' | 'three-up';
  beforeView: 'nearest' | 'bicubic' | 'model';
  /** `model|preset` of each pane; empty: the batch's own choice (right), the default (left). */
  rightChoice: string;
  leftChoice: string;
}

export class CompareMemory {
  readonly #byPhoto = new Map<string, CompareView>();
  #last: CompareView | null = null;

  remember(photo: string, view: CompareView): void {
    const kept = { ...view, rect: { ...view.rect } };
    this.#byPhoto.set(photo, kept);
    this.#last = kept;
  }

  /** This photo's view, if it was on screen before. */
  recall(photo: string): CompareView | undefined {
    const view = this.#byPhoto.get(photo);
    return view && { ...view, rect: { ...view.rect } };
  }

  /** The view of the photo seen last (its crop belongs to that photo). */
  last(): CompareView | null {
    return this.#last && { ...this.#last, rect: { ...this.#last.rect } };
  }
}
