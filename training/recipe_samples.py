"""Write what a degradation recipe makes of the training photos, to compare with real files.

``/usr/bin/python3 -m training.recipe_samples --recipe photo-jpeg-band --scale 2 --out /tmp/band``

Each training photo (whole, at its own size or ``--downscale``d as a run's copies are, cropped to a multiple of the scale) goes through
``degrade.degrade`` once, as a training sample would, and is written as the decoded LR (PNG,
so the pixels are exactly the ones the model sees). ``npm run bench:photo-stats`` then measures
these folders and real photos with the engine's own estimators (noise σ of Y, JPEG quality from
the file's tables), so a recipe is judged against Sun40's files by one definition of each.
Printed here: the share of clean, noisy and JPEG samples and the qualities drawn, which the
decoded PNGs no longer carry.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

from .degrade import CLEAN, NAMED_RECIPES, degrade
from .photo_data import DEFAULT_RGB_DATA, load_rgb_images


def write_samples(recipe_name: str, scale: int, out: Path, folders: List[str], seed: int,
                  limit: Optional[int] = None, downscale: float = 1.0,
                  hr_jpeg: Optional[Tuple[int, int]] = None) -> dict:
    recipe = CLEAN if recipe_name == "none" else NAMED_RECIPES[recipe_name]  # none: a clean model's pairs
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    qualities: List[int] = []
    clean = noisy = 0
    images = load_rgb_images([Path(f) for f in folders], downscales=(downscale,), limit=limit,
                             hr_jpeg=hr_jpeg)
    for index, rgb in enumerate(images):
        h, w = rgb.shape[0] - rgb.shape[0] % scale, rgb.shape[1] - rgb.shape[1] % scale
        lr8, applied = degrade(rgb[:h, :w].astype(np.float64) / 255.0, scale, rng, recipe)
        clean += applied.steps == ["bicubic"]
        noisy += any(step.startswith(("gauss", "poisson")) for step in applied.steps)
        if applied.jpeg_quality is not None:
            qualities.append(applied.jpeg_quality)
        Image.fromarray(lr8).save(out / f"{index:04d}.png")
    n = len(images)
    summary = {"recipe": recipe_name, "scale": scale, "downscale": downscale,
               **({"hr_jpeg": f"{hr_jpeg[0]}-{hr_jpeg[1]}"} if hr_jpeg else {}), "samples": n, "clean": clean / n,
               "noisy": noisy / n, "jpeg": len(qualities) / n}
    if qualities:
        summary["jpeg_quality_p10_p50_p90"] = [int(np.percentile(qualities, p)) for p in (10, 50, 90)]
    return summary


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", required=True, choices=["none", *sorted(NAMED_RECIPES)])
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--out", required=True, help="folder for the decoded LR samples (PNG)")
    ap.add_argument("--data", nargs="+", default=DEFAULT_RGB_DATA)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--downscale", type=float, default=1.0,
                    help="which of a run's down-scaled copies (train --downscales) to sample: 1, 0.7, 0.5 ...")
    ap.add_argument("--limit-images", type=int, default=None)
    ap.add_argument("--hr-jpeg", type=int, nargs=2, metavar=("QMIN", "QMAX"), default=None,
                    help="web-photo targets, as train --hr-jpeg makes them")
    args = ap.parse_args(argv)
    summary = write_samples(args.recipe, args.scale, Path(args.out), args.data, args.seed, args.limit_images,
                            args.downscale, tuple(args.hr_jpeg) if args.hr_jpeg else None)
    print(" ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
