"""onnxruntime-node from Python: run exported files in the runtime the app ships, and check
them against PyTorch. Used by export.py and quantize.py (neither imports the other's way back).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import torch

from .model import CMSC, StagePrefix

INPUT_NAME = "lr_y"
# cmsc-fast's second input: the bicubic-upscaled LR Y (the global residual), s times larger.
BICUBIC_INPUT_NAME = "bicubic_y"
OUTPUT_NAME = "sr_y"
REPO_ROOT = Path(__file__).resolve().parent.parent


def model_inputs(model: CMSC, x: np.ndarray) -> List[np.ndarray]:
    """The graph's inputs for an (N, 1, H, W) image x: x itself, plus for cmsc-fast its
    bicubic upscaling (here nearest-neighbour: any plane of the right size checks parity)."""
    s = model.cfg.upscale
    if not s:
        return [x]
    return [x, np.repeat(np.repeat(x, s, axis=2), s, axis=3)]


def input_names(model: CMSC) -> List[str]:
    return [INPUT_NAME, BICUBIC_INPUT_NAME] if model.cfg.upscale else [INPUT_NAME]


def run_onnxruntime_node_jobs(jobs: Sequence[Tuple[Path, Sequence[np.ndarray]]], optimize: bool = True) -> List[np.ndarray]:
    """Run each (model file, inputs) in onnxruntime-node (one node process for all).

    ``optimize=False`` turns ORT's graph optimisations off: a QDQ graph then runs as written
    (QuantizeLinear, DequantizeLinear, a float Conv), which is its exact meaning, instead of
    the fused integer kernels the app runs, whose rounding depends on the CPU's instructions."""
    if shutil.which("node") is None:
        raise RuntimeError("node is not on PATH: parity needs onnxruntime-node (run npm ci first)")
    if not (REPO_ROOT / "node_modules" / "onnxruntime-node").exists():
        raise RuntimeError("node_modules/onnxruntime-node missing: run npm ci before exporting")
    with tempfile.TemporaryDirectory() as tmp:
        spec = []
        for j, (path, inputs) in enumerate(jobs):
            files = []
            for i, a in enumerate(inputs):
                f = Path(tmp) / f"in{j}_{i}.f32"
                np.ascontiguousarray(a, dtype=np.float32).tofile(f)
                files.append({"file": str(f), "dims": list(a.shape)})
            spec.append({"model": str(Path(path).resolve()), "inputs": files, "output": str(Path(tmp) / f"out{j}.f32"),
                         "optimize": optimize})
        (Path(tmp) / "jobs.json").write_text(json.dumps(spec))
        done = subprocess.run(
            ["node", str(REPO_ROOT / "training" / "onnx_parity.mjs"), str(Path(tmp) / "jobs.json")],
            check=True, capture_output=True, cwd=REPO_ROOT, text=True,
        )
        shapes = json.loads(done.stdout.strip().splitlines()[-1])
        return [np.fromfile(job["output"], dtype=np.float32).reshape(shape["dims"]) for job, shape in zip(spec, shapes)]


def run_onnxruntime_node(path: Path, *inputs: np.ndarray, optimize: bool = True) -> np.ndarray:
    """Run ``path`` in onnxruntime-node on (N, 1, H, W) float32 inputs."""
    return run_onnxruntime_node_jobs([(path, inputs)], optimize)[0]


def parity(model: CMSC, stages: int, path: Path, seed: int = 0) -> float:
    """Max abs difference between PyTorch and onnxruntime-node on a random 96x80 input."""
    rng = np.random.default_rng(seed)
    inputs = model_inputs(model, rng.random((1, 1, 96, 80), dtype=np.float32))
    with torch.no_grad():
        ref = StagePrefix(model, stages).eval()(*(torch.from_numpy(a) for a in inputs)).numpy()
    got = run_onnxruntime_node(path, *inputs)
    return float(np.max(np.abs(ref - got)))


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
