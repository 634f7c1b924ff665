"""Which runs the cascade's speed dial faster in onnxruntime-node: one file per stage
count, or one file with every stage's prediction as a separate output?

``/usr/bin/python3 -m training.stage_outputs_benchmark --arch paper --size 128``

Exports both forms with random weights, then times in onnxruntime-node (the app's runtime)
stage 1 from its own file vs stage 1 requested alone from the multi-output file, and the
full model from both. Prints milliseconds (median of --repeat runs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from .export import INPUT_NAME, OPSET, REPO_ROOT, export_onnx
from .model import CMSC, NAMED_CONFIGS


class AllStageOutputs(torch.nn.Module):
    def __init__(self, model: CMSC):
        super().__init__()
        self.model = model

    def forward(self, x):
        preds = self.model.forward_all(x)
        return (*preds[:-1], self.model.assemble(preds))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="paper", choices=sorted(NAMED_CONFIGS))
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    model = CMSC(NAMED_CONFIGS[args.arch]).eval()
    s = model.cfg.stages
    names = [f"y{k}" for k in range(1, s)] + ["sr_y"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export_onnx(model, 1, tmp / "s1.onnx")
        export_onnx(model, s, tmp / "full.onnx")
        torch.onnx.export(AllStageOutputs(model), torch.rand(1, 1, 48, 40), str(tmp / "multi.onnx"),
                          input_names=[INPUT_NAME], output_names=names, opset_version=OPSET,
                          dynamic_axes={INPUT_NAME: {2: "h", 3: "w"}, **{n: {2: "h", 3: "w"} for n in names}})
        cases = [
            ("stage 1, own file", tmp / "s1.onnx", "sr_y"),
            ("stage 1, output of the multi-output file", tmp / "multi.onnx", "y1"),
            (f"all {s} stages, own file", tmp / "full.onnx", "sr_y"),
            (f"all {s} stages, multi-output file", tmp / "multi.onnx", "sr_y"),
        ]
        spec = [{"label": l, "model": str(p), "output": o} for l, p, o in cases]
        out = subprocess.run(
            ["node", str(REPO_ROOT / "training" / "stage_outputs_benchmark.mjs"), json.dumps(spec),
             str(args.size), str(args.repeat), str(args.threads)],
            check=True, capture_output=True, text=True, cwd=REPO_ROOT)
        print(f"{args.arch} CMSC, {args.size}x{args.size} input, {args.threads} thread(s), median of {args.repeat}:")
        print(out.stdout, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
