"""Which interpolation of a clean model and its photo fine-tune serves which JPEG quality.

``/usr/bin/python3 -m training.photo_bands --clean training/checkpoints/cmsc-lite \\
    --photo training/checkpoints/cmsc-lite-photo --qualities png,95,90,85,80,75 --alphas 0,0.25,0.5,0.75,1``

Each HR image (RGB) is cropped to a multiple of the scale, down-scaled by MATLAB bicubic,
rounded to 8 bits and saved as a JPEG at each IJG quality (libjpeg via Pillow, 4:2:0), then
its Y is bicubic-upscaled and run through the weights (1 - alpha) * clean + alpha * photo
(WiSE-FT, ``export.interpolate_weights``), in PyTorch fp32. Prints the PSNR gain over bicubic
of the same file (8-bit Y, ``scale`` border removed) per quality and alpha: the photo
variants' JPEG bands in the cards are read off this table (README, "Photos").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from .checkpoint import load_model_weights
from .color import rgb_to_y
from .degrade import jpeg
from .evaluate import predict_all_stages
from .export import interpolate_weights
from .images import list_images
from .imresize import imresize, modcrop
from .metrics import psnr
from .model import CMSC, CMSCConfig


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clean", required=True, help="run folder of the clean model")
    ap.add_argument("--photo", required=True, help="run folder of its photo fine-tune")
    ap.add_argument("--datasets", default="../shared/datasets/Set5")
    ap.add_argument("--qualities", default="png,95,90,85,80,75,65,50")
    ap.add_argument("--alphas", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--photo-weights", choices=["averaged", "last"], default="averaged",
                    help="the fine-tune's moving average of the weights (where it keeps one) or its last step's")
    ap.add_argument("--scale", type=int, default=2, help="(a cmsc-fast model runs at its own scale)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, clean, _ = load_model_weights(Path(args.clean))
    _, photo, _ = load_model_weights(Path(args.photo), weights=args.photo_weights)
    alphas = [float(a) for a in args.alphas.split(",")]
    models = {}
    for alpha in alphas:
        model = CMSC(CMSCConfig.from_dict(cfg))
        model.load_state_dict(interpolate_weights(clean, photo, alpha))
        models[alpha] = model.eval()
    images = [p for d in args.datasets.split(",") for p in list_images(Path(d))]
    s = CMSCConfig.from_dict(cfg).upscale or args.scale
    print(f"{len(images)} images, x{s}; PSNR gain over bicubic of the same file (dB), by alpha "
          f"(0 = {args.clean}, 1 = {args.photo})")
    print("quality " + " ".join(f"{a:>7}" for a in alphas))
    for quality in args.qualities.split(","):
        gains = {a: [] for a in alphas}
        for path in images:
            with Image.open(path) as im:
                rgb = modcrop(np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0, s)
            lr8 = np.clip(np.rint(imresize(rgb, scale=1.0 / s) * 255.0), 0, 255).astype(np.uint8)
            if quality != "png":
                lr8 = jpeg(lr8, int(quality), chroma_444=False)
            hr_y = rgb_to_y(rgb)
            lr_y = rgb_to_y(lr8.astype(np.float64) / 255.0)
            up = imresize(lr_y, output_shape=rgb.shape[:2])
            base = psnr(hr_y, up, s)
            for alpha, model in models.items():
                # cmsc-fast takes the LR Y itself with ``up`` as its residual.
                gains[alpha].append(psnr(hr_y, predict_all_stages(model, up, lr_y)[-1], s) - base)
        print(f"{quality:>7} " + " ".join(f"{np.mean(gains[a]):+7.2f}" for a in alphas), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
