"""Export the chroma restorer and attach it to the photo variants' cards.

``/usr/bin/python3 -m training.export_chroma --run training/checkpoints/cmsc-chroma
--attach cmsc-fast-photo cmsc-fast-photo-light --evaluate ../shared/datasets/Sun40``

Writes ``models/cmsc-chroma.onnx`` (the run's weight average; input ``ycbcr`` [1, 3, H, W],
output ``cbcr`` [1, 2, H, W], H and W even), checks it against PyTorch in onnxruntime-node, and
adds a ``chromaRestorer`` block to each named card: the engine runs the restorer for every file
that card's model serves (photo variants serve JPEGs and noisy files). The card's
``filesDigest`` then covers the restorer too, so a rerun redoes outputs when it changes.
``training.export`` keeps the block when it rewrites a card, so re-exporting the photo models
does not need this run again.

``--evaluate``: the chroma part of the evaluation protocol on real photos: HR modcropped, LR by
MATLAB bicubic, saved as JPEG (4:2:0, Pillow/libjpeg) at each quality, the decoded Cb/Cr
upscaled by the same bicubic, with and without restoration, CbCr PSNR against the HR's
(border = scale), and the RGB PSNR the output would have if its Y were the HR's (the colour
part of the RGB error alone).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image

from .checkpoint import load_checkpoint
from .chroma import ChromaConfig, ChromaRestorer
from .color import rgb_to_ycbcr, ycbcr_to_rgb
from .degrade import jpeg, quantise
from .export import OPSET
from .images import list_images
from .imresize import imresize, modcrop
from .metrics import psnr
from .onnx_node import REPO_ROOT, run_onnxruntime_node, sha256

FILE = "cmsc-chroma.onnx"
INPUT, OUTPUT = "ycbcr", "cbcr"


def receptive_radius(cfg: ChromaConfig) -> int:
    """Input pixels of context an output pixel depends on (rounded up to even by the engine).

    head 3x3 (1) + down 3x3 stride 2 (2 at input resolution, plus the 1-pixel cell offset) +
    2 x blocks 3x3 convolutions at half resolution (2 each) + up 3x3 at half resolution (2, plus
    the pixel shuffle's 1) + tail 3x3 (1)."""
    return 1 + 3 + 2 * 2 * cfg.blocks + 3 + 1


def load_average(run: Path) -> tuple[ChromaRestorer, dict]:
    state = load_checkpoint(run)
    if state is None or state.get("kind") != "chroma":
        raise SystemExit(f"{run}: no chroma checkpoint")
    model = ChromaRestorer(ChromaConfig(**state["config"]))
    model.load_state_dict(state["ema"])
    return model.eval(), state


def restore(model: ChromaRestorer, ycc: np.ndarray) -> np.ndarray:
    """(H, W, 3) YCbCr -> (H, W, 2) restored CbCr (edge-padded to even sides)."""
    h, w = ycc.shape[:2]
    padded = np.pad(ycc, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    with torch.no_grad():
        out = model(torch.from_numpy(padded.transpose(2, 0, 1)[None].astype(np.float32)))[0].numpy()
    return np.clip(out.transpose(1, 2, 0)[:h, :w], 0.0, 1.0).astype(np.float64)


def evaluate(model: ChromaRestorer, folder: Path, scales, qualities) -> list:
    rows = []
    images = list_images(folder)
    for s in scales:
        for q in qualities:
            acc = {"bicubic": [], "restored": [], "rgb_bicubic": [], "rgb_restored": []}
            for p in images:
                with Image.open(p) as im:
                    hr = modcrop(np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0, s)
                lr = np.clip(imresize(hr, output_shape=(hr.shape[0] // s, hr.shape[1] // s)), 0, 1)
                lr_file = jpeg(quantise(lr), q, chroma_444=False) / 255.0 if q else np.rint(lr * 255.0) / 255.0
                ycc = rgb_to_ycbcr(lr_file)
                hr_ycc = rgb_to_ycbcr(hr)
                for name, chroma in (("bicubic", ycc[..., 1:3]), ("restored", restore(model, ycc))):
                    up = imresize(chroma, output_shape=hr.shape[:2])
                    acc[name].append(psnr(hr_ycc[..., 1:3], up, s))
                    rgb = np.clip(ycbcr_to_rgb(np.concatenate([hr_ycc[..., :1], up], axis=2)), 0, 1)
                    acc["rgb_" + name].append(psnr(hr, rgb, s))
            row = {"dataset": folder.name, "scale": s, "input": f"q{q}" if q else "png",
                   **{k: round(float(np.mean(v)), 3) for k, v in acc.items()}}
            rows.append(row)
            print(f"{folder.name} x{s} {row['input']}: CbCr {row['bicubic']:.2f} -> {row['restored']:.2f} dB "
                  f"({row['restored'] - row['bicubic']:+.2f}); RGB with true Y {row['rgb_bicubic']:.2f} -> "
                  f"{row['rgb_restored']:.2f} ({row['rgb_restored'] - row['rgb_bicubic']:+.2f})", flush=True)
    return rows


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="training/checkpoints/cmsc-chroma")
    ap.add_argument("--out", default=str(REPO_ROOT / "models"))
    ap.add_argument("--attach", nargs="*", default=[], help="card names to attach the restorer to")
    ap.add_argument("--evaluate", nargs="*", default=[], help="folders of photos (e.g. Sun40)")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--qualities", default="0,90,75,50", help="0: PNG (no JPEG)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    model, state = load_average(Path(args.run))
    out = Path(args.out)
    path = out / FILE
    with torch.no_grad():
        torch.onnx.export(model, torch.rand(1, 3, 64, 48), str(path), input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {2: "height", 3: "width"}, OUTPUT: {2: "height", 3: "width"}},
                          opset_version=OPSET, do_constant_folding=True)
    x = np.random.default_rng(0).random((1, 3, 96, 80), dtype=np.float32)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    parity = float(np.max(np.abs(ref - run_onnxruntime_node(path, x))))
    print(f"wrote {path}: parity with onnxruntime-node {parity:.2e}", flush=True)
    if parity > 1e-4:
        raise SystemExit("parity check failed")

    sessions = state["sessions"]
    evaluation = []
    for folder in args.evaluate:
        evaluation += evaluate(model, Path(folder), [int(s) for s in args.scales.split(",")],
                               [int(q) for q in args.qualities.split(",")])
    block = {
        "file": FILE,
        "sha256": sha256(path),
        "bytes": path.stat().st_size,
        "input": INPUT,
        "output": OUTPUT,
        "receptiveFieldRadius": receptive_radius(model.cfg),
        "parameters": model.parameter_count(),
        "macsPerPixel": model.macs_per_pixel(),
        "parityMaxAbsDiff": parity,
        "architecture": model.cfg.to_dict(),
        "training": {
            "iterations": state["iteration"],
            "hours": round(state["wall_seconds"] / 3600.0, 2),
            "weights": "exponential moving average (decay 0.999)",
            "degradation": state["degradation"],
            "sessions": sessions,
        },
        "evaluation": evaluation,
    }
    for name in args.attach:
        card_path = out / f"{name}.json"
        card = json.loads(card_path.read_text())
        card["chromaRestorer"] = block
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"attached to {card_path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
