"""Training pairs as in the paper: 41x41 sub-images, scales 2/3/4 mixed in one set.

Augmentation (the paper's, after VDSR): each HR image also down-scaled by 0.7 and 0.5,
then every sub-image flipped horizontally and rotated by 0/90/180/270 degrees. The LR
input of an HR image is bicubic down-scaling by 1/s then bicubic up-scaling to the HR
size (MATLAB ``imresize`` semantics). LR images are made once per (image, down-scale,
scale) from the whole image, so sub-images carry no border effects of the resize;
flips and right-angle rotations commute with the separable symmetric bicubic, so they
are applied to the sub-images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from .degrade import web_photo
from .images import list_training_images, read_y
from .imresize import bicubic_degrade, imresize, modcrop

PATCH = 41
DOWNSCALES = (1.0, 0.7, 0.5)
HR_JPEG_SEED = 20  # the web-photo targets' qualities: one draw per image copy, the same every run
SCALES = (2, 3, 4)


@dataclass
class Pair:
    hr: np.ndarray  # float32 (H, W) in [0, 1]
    lr: np.ndarray  # float32, bicubic-upscaled, same size
    scale: int
    small: Optional[np.ndarray] = None  # float32 (H/s, W/s): the LR image itself (input-resolution pairs)


def read_train_y(path: Path) -> np.ndarray:
    """Training images: 8-bit luminance files (``train-y``) or RGB files (converted to Y)."""
    with Image.open(path) as im:
        if im.mode == "L":
            return np.asarray(im, dtype=np.float64) / 255.0
    return read_y(path)


HrJpeg = Optional[Tuple[int, int]]


def downscaled_training_images(
    folders: Sequence[Path], downscales: Sequence[float], limit: int | None, hr_jpeg: HrJpeg = None
) -> Iterator[np.ndarray]:
    """Every training image at every down-scale (the augmentation), in a fixed order; with
    ``hr_jpeg`` each copy is then saved as a JPEG at a quality in that range (``degrade.web_photo``),
    drawn from a fixed seed so a resumed run rebuilds the same targets."""
    rng = np.random.default_rng(HR_JPEG_SEED)
    for p in list_training_images(folders, limit):
        y = read_train_y(p)
        for f in downscales:
            copy = y if f == 1.0 else np.clip(imresize(y, scale=f), 0.0, 1.0)
            yield web_photo(copy, hr_jpeg, rng) if hr_jpeg else copy


def build_pairs(
    folders: Sequence[Path],
    scales: Sequence[int] = SCALES,
    downscales: Sequence[float] = DOWNSCALES,
    limit: int | None = None,
    hr_jpeg: HrJpeg = None,
) -> List[Pair]:
    pairs: List[Pair] = []
    for hr_f in downscaled_training_images(folders, downscales, limit, hr_jpeg):
        for s in scales:
            hr = modcrop(hr_f, s)
            if min(hr.shape) < PATCH:
                continue
            lr = bicubic_degrade(hr, s)
            pairs.append(Pair(hr.astype(np.float32), lr.astype(np.float32), s))
    return pairs


FAST_PATCH = 24  # LR side of an input-resolution patch (its HR side is s times larger)


def build_input_resolution_pairs(
    folders: Sequence[Path],
    scale: int,
    downscales: Sequence[float] = DOWNSCALES,
    limit: int | None = None,
    patch: int = FAST_PATCH,
    hr_jpeg: HrJpeg = None,
) -> List[Pair]:
    """Pairs for an input-resolution model (cmsc-fast): HR, its bicubic LR at 1/s size and the
    LR bicubic-upscaled back (the model's global residual), one scale."""
    pairs: List[Pair] = []
    for hr_f in downscaled_training_images(folders, downscales, limit, hr_jpeg):
        hr = modcrop(hr_f, scale)
        if min(hr.shape) < patch * scale:
            continue
        small = imresize(hr, scale=1.0 / scale)
        up = imresize(small, output_shape=hr.shape[:2])
        pairs.append(Pair(hr.astype(np.float32), up.astype(np.float32), scale, small.astype(np.float32)))
    return pairs


def patches_per_epoch(pairs: Sequence[Pair], augmentations: int = 8) -> int:
    """Non-overlapping 41x41 sub-images of all pairs times the 8 flips/rotations."""
    return augmentations * sum((p.hr.shape[0] // PATCH) * (p.hr.shape[1] // PATCH) for p in pairs)


class PatchSampler:
    """Draws random augmented 41x41 (lr, hr, scale) batches; its state is checkpointable."""

    def __init__(self, pairs: Sequence[Pair], seed: int):
        self.pairs = list(pairs)
        area = np.array([(p.hr.shape[0] - PATCH + 1) * (p.hr.shape[1] - PATCH + 1) for p in pairs], dtype=np.float64)
        self.prob = area / area.sum()
        # Number of valid top/left positions of a sub-image in each pair.
        self.span_h = np.array([p.hr.shape[0] - PATCH + 1 for p in pairs], dtype=np.int64)
        self.span_w = np.array([p.hr.shape[1] - PATCH + 1 for p in pairs], dtype=np.int64)
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def batch(self, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        # The draws are vectorised and the flips/rotations applied per group of equal
        # transform, so a batch of 128 costs about a millisecond: on a GPU the sampler
        # runs between steps and must not become the bottleneck.
        idx = self.rng.choice(len(self.pairs), size=size, p=self.prob)
        tops = self.rng.integers(0, self.span_h[idx])
        lefts = self.rng.integers(0, self.span_w[idx])
        rots = self.rng.integers(0, 4, size=size)
        flips = self.rng.integers(0, 2, size=size).astype(bool)
        lr = np.empty((size, 1, PATCH, PATCH), dtype=np.float32)
        hr = np.empty_like(lr)
        for i, (k, top, left) in enumerate(zip(idx.tolist(), tops.tolist(), lefts.tolist())):
            p = self.pairs[k]
            lr[i, 0] = p.lr[top : top + PATCH, left : left + PATCH]
            hr[i, 0] = p.hr[top : top + PATCH, left : left + PATCH]
        for r in range(1, 4):
            m = rots == r
            if m.any():
                lr[m] = np.rot90(lr[m], r, axes=(2, 3))
                hr[m] = np.rot90(hr[m], r, axes=(2, 3))
        lr[flips] = lr[flips][..., ::-1]
        hr[flips] = hr[flips][..., ::-1]
        scales = np.array([self.pairs[k].scale for k in idx], dtype=np.int64)
        return lr, hr, scales


class InputResolutionPatchSampler:
    """Draws augmented (lr patch x patch, bicubic, hr (s*patch)^2, scale) batches for cmsc-fast.

    Flips and right-angle rotations commute with the integer-factor bicubic (the modcropped
    HR's sample grid is symmetric), so they are applied to the three aligned patches.
    Checkpointable like ``PatchSampler``.
    """

    def __init__(self, pairs: Sequence[Pair], seed: int, patch: int = FAST_PATCH):
        self.pairs = list(pairs)
        self.patch = patch
        self.span_h = np.array([p.small.shape[0] - patch + 1 for p in pairs], dtype=np.int64)
        self.span_w = np.array([p.small.shape[1] - patch + 1 for p in pairs], dtype=np.int64)
        area = (self.span_h * self.span_w).astype(np.float64)
        self.prob = area / area.sum()
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def batch(self, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        idx = self.rng.choice(len(self.pairs), size=size, p=self.prob)
        tops = self.rng.integers(0, self.span_h[idx])
        lefts = self.rng.integers(0, self.span_w[idx])
        rots = self.rng.integers(0, 4, size=size)
        flips = self.rng.integers(0, 2, size=size).astype(bool)
        n = self.patch
        s = self.pairs[int(idx[0])].scale
        lr = np.empty((size, 1, n, n), dtype=np.float32)
        up = np.empty((size, 1, n * s, n * s), dtype=np.float32)
        hr = np.empty_like(up)
        for i, (k, top, left) in enumerate(zip(idx.tolist(), tops.tolist(), lefts.tolist())):
            p = self.pairs[k]
            lr[i, 0] = p.small[top : top + n, left : left + n]
            up[i, 0] = p.lr[top * s : (top + n) * s, left * s : (left + n) * s]
            hr[i, 0] = p.hr[top * s : (top + n) * s, left * s : (left + n) * s]
        for r in range(1, 4):
            m = rots == r
            if m.any():
                for a in (lr, up, hr):
                    a[m] = np.rot90(a[m], r, axes=(2, 3))
        for a in (lr, up, hr):
            a[flips] = a[flips][..., ::-1]
        scales = np.full(size, s, dtype=np.int64)
        return lr, up, hr, scales


def input_patches_per_epoch(pairs: Sequence[Pair], patch: int = FAST_PATCH, augmentations: int = 8) -> int:
    return augmentations * sum((p.small.shape[0] // patch) * (p.small.shape[1] // patch) for p in pairs)


class PrefetchingSampler:
    """Draws the next batches of a PatchSampler in a background thread.

    On a GPU the step is short enough that drawing 41x41 sub-images from the whole
    training set (random memory access, ~10 ms per batch of 128) would idle the device
    between steps. Batches come out in the sampler's own order, each with the sampler
    state after it was drawn, so a checkpoint stores the state of the last *consumed*
    batch and a resume continues the same sequence.
    """

    def __init__(self, sampler: PatchSampler, batch_size: int, depth: int = 6):
        import copy
        import queue
        import threading

        self._sampler = sampler
        self._consumed_state = copy.deepcopy(sampler.state())
        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._stop = threading.Event()

        def produce() -> None:
            while not self._stop.is_set():
                batch = sampler.batch(batch_size)
                item = (batch, copy.deepcopy(sampler.state()))
                while not self._stop.is_set():
                    try:
                        self._queue.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue

        self._thread = threading.Thread(target=produce, name="patch-prefetch", daemon=True)
        self._thread.start()

    def batch(self, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        del size  # fixed at construction
        batch, state = self._queue.get()
        self._consumed_state = state
        return batch

    def state(self) -> dict:
        return self._consumed_state

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
