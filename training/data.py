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
from typing import List, Sequence, Tuple

import numpy as np
from PIL import Image

from .images import list_images, read_y
from .imresize import bicubic_degrade, imresize, modcrop

PATCH = 41
DOWNSCALES = (1.0, 0.7, 0.5)
SCALES = (2, 3, 4)


@dataclass
class Pair:
    hr: np.ndarray  # float32 (H, W) in [0, 1]
    lr: np.ndarray  # float32, bicubic-upscaled, same size
    scale: int


def read_train_y(path: Path) -> np.ndarray:
    """Training images: 8-bit luminance files (``train-y``) or RGB files (converted to Y)."""
    with Image.open(path) as im:
        if im.mode == "L":
            return np.asarray(im, dtype=np.float64) / 255.0
    return read_y(path)


def build_pairs(
    folders: Sequence[Path],
    scales: Sequence[int] = SCALES,
    downscales: Sequence[float] = DOWNSCALES,
    limit: int | None = None,
) -> List[Pair]:
    paths: List[Path] = []
    for f in folders:
        paths.extend(list_images(Path(f)))
    if limit is not None:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"no training images in {list(map(str, folders))}")
    pairs: List[Pair] = []
    for p in paths:
        y = read_train_y(p)
        for f in downscales:
            hr_f = y if f == 1.0 else np.clip(imresize(y, scale=f), 0.0, 1.0)
            for s in scales:
                hr = modcrop(hr_f, s)
                if min(hr.shape) < PATCH:
                    continue
                lr = bicubic_degrade(hr, s)
                pairs.append(Pair(hr.astype(np.float32), lr.astype(np.float32), s))
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
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def batch(self, size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        lr = np.empty((size, 1, PATCH, PATCH), dtype=np.float32)
        hr = np.empty_like(lr)
        scales = np.empty(size, dtype=np.int64)
        idx = self.rng.choice(len(self.pairs), size=size, p=self.prob)
        for i, k in enumerate(idx):
            p = self.pairs[k]
            top = self.rng.integers(0, p.hr.shape[0] - PATCH + 1)
            left = self.rng.integers(0, p.hr.shape[1] - PATCH + 1)
            a = p.lr[top : top + PATCH, left : left + PATCH]
            b = p.hr[top : top + PATCH, left : left + PATCH]
            rot = int(self.rng.integers(0, 4))
            flip = bool(self.rng.integers(0, 2))
            a, b = np.rot90(a, rot), np.rot90(b, rot)
            if flip:
                a, b = a[:, ::-1], b[:, ::-1]
            lr[i, 0], hr[i, 0] = a, b
            scales[i] = p.scale
        return lr, hr, scales
