"""PyTorch side of `npm run bench:speed`: the same CMSC weights in PyTorch eager.

    python3 bench/torch_reference.py export-random --config paper --out DIR
        writes DIR/model.onnx (all stages) and DIR/weights.pt: a random-weight CMSC, for
        timing when no trained model is installed (timing does not depend on the weights).
    python3 bench/torch_reference.py time --weights W.pt --stages K --sizes 256,512 --threads 2 [--repeat N]
        prints one JSON line: {"seconds": {"256": s, ...}}: the fastest of N forward passes per
        size (after one warm-up pass on the smallest size).
    python3 bench/torch_reference.py time --checkpoint training/checkpoints/cmsc ...
        the same, with the trained weights of a training run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from training.checkpoint import load_model_weights  # noqa: E402
from training.export import export_onnx  # noqa: E402
from training.model import CMSC, NAMED_CONFIGS, CMSCConfig, StagePrefix, count_parameters, flops_per_pixel  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export-random")
    ex.add_argument("--config", default="paper", choices=sorted(NAMED_CONFIGS))
    ex.add_argument("--out", type=Path, required=True)
    tm = sub.add_parser("time")
    tm.add_argument("--weights", type=Path)
    tm.add_argument("--checkpoint", type=Path)
    tm.add_argument("--stages", type=int, required=True)
    tm.add_argument("--sizes", required=True)
    tm.add_argument("--threads", type=int, default=2)
    tm.add_argument("--repeat", type=int, default=1, help="best of this many passes per size")
    args = ap.parse_args()

    if args.command == "export-random":
        torch.manual_seed(0)
        cfg = NAMED_CONFIGS[args.config]
        model = CMSC(cfg).eval()
        args.out.mkdir(parents=True, exist_ok=True)
        export_onnx(model, cfg.stages, args.out / "model.onnx")
        torch.save({"config": cfg.to_dict(), "model": model.state_dict()}, args.out / "weights.pt")
        print(json.dumps({
            "stages": cfg.stages,
            "flopsPerPixel": flops_per_pixel(cfg),
            "receptiveFieldRadius": cfg.receptive_field_radius,
            "parameters": count_parameters(model),
            "architecture": {"S": cfg.stages, "M": cfg.modules_per_stage, "channels": cfg.channels,
                             "kernels": list(cfg.kernels), "residualFeatures": cfg.residual_features,
                             "cascadedSupervision": cfg.cascaded_supervision,
                             "sharedReconstruction": cfg.shared_reconstruction},
        }))
        return 0

    torch.set_num_threads(args.threads)
    if args.checkpoint:
        cfg_dict, weights, _ = load_model_weights(args.checkpoint)
        cfg = CMSCConfig.from_dict(cfg_dict)
    else:
        saved = torch.load(args.weights, map_location="cpu")
        cfg, weights = CMSCConfig.from_dict(saved["config"]), saved["model"]
    model = CMSC(cfg)
    model.load_state_dict(weights)
    runner = StagePrefix(model.eval(), args.stages).eval()
    sizes = [int(s) for s in args.sizes.split(",")]
    seconds = {}

    def inputs(size: int):
        """The model's inputs for an output of size x size: an input-resolution model (cmsc-fast)
        takes the LR image (size / s) and its bicubic upscaling."""
        s = cfg.upscale
        return (torch.rand(1, 1, size, size),) if not s else (
            torch.rand(1, 1, size // s, size // s), torch.rand(1, 1, size, size))

    with torch.inference_mode():
        runner(*inputs(min(sizes)))  # warm-up
        for size in sizes:
            x = inputs(size)
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                runner(*x)
                elapsed = time.perf_counter() - started
                seconds[str(size)] = min(elapsed, seconds.get(str(size), elapsed))
    print(json.dumps({"seconds": seconds, "torch": torch.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
