"""Train the chroma restorer (``chroma.ChromaRestorer``) for JPEG photos.

``/usr/bin/python3 -m training.train_chroma --run training/checkpoints/cmsc-chroma --threads 1``

Adam with a cosine over the session's wall time (``--anneal-minutes``), L1 on Cb and Cr, bf16
autocast, an exponential moving average of the weights (what is exported: on a CPU's few
thousand iterations the average is worth more than the last step). Resumable like
``training.train``: a checkpoint every ``--checkpoint-minutes``, on SIGTERM/SIGINT and at the
end; ``--resume`` continues weights, average, optimiser and RNG states, and the card counts every
session's device and hours.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .checkpoint import load_checkpoint, save_checkpoint
from .chroma import ChromaConfig, ChromaDegradation, ChromaPatchSampler, ChromaRestorer, load_training_photos
from .photo_data import DEFAULT_RGB_DATA
from .train import (AveragedWeights, StopFlag, autocast_context, fmt_duration, numpy_rng_state, pick_device,
                    set_numpy_rng_state)

EMA_DECAY = 0.999


def cosine_lr(lr: float, min_lr: float, it_session: int, warmup: int, elapsed: float, anneal_s: float) -> float:
    ramp = min(1.0, (it_session + 1) / warmup) if warmup > 0 else 1.0
    frac = min(1.0, elapsed / anneal_s) if anneal_s > 0 else 0.0
    return ramp * (min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac)))


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--data", nargs="+", default=DEFAULT_RGB_DATA)
    ap.add_argument("--limit-images", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--min-lr", type=float, default=1e-5)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--anneal-minutes", type=float, default=60.0)
    ap.add_argument("--budget-minutes", type=float, default=None)
    ap.add_argument("--max-iters", type=int, default=None)
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--log-every", type=int, default=50)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    state = load_checkpoint(run) if args.resume else None
    if args.resume and state is None:
        print(f"--resume: no checkpoint in {run}; starting a new run", flush=True)
    cfg = ChromaConfig(**state["config"]) if state else ChromaConfig()
    degradation = ChromaDegradation(**{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in state["degradation"].items()}) if state else ChromaDegradation()
    seed = state["seed"] if state else args.seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    model = ChromaRestorer(cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    photos = load_training_photos(args.data, args.limit_images)
    sampler = ChromaPatchSampler(photos, seed, args.patch if not state else state["patch"], degradation)
    iteration, wall_before, sessions = 0, 0.0, []
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        iteration, wall_before, sessions = state["iteration"], state["wall_seconds"], state["sessions"]
        sampler.set_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        set_numpy_rng_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        print(f"resumed {run} at iteration {iteration} ({fmt_duration(wall_before)} trained before)", flush=True)
    ema = AveragedWeights(model, EMA_DECAY, state["ema"] if state else None)
    print(f"chroma restorer: {model.parameter_count()} parameters, {model.macs_per_pixel():.0f} MAC per input pixel, "
          f"{len(sampler.images)} photos, device {device}", flush=True)

    stop = StopFlag()
    device_name = (f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda"
                   else f"{device} ({torch.get_num_threads()} threads)")
    session_start, cpu_start, start_iteration = time.time(), time.process_time(), iteration

    def checkpoint(reason: str) -> None:
        this_session = {"device": device_name, "torch": torch.__version__, "batch": args.batch,
                        "from_iteration": start_iteration, "to_iteration": iteration,
                        "wall_seconds": round(time.time() - session_start, 1),
                        "cpu_seconds": round(time.process_time() - cpu_start, 1)}
        wall = wall_before + time.time() - session_start
        save_checkpoint(run, {
            "kind": "chroma", "config": cfg.to_dict(), "degradation": degradation.to_dict(),
            "patch": sampler.patch, "seed": seed, "model": model.state_dict(), "ema": ema.state,
            "optimizer": opt.state_dict(), "iteration": iteration, "wall_seconds": wall,
            "sessions": sessions + [this_session], "sampler": sampler.state(),
            "torch_rng": torch.get_rng_state(), "numpy_rng": numpy_rng_state(), "python_rng": random.getstate(),
        })
        print(f"checkpoint ({reason}) at iteration {iteration}, {fmt_duration(wall)} trained", flush=True)

    anneal_s = args.anneal_minutes * 60.0
    budget_s = None if args.budget_minutes is None else args.budget_minutes * 60.0
    last_ckpt = time.time()
    gain_ema: Optional[float] = None
    window_t, window_it = time.time(), iteration
    model.train()
    while not stop.stop:
        elapsed = time.time() - session_start
        if budget_s is not None and elapsed >= budget_s:
            break
        if args.max_iters is not None and iteration >= args.max_iters:
            break
        lr_now = cosine_lr(args.lr, args.min_lr, iteration - start_iteration, args.warmup, elapsed, anneal_s)
        for g in opt.param_groups:
            g["lr"] = lr_now
        x_np, y_np = sampler.batch(args.batch)
        x, y = torch.from_numpy(x_np).to(device), torch.from_numpy(y_np).to(device)
        with autocast_context(device, True):
            out = model(x)
        out = out.float()
        loss = (out - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            ema.update(model)
            mse_out = float(((out.detach() - y) ** 2).mean())
            mse_in = float(((x[:, 1:3] - y) ** 2).mean())
        iteration += 1
        if not math.isfinite(float(loss)):
            print(f"non-finite loss at iteration {iteration}; stopping without checkpoint", flush=True)
            return 2
        g = 10 * math.log10(max(mse_in, 1e-12) / max(mse_out, 1e-12))
        gain_ema = g if gain_ema is None else 0.98 * gain_ema + 0.02 * g
        if iteration % args.log_every == 0:
            now = time.time()
            rate = (iteration - window_it) / max(1e-9, now - window_t)
            window_t, window_it = now, iteration
            left = "" if budget_s is None else f" | ETA {fmt_duration(budget_s - (now - session_start))}"
            print(f"it {iteration} loss {float(loss):.5f} lr {lr_now:.2e} | batch CbCr gain over the file "
                  f"{gain_ema:+.2f}dB | {rate:.2f} it/s{left}", flush=True)
        if time.time() - last_ckpt >= args.checkpoint_minutes * 60:
            checkpoint("periodic")
            last_ckpt = time.time()
    checkpoint("signal" if stop.stop else "end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
