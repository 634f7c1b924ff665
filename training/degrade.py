"""Photo degradations for the low-resolution side of a training pair.

Real inputs are not the paper's clean bicubic images: they are camera or web JPEGs, often
with sensor noise, sometimes slightly soft, down-scaled by whatever the camera or the site
used. A model trained only on clean pairs sharpens the 8x8 JPEG blocks into a grid. This
module makes the LR side look like such a file, in the spirit of Real-ESRGAN's degradation
model (Wang et al. 2021) but first-order and milder, because our users' photos are mostly
light-to-medium JPEGs rather than re-shared internet images:

1. optical blur (isotropic Gaussian on the HR image, sometimes),
2. down-scaling by 1/s with a random kernel (MATLAB bicubic, bilinear, box/area, Lanczos),
3. sensor noise (Gaussian, colour or grey, and/or signal-dependent Poisson-like), applied
   either before the down-scaling (then averaged down, as at capture) or after it,
4. 8-bit quantisation, then JPEG at a random quality, compressed in **RGB** with 4:2:0 or
   4:4:4 chroma by libjpeg (Pillow), so chroma sub-sampling and quantisation reach Y as
   they do in a real file; Y is taken from the decoded RGB afterwards.

The HR target stays clean. Every random choice comes from the ``numpy.random.Generator``
passed in, so a sampler that checkpoints its generator resumes the same degradations.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field, replace
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from .imresize import imresize

DOWNSCALE_KERNELS = ("bicubic", "bilinear", "area", "lanczos")
_PIL_FILTERS = {"bilinear": Image.BILINEAR, "area": Image.BOX, "lanczos": Image.LANCZOS}


@dataclass(frozen=True)
class DegradationRecipe:
    """Probabilities and ranges of each step; the card records the recipe a model saw."""

    clean_fraction: float = 0.2  # samples left exactly as the paper's clean bicubic pair
    blur_probability: float = 0.25
    blur_sigma: Tuple[float, float] = (0.3, 1.2)  # HR pixels
    kernel_weights: Tuple[float, ...] = (0.4, 0.2, 0.2, 0.2)  # over DOWNSCALE_KERNELS
    noise_probability: float = 0.4
    noise_before_downscale: float = 0.3  # share of noisy samples whose noise is added at HR
    gaussian_sigma: Tuple[float, float] = (1.0, 8.0)  # 8-bit levels
    grey_noise_probability: float = 0.3  # luminance-only noise (same in R, G, B)
    poisson_probability: float = 0.4  # signal-dependent noise instead of Gaussian
    poisson_peak: Tuple[float, float] = (40.0, 400.0)  # photo-electrons at white: fewer is noisier
    jpeg_probability: float = 0.9
    jpeg_quality: Tuple[int, int] = (40, 95)
    chroma_444_probability: float = 0.2  # 4:4:4 (some cameras at high quality); else 4:2:0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kernels"] = list(DOWNSCALE_KERNELS)
        return d

    @staticmethod
    def from_dict(d: dict) -> "DegradationRecipe":
        d = {k: v for k, v in d.items() if k != "kernels"}
        return DegradationRecipe(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


PHOTO = DegradationRecipe()
# Light compression, as phones and cameras save (IJG q85-95) and as the light band's model serves:
# fewer and milder artefacts, more clean pairs, so it keeps most of the clean model's sharpness.
PHOTO_LIGHT = DegradationRecipe(
    clean_fraction=0.25,
    blur_probability=0.15,
    blur_sigma=(0.3, 0.8),
    noise_probability=0.3,
    gaussian_sigma=(1.0, 4.0),
    poisson_peak=(150.0, 600.0),
    jpeg_quality=(80, 97),
)
# The files the photo variant actually serves (estimated IJG q <= 79, mostly web uploads at
# q70-80): JPEG on almost every sample, 4:2:0, resized mostly by bicubic or Lanczos, little
# noise (a resize averages it away). PHOTO spends about half its samples outside that band
# (clean, q80-95, strong noise); fine-tuning on this one gives the band all of them.
PHOTO_JPEG_BAND = DegradationRecipe(
    clean_fraction=0.05,
    blur_probability=0.15,
    blur_sigma=(0.3, 0.8),
    kernel_weights=(0.55, 0.1, 0.1, 0.25),
    noise_probability=0.2,
    gaussian_sigma=(1.0, 4.0),
    poisson_peak=(150.0, 600.0),
    jpeg_probability=1.0,
    jpeg_quality=(35, 85),
    chroma_444_probability=0.1,
)
# The light model's own band (estimated IJG q75-95 at x2, q83-95 at x4: phone and camera files, web photos saved
# high): JPEG on almost every sample at q80-97, mostly 4:2:0, little noise or blur. PHOTO_LIGHT
# spends a quarter of its samples on clean pairs the light model never serves (PNGs go to the
# clean model) and a tenth without JPEG at all. The band recipe's clean share, kernels and blur
# sizes, with the light band's qualities and milder noise.
PHOTO_LIGHT_BAND = replace(
    PHOTO_JPEG_BAND,
    blur_probability=0.1,
    noise_probability=0.15,
    gaussian_sigma=(1.0, 3.0),
    poisson_peak=(200.0, 800.0),
    jpeg_quality=(80, 97),
    chroma_444_probability=0.2,
)
CLEAN = DegradationRecipe(clean_fraction=1.0)
NAMED_RECIPES = {"photo": PHOTO, "photo-light": PHOTO_LIGHT, "photo-jpeg-band": PHOTO_JPEG_BAND,
                 "photo-light-band": PHOTO_LIGHT_BAND}


def blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur of an (H, W, C) float image, mirror borders."""
    return gaussian_filter(img, sigma=(sigma, sigma, 0), mode="mirror")


