"""Reading benchmark and training images as luminance Y in [0, 1]."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np
from PIL import Image

from .color import rgb_to_y

IMAGE_SUFFIXES = {".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"}


def list_images(folder: Path) -> List[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def list_training_images(folders: Sequence[Path], limit: Optional[int] = None) -> List[Path]:
    """The image files of every training folder, in order; at most ``limit`` (tests); none is an error."""
    paths: List[Path] = []
    for f in folders:
        paths.extend(list_images(Path(f)))
    if limit is not None:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"no training images in {list(map(str, folders))}")
    return paths


def read_y(path: Path) -> np.ndarray:
    """Y of an image file as float64 in [0, 1]; a grey image is its own Y.

    Y is computed from the 8-bit RGB and kept unrounded (the evaluation rounds once, in
    the metric). A single-channel file is taken as Y already.
    """
    im = Image.open(path)
    if im.mode in ("L", "I;16", "I"):
        arr = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
        return arr
    rgb = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    return rgb_to_y(rgb)
