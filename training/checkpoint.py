"""Atomic, resumable checkpoints split into small chunks.

One current checkpoint per run folder. The whole state (weights, optimiser, schedule, RNG
states) is serialised once in full precision, so ``--resume`` continues bit for bit, and
the bytes are split into chunks of at most 15 MiB (``ckpt-<generation>.NNN``) listed in
``checkpoint.json`` with their SHA-256. Small chunks can be committed comfortably and
carried back from a GPU machine, whose returned files are limited to 16 MiB each.

Atomicity: a new generation's chunks are written and fsynced first, then the manifest is
replaced with ``os.replace``, then the previous generation's chunks are deleted. A kill at
any moment leaves either the old or the new checkpoint complete.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Optional

import torch

MANIFEST = "checkpoint.json"
CHUNK_BYTES = 15 * 1024 * 1024
# Format of the first session's runs (weights.pt + optimizer.pt with bf16 moments); read only.
LEGACY_WEIGHTS = "weights.pt"
LEGACY_OPTIMIZER = "optimizer.pt"


def _fsync_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(run: Path, state: dict) -> None:
    run = Path(run)
    run.mkdir(parents=True, exist_ok=True)
    state = dict(state)
    for key in ("model", "ema"):
        if state.get(key) is not None:
            state[key] = {k: v.detach().cpu() for k, v in state[key].items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    old = _read_manifest(run)
    generation = (old["generation"] + 1) if old else 1
    chunks = []
    for i, start in enumerate(range(0, len(data), CHUNK_BYTES)):
        piece = data[start : start + CHUNK_BYTES]
        name = f"ckpt-{generation}.{i:03d}"
        _fsync_write(run / name, piece)
        chunks.append({"file": name, "bytes": len(piece), "sha256": hashlib.sha256(piece).hexdigest()})
    manifest = {
        "generation": generation,
        "iteration": state.get("iteration"),
        "wall_seconds": state.get("wall_seconds"),
        "chunks": chunks,
    }
    tmp = run / (MANIFEST + ".tmp")
    _fsync_write(tmp, (json.dumps(manifest, indent=2) + "\n").encode())
    os.replace(tmp, run / MANIFEST)
    keep = {c["file"] for c in chunks}
    for p in run.glob("ckpt-*.*"):
        if p.name not in keep:
            p.unlink()
    for legacy in (LEGACY_WEIGHTS, LEGACY_OPTIMIZER):
        (run / legacy).unlink(missing_ok=True)


def _read_manifest(run: Path) -> Optional[dict]:
    path = Path(run) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text())


def _load_chunked(run: Path, manifest: dict, map_location) -> dict:
    parts = []
    for c in manifest["chunks"]:
        piece = (run / c["file"]).read_bytes()
        if hashlib.sha256(piece).hexdigest() != c["sha256"]:
            raise ValueError(f"{run / c['file']}: checksum mismatch (corrupt or partial checkpoint)")
        parts.append(piece)
    # Our own files hold RNG states (numpy, python) besides tensors; PyTorch >= 2.6 defaults to
    # weights_only=True, which refuses them.
    state = torch.load(io.BytesIO(b"".join(parts)), map_location=map_location, weights_only=False)
    if "optimizer" in state:
        state["optimizer"] = _optimizer_state_fp32(state["optimizer"])
    return state


def _optimizer_state_fp32(opt: dict) -> dict:
    """Optimiser moments back in fp32 (a compact copy stores them in bf16)."""
    return {
        "param_groups": opt["param_groups"],
        "state": {
            k: {n: (t.float() if torch.is_tensor(t) and t.dtype == torch.bfloat16 else t) for n, t in v.items()}
            for k, v in opt["state"].items()
        },
    }


def _load_legacy(run: Path, map_location) -> dict:
    state = torch.load(run / LEGACY_WEIGHTS, map_location=map_location, weights_only=False)
    opt = torch.load(run / LEGACY_OPTIMIZER, map_location=map_location, weights_only=False)
    state["optimizer"] = _optimizer_state_fp32(opt)
    return state


def load_checkpoint(run: Path, map_location="cpu") -> Optional[dict]:
    """The run's current checkpoint, or None when the folder has none."""
    run = Path(run)
    manifest = _read_manifest(run)
    if manifest is not None:
        return _load_chunked(run, manifest, map_location)
    if (run / LEGACY_WEIGHTS).exists() and (run / LEGACY_OPTIMIZER).exists():
        return _load_legacy(run, map_location)
    return None


def weights_of(state: dict, weights: str = "averaged") -> dict:
    """A run state's weights: ``averaged`` (the moving average of the weights where the run keeps
    one, else the last step's; what is exported and evaluated) or ``last`` (the last step's)."""
    if weights not in ("averaged", "last"):
        raise ValueError(f"weights: averaged or last, not {weights!r}")
    if weights == "averaged" and state.get("ema") is not None:
        return state["ema"]
    return state["model"]


def load_model_weights(path: Path, map_location="cpu", weights: str = "averaged"):
    """(config dict, state_dict, run state) from a run folder; ``weights`` as in ``weights_of``."""
    state = load_checkpoint(Path(path), map_location)
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {path}")
    return state["config"], weights_of(state, weights), state


def portable_numpy_rng(state: tuple) -> tuple:
    """A ``np.random.get_state()`` tuple as plain Python values: a pickled ndarray made by
    numpy 2 (a GPU machine) cannot be unpickled by numpy 1 (Debian's), and the reverse warns."""
    name, keys, pos, has_gauss, cached = state
    return (name, [int(k) for k in keys], int(pos), int(has_gauss), float(cached))


def compact_copy(src: Path, dest: Path) -> int:
    """Copy a run's checkpoint with the optimiser moments in bf16; returns its size in bytes.

    For carrying a run to a machine whose transfer limit is tight (a lent GPU takes 64 MiB
    with the training data): the weights stay fp32 and the run resumes from the copy with
    Adam's moments rounded to bf16, which changes the next steps by far less than the
    gradient noise. The run folder itself keeps full precision.
    """
    state = load_checkpoint(Path(src))
    if state is None:
        raise FileNotFoundError(f"no checkpoint in {src}")
    if state.get("numpy_rng") is not None:
        # Older runs pickled numpy's RNG state with an ndarray in it.
        state["numpy_rng"] = portable_numpy_rng(state["numpy_rng"])
    state["optimizer"] = {
        "param_groups": state["optimizer"]["param_groups"],
        "state": {
            k: {n: (t.bfloat16() if torch.is_tensor(t) and t.is_floating_point() and t.dim() > 0 else t)
                for n, t in v.items()}
            for k, v in state["optimizer"]["state"].items()
        },
    }
    save_checkpoint(Path(dest), state)
    return sum(c["bytes"] for c in _read_manifest(Path(dest))["chunks"])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Checkpoint utilities.")
    ap.add_argument("--compact", nargs=2, metavar=("SRC", "DEST"),
                    help="copy the run in SRC to DEST with bf16 optimiser moments (for a size-limited transfer)")
    args = ap.parse_args()
    if args.compact:
        size = compact_copy(Path(args.compact[0]), Path(args.compact[1]))
        print(f"wrote {args.compact[1]} ({size / 2**20:.1f} MiB)")