def downscale(img: np.ndarray, scale: int, kernel: str) -> np.ndarray:
    """(H, W, C) float in [0, 1] down by an integer factor with the named kernel (antialiased)."""
    h, w = img.shape[:2]
    out_h, out_w = h // scale, w // scale
    if kernel == "bicubic":
        return imresize(img, output_shape=(out_h, out_w))
    pil_filter = _PIL_FILTERS[kernel]
    channels = [
        np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F").resize((out_w, out_h), pil_filter))
        for c in range(img.shape[2])
    ]
    return np.stack(channels, axis=-1).astype(np.float64)


def gaussian_noise(img: np.ndarray, sigma_levels: float, grey: bool, rng: np.random.Generator) -> np.ndarray:
    shape = img.shape[:2] + ((1,) if grey else (img.shape[2],))
    return img + rng.standard_normal(shape) * (sigma_levels / 255.0)


def poisson_noise(img: np.ndarray, peak: float, grey: bool, rng: np.random.Generator) -> np.ndarray:
    """Shot noise: counts ~ Poisson(x * peak), read back as counts / peak (variance x / peak)."""
    base = img.mean(axis=2, keepdims=True) if grey else img
    noisy = rng.poisson(np.clip(base, 0.0, 1.0) * peak) / peak
    return img + (noisy - base)


def quantise(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)


def jpeg(image8: np.ndarray, quality: int, chroma_444: bool) -> np.ndarray:
    """Encode and decode an (H, W, 3) uint8 RGB image (or an (H, W) luminance plane, which JPEG
    codes with the same luma table as an RGB file's Y) with libjpeg at IJG ``quality``."""
    mode = "L" if image8.ndim == 2 else "RGB"
    buf = io.BytesIO()
    Image.fromarray(image8, mode=mode).save(buf, format="JPEG", quality=int(quality),
                                            subsampling=0 if chroma_444 else 2)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert(mode), dtype=np.uint8)


def web_photo(image: np.ndarray, quality_range: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A training image (float in [0, 1], RGB or Y) as a web upload keeps it: 8-bit, saved once as
    JPEG 4:2:0 at a quality drawn from ``quality_range``. Used as the HR side (``train --hr-jpeg``):
    the photos we are judged on are such files (Sun40: resized, then saved at q75), and a model
    is scored on reproducing them."""
    q = int(rng.integers(quality_range[0], quality_range[1] + 1))
    return jpeg(quantise(image), q, chroma_444=False).astype(np.float64) / 255.0


@dataclass
class Applied:
    """What one call of ``degrade`` did (for tests, logs and the card's statistics)."""

    steps: List[str] = field(default_factory=list)
    jpeg_quality: int | None = None

    def as_dict(self) -> Dict[str, object]:
        return {"steps": list(self.steps), "jpeg_quality": self.jpeg_quality}


def degrade(
    hr_rgb: np.ndarray, scale: int, rng: np.random.Generator, recipe: DegradationRecipe = PHOTO
) -> Tuple[np.ndarray, Applied]:
    """The LR image a camera or website might have made of ``hr_rgb``.

    ``hr_rgb``: (H, W, 3) float in [0, 1], H and W multiples of ``scale``. Returns the LR RGB
    as uint8 (H/s, W/s, 3), as decoded from the file a user would have, and what was applied.
    A clean sample (``recipe.clean_fraction``) is exactly the paper's MATLAB-bicubic LR.
    """
    applied = Applied()
    if rng.random() < recipe.clean_fraction:
        applied.steps.append("bicubic")
        return quantise(imresize(hr_rgb, output_shape=(hr_rgb.shape[0] // scale, hr_rgb.shape[1] // scale))), applied
    img = hr_rgb
    if rng.random() < recipe.blur_probability:
        sigma = rng.uniform(*recipe.blur_sigma)
        img = blur(img, sigma)
        applied.steps.append(f"blur{sigma:.2f}")
    noisy = rng.random() < recipe.noise_probability
    noise_first = noisy and rng.random() < recipe.noise_before_downscale
    grey = rng.random() < recipe.grey_noise_probability
    poisson = rng.random() < recipe.poisson_probability
    sigma_levels = rng.uniform(*recipe.gaussian_sigma)
    peak = float(np.exp(rng.uniform(*np.log(recipe.poisson_peak))))

    def add_noise(x: np.ndarray) -> np.ndarray:
        applied.steps.append(f"poisson{peak:.0f}" if poisson else f"gauss{sigma_levels:.1f}")
        return poisson_noise(x, peak, grey, rng) if poisson else gaussian_noise(x, sigma_levels, grey, rng)

    if noise_first:
        img = add_noise(img)
    kernel = DOWNSCALE_KERNELS[int(rng.choice(len(DOWNSCALE_KERNELS), p=np.asarray(recipe.kernel_weights)))]
    img = downscale(img, scale, kernel)
    applied.steps.append(kernel)
    if noisy and not noise_first:
        img = add_noise(img)
    rgb8 = quantise(img)
    if rng.random() < recipe.jpeg_probability:
        quality = int(rng.integers(recipe.jpeg_quality[0], recipe.jpeg_quality[1] + 1))
        chroma_444 = rng.random() < recipe.chroma_444_probability
        rgb8 = jpeg(rgb8, quality, chroma_444)
        applied.jpeg_quality = quality
        applied.steps.append(f"jpeg{quality}{'-444' if chroma_444 else ''}")
    return rgb8, applied
