"""Evaluate a model with the paper's protocol and print it beside the paper's Table III.

``/usr/bin/python3 -m training.evaluate --model training/checkpoints/cmsc --dataset ../shared/datasets/Set5 --scales 2,3,4``

``--model bicubic`` evaluates the bicubic input alone: it must reproduce the paper's
bicubic row within 0.1 dB, the proof that the protocol (HR cropped to a multiple of the
scale, LR by bicubic down then up, PSNR/SSIM on 8-bit Y, ``scale`` border pixels removed)
is right before any model number is trusted.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .checkpoint import load_model_weights
from .images import list_images, read_y
from .imresize import imresize, modcrop
from .metrics import psnr, ssim
from .model import CMSC, CMSCConfig

PROTOCOL = (
    "HR Y (BT.601, MATLAB rgb2ycbcr) cropped to a multiple of the scale; LR = MATLAB-imresize bicubic "
    "down by 1/scale then up to the HR size; PSNR and SSIM on 8-bit Y with `scale` border pixels removed"
)

# The paper's Table III (PSNR dB / SSIM). Only rows we have verified are listed; a
# missing entry prints as n/a rather than a guessed number.
PAPER_TABLE: Dict[str, Dict[str, Dict[int, tuple]]] = {
    "Bicubic": {
        "Set5": {2: (33.68, None), 3: (30.40, None), 4: (28.43, None)},
        "Set14": {2: (30.24, None), 3: (27.54, None), 4: (26.00, None)},
    },
    "CMSC": {
        "Set5": {2: (37.89, None), 3: (34.24, None), 4: (31.91, None)},
    },
}


def predict_all_stages(model: CMSC, lr: np.ndarray, small: Optional[np.ndarray] = None) -> List[np.ndarray]:
    """[y_1, ..., y_S, final] for one bicubic-upscaled Y image, in float64.

    An input-resolution model (cmsc-fast) also needs ``small``, the LR image itself; ``lr``
    is then its residual input.
    """
    device = next(model.parameters()).device
    bicubic = torch.from_numpy(lr.astype(np.float32))[None, None].to(device)
    if model.cfg.upscale:
        if small is None:
            raise ValueError("an input-resolution model needs the low-resolution image")
        x = torch.from_numpy(small.astype(np.float32))[None, None].to(device)
    else:
        x = bicubic
    with torch.no_grad():
        preds = model.forward_all(x, bicubic=bicubic if model.cfg.upscale else None)
        final = model.assemble(preds)
    outs = [p[0, 0].double().cpu().numpy() for p in preds]
    if model.cfg.cascaded_supervision:
        outs.append(final[0, 0].double().cpu().numpy())
    return outs


def evaluate_model_on(model: Optional[CMSC], datasets: Sequence[Path], scales: Sequence[int]) -> dict:
    """Mean PSNR/SSIM per dataset, scale and number of stages (plus the bicubic input).

    ``stages`` is the cascade prefix the app can run: k < S means the intermediate
    prediction y_k, k == S the final weighted assembly. ``stages == 0`` is bicubic.
    """
    if model is not None:
        model = model.eval()
    results = []
    for ds in datasets:
        paths = list_images(ds)
        for s in scales:
            if model is not None and model.cfg.upscale and s != model.cfg.upscale:
                continue  # a cmsc-fast model has one scale
            sums: Dict[int, List[float]] = {}
            for p in paths:
                hr = modcrop(read_y(p), s)
                small = imresize(hr, scale=1.0 / s)
                lr = imresize(small, output_shape=hr.shape[:2])  # = bicubic_degrade(hr, s)
                outputs = {0: lr}
                if model is not None:
                    preds = predict_all_stages(model, lr, small)
                    n = model.cfg.stages
                    if model.cfg.cascaded_supervision:
                        for k in range(1, n):
                            outputs[k] = preds[k - 1]
                        outputs[n] = preds[-1]
                    else:
                        outputs[n] = preds[-1]
                for k, out in outputs.items():
                    acc = sums.setdefault(k, [0.0, 0.0])
                    acc[0] += psnr(hr, out, s)
                    acc[1] += ssim(hr, out, s)
            for k, (ps, ss) in sorted(sums.items()):
                results.append({"dataset": Path(ds).name, "scale": s, "stages": k,
                                "psnr": round(ps / len(paths), 4), "ssim": round(ss / len(paths), 5)})
            print(f"  evaluated {Path(ds).name} x{s}", file=sys.stderr, flush=True)
    return {"protocol": PROTOCOL, "results": results}


def format_table(evaluation: dict, model_label: str, total_stages: Optional[int]) -> str:
    rows = []
    datasets = sorted({r["dataset"] for r in evaluation["results"]}, key=lambda d: ["Set5", "Set14"].index(d) if d in ("Set5", "Set14") else 99)
    for ds in datasets:
        scales = sorted({r["scale"] for r in evaluation["results"] if r["dataset"] == ds})
        header = f"{ds:<8} {'method':<28}" + "".join(f"{'x' + str(s):>18}" for s in scales)
        rows.append(header)
        rows.append("-" * len(header))

        def line(label: str, cells: List[str]) -> None:
            rows.append(f"{'':<8} {label:<28}" + "".join(f"{c:>18}" for c in cells))

        for paper_row in ("Bicubic", "CMSC"):
            cells = []
            for s in scales:
                v = PAPER_TABLE.get(paper_row, {}).get(ds, {}).get(s)
                cells.append("n/a" if v is None else f"{v[0]:.2f}" + (f" / {v[1]:.4f}" if v[1] else ""))
            line(f"paper {paper_row}", cells)
        stage_counts = sorted({r["stages"] for r in evaluation["results"] if r["dataset"] == ds})
        for k in stage_counts:
            label = "ours bicubic" if k == 0 else (
                f"ours {model_label}" if k == total_stages else f"ours {model_label} stage {k}")
            cells = []
            for s in scales:
                r = next(r for r in evaluation["results"] if r["dataset"] == ds and r["scale"] == s and r["stages"] == k)
                cells.append(f"{r['psnr']:.2f} / {r['ssim']:.4f}")
            line(label, cells)
        if total_stages:
            cells = []
            for s in scales:
                get = lambda k: next(r["psnr"] for r in evaluation["results"] if r["dataset"] == ds and r["scale"] == s and r["stages"] == k)
                cells.append(f"{get(total_stages) - get(0):+.2f} dB")
            line("gain over bicubic", cells)
        rows.append("")
    return "\n".join(rows)


def load_model(spec: str) -> Optional[CMSC]:
    if spec == "bicubic":
        return None
    cfg, weights, _ = load_model_weights(Path(spec))
    model = CMSC(CMSCConfig.from_dict(cfg))
    model.load_state_dict(weights)
    return model.eval()


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="run folder, or bicubic")
    ap.add_argument("--dataset", required=True, action="append", help="folder of HR images (repeatable)")
    ap.add_argument("--scales", default="2,3,4")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto (evaluation is fp32 on every device)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results (and the device) to this file")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    if device.type == "cuda":
        # Full fp32: TF32 convolutions would round the measurement, not the model.
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    for d in args.dataset:
        if not Path(d).is_dir():
            print(f"dataset folder not found: {d} (the benchmark sets live in ../shared/datasets)", file=sys.stderr)
            return 2
    model = load_model(args.model)
    if model is not None:
        model = model.to(device)
    scales = [int(s) for s in args.scales.split(",")]
    evaluation = evaluate_model_on(model, [Path(d) for d in args.dataset], scales)
    evaluation["device"] = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "cpu"
    evaluation["torch"] = torch.__version__
    if args.json:
        args.json.write_text(json.dumps(evaluation, indent=2) + "\n")
    label = "bicubic" if model is None else Path(args.model).name
    print(format_table(evaluation, label, None if model is None else model.cfg.stages))
    print(f"protocol: {PROTOCOL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
