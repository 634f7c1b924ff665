"""Training batches whose LR side is a degraded photo (``degrade.py``), made per sample.

The clean sampler (``data.py``) precomputes one bicubic LR image per (image, down-scale,
scale) and cuts sub-images from it. A degraded LR cannot be precomputed that way: every
sample gets its own blur, kernel, noise and JPEG quality. So each sample cuts an HR RGB
crop a few LR pixels larger than the patch on every side, degrades the whole crop (the JPEG
grid starts at the crop's corner, and the patch is cut at a random offset inside it, so the
grid falls at every phase relative to the patch), and keeps the patch away from the crop's
borders, where resizing and JPEG see the crop's edge instead of more photo.

Two shapes of pair, as the two kinds of model need them:

* ``lr_resolution='output'`` (the paper's CMSC and ``cmsc-lite``): LR Y bicubic-upscaled back
  to the HR size, 41x41 patches, scales mixed.
* ``lr_resolution='input'`` (a network that up-samples inside): the LR Y itself,
  ``lr_patch`` square, HR ``scale * lr_patch`` square; one scale per sampler.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image

from .color import rgb_to_y
from .data import DOWNSCALES, HR_JPEG_SEED, HrJpeg
from .degrade import PHOTO, DegradationRecipe, degrade, quantise, web_photo
from .images import list_training_images
from .imresize import imresize

DEFAULT_RGB_DATA = ["../shared/datasets/train/T91", "../shared/datasets/train/BSD200"]
MARGIN_LR = 4  # LR pixels of crop around the patch: covers the bicubic taps and the resize kernels
EDGE_LR = 2  # the patch keeps at least this many LR pixels from the crop's edge


def load_rgb_images(folders: Sequence[Path], downscales: Sequence[float] = DOWNSCALES,
                    limit: int | None = None, hr_jpeg: HrJpeg = None) -> List[np.ndarray]:
    """The training photos as uint8 RGB, each also down-scaled (by 0.7 and 0.5: the paper's
    augmentation); with ``hr_jpeg`` every copy saved as a web JPEG (``degrade.web_photo``)."""
    paths = list_training_images(folders, limit)
    rng = np.random.default_rng(HR_JPEG_SEED)
    images: List[np.ndarray] = []
    for p in paths:
        with Image.open(p) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
        for f in downscales:
            if f == 1.0 and not hr_jpeg:
                images.append(rgb)
                continue
            copy = rgb.astype(np.float64) / 255.0
            copy = copy if f == 1.0 else imresize(copy, scale=f)
            if hr_jpeg:
                copy = web_photo(np.clip(copy, 0.0, 1.0), hr_jpeg, rng)
            images.append(quantise(copy))
    return images


class DegradedPatchSampler:
    """Random augmented (lr, hr, scale) batches with photo degradations; checkpointable state."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        seed: int,
        recipe: DegradationRecipe = PHOTO,
        scales: Sequence[int] = (2, 3, 4),
        patch: int = 41,
        lr_resolution: str = "output",
        lr_patch: int = 24,
    ):
        if lr_resolution not in ("output", "input"):
            raise ValueError(f"lr_resolution must be 'output' or 'input', not {lr_resolution!r}")
        if lr_resolution == "input" and len(scales) != 1:
            raise ValueError("an input-resolution sampler serves one scale (its patches differ in size)")
        self.recipe = recipe
        self.scales = tuple(int(s) for s in scales)
        self.patch = patch
        self.lr_resolution = lr_resolution
        self.lr_patch = lr_patch
        self.crop = {s: s * self._crop_lr(s) for s in self.scales}
        biggest = max(self.crop.values())
        self.images = [im for im in images if min(im.shape[:2]) >= biggest]
        if not self.images:
            raise ValueError(f"no training image is at least {biggest} px on its short side")
        area = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.prob = area / area.sum()
        self.rng = np.random.default_rng(seed)

    def _crop_lr(self, scale: int) -> int:
        inner = self.lr_patch if self.lr_resolution == "input" else math.ceil(self.patch / scale)
        return inner + 2 * MARGIN_LR

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def sample(self, scale: int) -> Tuple[np.ndarray, ...]:
        """One (lr, hr) pair of float32 Y planes for ``scale`` (input resolution: plus the bicubic)."""
        rng = self.rng
        c = self.crop[scale]
        im = self.images[int(rng.choice(len(self.images), p=self.prob))]
        top = int(rng.integers(0, im.shape[0] - c + 1))
        left = int(rng.integers(0, im.shape[1] - c + 1))
        hr = im[top : top + c, left : left + c].astype(np.float64) / 255.0
        hr = np.rot90(hr, int(rng.integers(0, 4)))
        if rng.random() < 0.5:
            hr = hr[:, ::-1]
        hr = np.ascontiguousarray(hr)
        lr8, _ = degrade(hr, scale, rng, self.recipe)
        lr_y = rgb_to_y(lr8.astype(np.float64) / 255.0)
        hr_y = rgb_to_y(hr)
        if self.lr_resolution == "input":
            o = int(rng.integers(EDGE_LR, 2 * MARGIN_LR - EDGE_LR + 1))
            p = self.lr_patch
            # The model's residual input: the degraded LR bicubic-upscaled over the whole crop,
            # so the patch carries no resize border (as the engine's whole-image bicubic).
            up = imresize(lr_y, output_shape=(c, c))
            hr_window = (slice(scale * o, scale * (o + p)),) * 2
            return (lr_y[o : o + p, o : o + p].astype(np.float32), hr_y[hr_window].astype(np.float32),
                    up[hr_window].astype(np.float32))
        up = imresize(lr_y, output_shape=(c, c))
        lo, hi = EDGE_LR * scale, c - self.patch - EDGE_LR * scale
        oy, ox = int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))
        p = self.patch
        return (up[oy : oy + p, ox : ox + p].astype(np.float32), hr_y[oy : oy + p, ox : ox + p].astype(np.float32))

    def batch(self, size: int) -> Tuple[np.ndarray, ...]:
        """(lr, hr, scales); for ``lr_resolution='input'`` (lr, bicubic, hr, scales), as
        ``data.InputResolutionPatchSampler`` gives them."""
        scales = np.array([self.scales[int(i)] for i in self.rng.integers(0, len(self.scales), size=size)],
                          dtype=np.int64)
        pairs = [self.sample(int(s)) for s in scales]
        lr = np.stack([p[0] for p in pairs])[:, None]
        hr = np.stack([p[1] for p in pairs])[:, None]
        if self.lr_resolution == "input":
            return lr, np.stack([p[2] for p in pairs])[:, None], hr, scales
        return lr, hr, scales
