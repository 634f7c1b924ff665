"""Chroma restoration for JPEG photos: the colour half of what a JPEG loses.

The super-resolution models see only Y; the engine takes Cb and Cr from the bicubic
upscaling of the decoded file. A JPEG stores chroma at half resolution (4:2:0) and quantises it
harder than luma, so the output keeps the file's 16x16-pixel colour blocks and the colour
bleeding across edges. Measured on held-back web photos saved at q75, a perfect chroma would add
about 0.9 dB of RGB PSNR at x2 and x4, more than the Y model adds.

``ChromaRestorer`` works at the **input's** resolution, before any upscaling, so one small model
serves every scale: it takes the decoded Y, Cb, Cr and returns Cb, Cr as they were before
compression (the engine then upscales them with the same bicubic as before). Y guides it: the
colour edges a JPEG smeared are where the luma edges are (the idea of joint / guided
upsampling, learned). The body runs at half resolution, where 4:2:0 chroma lives, which also
doubles its reach: a receptive radius of about 20 input pixels covers a chroma block and its
neighbours. Output = input chroma + a residual from a zero-initialised last layer, so an
untrained model is the identity and a clean file passes through almost unchanged.

Training pairs (``ChromaPatchSampler``): a crop of a training photo, down-scaled by a random
factor (bicubic, as web sizes and the evaluation's LR are made), is the clean target; the input
is that crop after optional noise and a JPEG at a random quality with 4:2:0 (or 4:4:4) chroma,
as libjpeg writes it. Some pairs stay clean so the model learns to leave clean files alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from .color import rgb_to_ycbcr
from .degrade import jpeg


@dataclass(frozen=True)
class ChromaConfig:
    head_channels: int = 24  # full (input) resolution
    body_channels: int = 48  # half resolution
    blocks: int = 4  # residual blocks at half resolution

    def to_dict(self) -> dict:
        return asdict(self)


class _ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a = nn.Conv2d(c, c, 3, padding=1)
        self.b = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.b(F.leaky_relu(self.a(x), 0.1))


class ChromaRestorer(nn.Module):
    """(B, 3, H, W) decoded Y, Cb, Cr in [0, 1], H and W even -> (B, 2, H, W) restored Cb, Cr."""

    def __init__(self, cfg: ChromaConfig = ChromaConfig()):
        super().__init__()
        self.cfg = cfg
        h, b = cfg.head_channels, cfg.body_channels
        self.head = nn.Conv2d(3, h, 3, padding=1)
        self.down = nn.Conv2d(h, b, 3, stride=2, padding=1)
        self.body = nn.Sequential(*[_ResBlock(b) for _ in range(cfg.blocks)])
        self.up = nn.Conv2d(b, 4 * h, 3, padding=1)
        self.tail = nn.Conv2d(h, 2, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, ycbcr: torch.Tensor) -> torch.Tensor:
        # Centre the planes: Cb and Cr sit around 0.5, Y around its mid-grey.
        x = ycbcr - 0.5
        head = F.leaky_relu(self.head(x), 0.1)
        low = F.leaky_relu(self.down(head), 0.1)
        low = self.body(low)
        up = F.pixel_shuffle(self.up(low), 2)
        features = F.leaky_relu(up + head, 0.1)
        return ycbcr[:, 1:3] + self.tail(features)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def macs_per_pixel(self) -> float:
        """Multiply-accumulates per input pixel (convolutions only)."""
        c = self.cfg
        full = 3 * c.head_channels * 9 + c.head_channels * 2 * 9
        half = c.head_channels * c.body_channels * 9 + c.blocks * 2 * c.body_channels**2 * 9
        half += c.body_channels * 4 * c.head_channels * 9
        return full + half / 4.0


# ---------------------------------------------------------------------------------------------
# Training pairs


@dataclass(frozen=True)
class ChromaDegradation:
    clean_fraction: float = 0.12
    # Bicubic down-scale of the photo before it becomes the "file" (web sizes; the LR of x2-x4).
    downscales: Tuple[float, ...] = (1.0, 0.5, 1 / 3, 0.25)
    noise_probability: float = 0.25
    noise_sigma: Tuple[float, float] = (1.0, 6.0)  # 8-bit levels, colour noise
    jpeg_quality: Tuple[int, int] = (30, 97)
    chroma_444_probability: float = 0.15
    double_jpeg_probability: float = 0.15  # a re-saved file: a second JPEG at another quality

    def to_dict(self) -> dict:
        return asdict(self)


class ChromaPatchSampler:
    """Random (degraded YCbCr, clean CbCr) patches at input resolution; checkpointable RNG."""

    def __init__(self, images: Sequence[np.ndarray], seed: int, patch: int = 64,
                 degradation: ChromaDegradation = ChromaDegradation()):
        if patch % 16:
            raise ValueError("patch must be a multiple of 16 (JPEG chroma blocks, half-resolution body)")
        self.patch = patch
        self.degradation = degradation
        self.margin = 16  # pixels of file around the patch: the JPEG sees photo, not a border
        side = patch + 2 * self.margin
        self.images = [im for im in images if min(im.shape[:2]) >= side]
        if not self.images:
            raise ValueError("no training image is large enough")
        area = np.array([im.shape[0] * im.shape[1] for im in self.images], dtype=np.float64)
        self.prob = area / area.sum()
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def sample(self) -> Tuple[np.ndarray, np.ndarray]:
        rng, d = self.rng, self.degradation
        im = self.images[int(rng.choice(len(self.images), p=self.prob))]
        side = self.patch + 2 * self.margin  # the file's side, in its own pixels
        # Down-scales this photo is large enough for (small training images only serve 1.0).
        fits = [f for f in d.downscales if int(np.ceil(side / f)) <= min(im.shape[:2])]
        f = float(fits[int(rng.integers(0, len(fits)))])
        src = int(np.ceil(side / f))
        top = int(rng.integers(0, im.shape[0] - src + 1))
        left = int(rng.integers(0, im.shape[1] - src + 1))
        crop = im[top : top + src, left : left + src]
        crop = np.rot90(crop, int(rng.integers(0, 4)))
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = np.ascontiguousarray(crop)
        if src != side:
            crop = np.asarray(Image.fromarray(crop).resize((side, side), Image.BICUBIC, reducing_gap=None))
        clean = crop
        noisy = clean.astype(np.float64)
        if rng.random() >= d.clean_fraction:
            if rng.random() < d.noise_probability:
                noisy = noisy + rng.standard_normal(noisy.shape) * rng.uniform(*d.noise_sigma)
            degraded = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
            # The JPEG grid starts at the file's corner; the patch is cut at an offset inside.
            q = int(rng.integers(d.jpeg_quality[0], d.jpeg_quality[1] + 1))
            degraded = jpeg(degraded, q, rng.random() < d.chroma_444_probability)
            if rng.random() < d.double_jpeg_probability:
                q2 = int(rng.integers(d.jpeg_quality[0], d.jpeg_quality[1] + 1))
                degraded = jpeg(degraded, q2, False)
        else:
            degraded = clean
        o = int(rng.integers(0, 2 * self.margin + 1))
        window = (slice(o, o + self.patch),) * 2
        x = rgb_to_ycbcr(degraded[window].astype(np.float64) / 255.0)
        y = rgb_to_ycbcr(clean[window].astype(np.float64) / 255.0)[..., 1:3]
        return x.transpose(2, 0, 1).astype(np.float32), y.transpose(2, 0, 1).astype(np.float32)

    def batch(self, size: int) -> Tuple[np.ndarray, np.ndarray]:
        pairs = [self.sample() for _ in range(size)]
        return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def load_training_photos(folders: Sequence[str], limit: int | None = None) -> list:
    """The training photos as uint8 RGB at full size (the sampler down-scales per sample)."""
    from pathlib import Path

    from .images import list_training_images

    out = []
    for p in list_training_images([Path(f) for f in folders], limit):
        with Image.open(p) as im:
            out.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
    return out
