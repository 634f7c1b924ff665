"""Train CMSC.  ``/usr/bin/python3 -m training.train --config budget --arch paper --run training/checkpoints/cmsc``

Two recipes, selected by ``--recipe``:

* ``paper`` - the paper's: SGD (momentum 0.9, weight decay 1e-4), lr 0.1 divided by 10
  every 10 epochs, every gradient clipped to [-0.4, 0.4], batch 32, MSE cascaded loss,
  He initialisation, fp32.
* ``budget`` - for a CPU and a wall-clock budget: Adam with a learning rate halving every
  ``--halflife`` iterations, bf16 autocast (about twice as fast on these CPUs), L1
  cascaded loss, reconstruction layers zero-initialised so training starts from the
  bicubic image.

Resumable: a checkpoint is written every ``--checkpoint-minutes``, on SIGTERM/SIGINT and at
the end; ``--resume`` continues the same run (weights, optimiser, schedule, RNG states).
CUDA is used when present (bf16 or fp16 autocast), the CPU otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, asdict, replace
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .checkpoint import load_checkpoint, portable_numpy_rng, save_checkpoint, weights_of
from .data import (
    DOWNSCALES, SCALES, InputResolutionPatchSampler, PatchSampler, PrefetchingSampler, build_input_resolution_pairs,
    build_pairs, input_patches_per_epoch, patches_per_epoch,
)
from .data import PATCH
from .degrade import NAMED_RECIPES, DegradationRecipe
from .losses import cascaded_loss
from .model import CMSC, NAMED_CONFIGS, CMSCConfig, load_matching_weights
from .photo_data import DEFAULT_RGB_DATA, DegradedPatchSampler, load_rgb_images

DEFAULT_DATA = ["../shared/datasets/train-y/T91", "../shared/datasets/train-y/BSD200"]


@dataclass
class Recipe:
    name: str
    optimizer: str
    lr: float
    batch: int
    loss: str
    bf16: bool
    zero_init_reconstruction: bool
    halflife: int = 0  # budget: iterations per halving of the lr
    warmup: int = 0  # budget: linear lr ramp over the first iterations (Adam's first steps overshoot)
    min_lr: float = 0.0
    clip_value: float = 0.0  # paper: gradient values clipped to [-v, v]
    epochs_per_decay: int = 10  # paper: lr / 10 every 10 epochs
    weight_decay: float = 0.0
    # Moving average of the weights, updated every step (0: none). Exported and evaluated in
    # place of the last step's weights (checkpoint.weights_of): it smooths the last few hundred
    # noisy Adam steps, and a run cut off before its cosine ends still ships averaged weights.
    ema_decay: float = 0.0


# Recipe fields a flag may set, on a new run and on a resume (e.g. a lower lr floor).
FLAG_FIELDS = ("lr", "batch", "loss", "halflife", "min_lr", "warmup", "ema_decay")


class AveragedWeights:
    """An exponential moving average of a model's state (floating tensors averaged, counters copied)."""

    def __init__(self, model: torch.nn.Module, decay: float, saved: Optional[dict] = None):
        self.decay = decay
        source = saved if saved is not None else model.state_dict()
        device = next(model.parameters()).device
        self.state = {k: v.detach().to(device=device, dtype=torch.float32 if v.is_floating_point() else v.dtype,
                                        copy=True) for k, v in source.items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.state[k].mul_(self.decay).add_(v.detach().float(), alpha=1.0 - self.decay)
            else:
                self.state[k].copy_(v)


def make_recipe(name: str, args: argparse.Namespace) -> Recipe:
    if name == "paper":
        r = Recipe("paper", "sgd", 0.1, 32, "mse", False, False, clip_value=0.4, weight_decay=1e-4)
    elif name == "budget":
        r = Recipe("budget", "adam", 4e-4, 16, "l1", True, True, halflife=1500, min_lr=2e-5, warmup=200)
    else:
        raise SystemExit(f"unknown recipe {name!r}")
    for field in FLAG_FIELDS:
        v = getattr(args, field, None)
        if v is not None:
            setattr(r, field, v)
    return r


def learning_rate(recipe: Recipe, iteration: int, iters_per_epoch: int) -> float:
    if recipe.optimizer == "sgd":
        epoch = iteration // max(1, iters_per_epoch)
        return recipe.lr * (0.1 ** (epoch // recipe.epochs_per_decay))
    ramp = min(1.0, (iteration + 1) / recipe.warmup) if recipe.warmup > 0 else 1.0
    return ramp * max(recipe.min_lr, recipe.lr * 0.5 ** (iteration / recipe.halflife))


def annealed_learning_rate(recipe: Recipe, iterations_this_session: int, elapsed: float, anneal_s: float) -> float:
    """Cosine from ``recipe.lr`` down to ``recipe.min_lr`` over ``anneal_s`` seconds of wall time.

    For a session of known length (a GPU lent for a few minutes): the schedule ends at the
    floor exactly when the time does, whatever the device's speed turns out to be. A linear
    warm-up over the session's first ``recipe.warmup`` iterations lets Adam's moments adapt
    when the batch size or learning rate changes on a resume.
    """
    frac = min(1.0, elapsed / max(anneal_s, 1e-9))
    ramp = min(1.0, (iterations_this_session + 1) / recipe.warmup) if recipe.warmup > 0 else 1.0
    return ramp * (recipe.min_lr + (recipe.lr - recipe.min_lr) * 0.5 * (1.0 + math.cos(math.pi * frac)))


def patches_per_epoch_of_images(images, augmentations: int = 8) -> int:
    """The clean set's epoch measure for RGB images: 41x41 tiles x 8 flips/rotations x 3 scales."""
    return augmentations * len(SCALES) * sum((im.shape[0] // PATCH) * (im.shape[1] // PATCH) for im in images)


def numpy_rng_state() -> tuple:
    return portable_numpy_rng(np.random.get_state())


def set_numpy_rng_state(state: tuple) -> None:
    """Accepts both the plain form and the ndarray form older checkpoints hold."""
    name, keys, pos, has_gauss, cached = state
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))


def make_grad_scaler(enabled: bool):
    # torch.amp.GradScaler is the PyTorch 2.x spelling; 1.13 only has the CUDA one.
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda", enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled)


def pick_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def autocast_context(device: torch.device, enabled: bool):
    if not enabled:
        return torch.autocast(device_type=device.type, enabled=False)
    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast(device_type="cuda", dtype=dtype)
    return torch.autocast(device_type="cpu", dtype=torch.bfloat16)


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class StopFlag:
    """Set by SIGTERM/SIGINT so the loop can checkpoint and exit cleanly."""

    def __init__(self) -> None:
        self.stop = False
        signal.signal(signal.SIGTERM, self._set)
        signal.signal(signal.SIGINT, self._set)

    def _set(self, signum, frame) -> None:  # noqa: ARG002
        print(f"signal {signum}: checkpointing and stopping", flush=True)
        self.stop = True


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run folder: checkpoint and log live here")
    ap.add_argument("--arch", default="paper", choices=sorted(NAMED_CONFIGS), help="architecture configuration")
    ap.add_argument("--recipe", default="budget", choices=["paper", "budget"])
    ap.add_argument("--resume", action="store_true", help="continue the run in --run")
    ap.add_argument("--data", nargs="+", default=DEFAULT_DATA, help="training image folders")
    ap.add_argument("--budget-minutes", type=float, default=None, help="stop after this much wall time (this invocation)")
    ap.add_argument("--max-iters", type=int, default=None, help="stop at this total iteration count")
    ap.add_argument("--epochs", type=float, default=80, help="paper recipe: epochs to run")
    ap.add_argument("--checkpoint-minutes", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--limit-images", type=int, default=None, help="use only the first N images (tests)")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--loss", choices=["mse", "l1"], default=None)
    ap.add_argument("--halflife", type=int, default=None)
    ap.add_argument("--min-lr", type=float, default=None)
    ap.add_argument("--ema-decay", type=float, default=None,
                    help="moving average of the weights per step, exported in their place (e.g. 0.999; 0: none)")
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--anneal-minutes", type=float, default=None,
                    help="this invocation only: lr follows a cosine from --lr to --min-lr over this much "
                         "wall time (after --warmup iterations of ramp); for a session of known length")
    ap.add_argument("--degradation", choices=["none", *NAMED_RECIPES], default=None,
                    help="LR side of each pair: the paper's clean bicubic (none, default) or photo degradations "
                         "(blur, kernels, noise, JPEG; training/degrade.py) made per sample from the RGB images "
                         "(default data then ../shared/datasets/train); a resumed run keeps its own")
    ap.add_argument("--downscales", type=float, nargs="+", default=None,
                    help="the down-scaled copies of each training image (default 1.0 0.7 0.5); kept by --resume. "
                         "Smaller copies are not cleaner HR: their texture is denser (docs/models.md, session 10)")
    ap.add_argument("--hr-jpeg", type=int, nargs=2, metavar=("QMIN", "QMAX"), default=None,
                    help="web-photo targets: save every HR copy once as JPEG 4:2:0 at a quality in [QMIN, QMAX] "
                         "before its pair is made, as the web photos we are judged on are; kept by --resume")
    ap.add_argument("--init-from", default=None,
                    help="new run only: start from the weights of the run in this folder (fine-tuning); "
                         "optimiser, schedule and RNG start fresh")
    ap.add_argument("--prefetch", choices=["auto", "on", "off"], default="auto",
                    help="draw batches in a background thread (auto: on CUDA only; on a CPU it would steal a core)")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    stop = StopFlag()

    state = None
    if args.resume:
        # Loaded on the CPU: RNG states must stay CPU tensors, and load_state_dict moves
        # weights and optimiser state to the model's device anyway.
        state = load_checkpoint(run, map_location="cpu")
        if state is None:
            print(f"no checkpoint in {run}; starting a new run", flush=True)
    if state is not None:
        cfg = CMSCConfig.from_dict(state["config"])
        recipe = Recipe(**state["recipe"])
        # Flags given on a resume override the stored recipe (e.g. a lower lr floor).
        for field in FLAG_FIELDS:
            v = getattr(args, field, None)
            if v is not None:
                setattr(recipe, field, v)
        seed = state["seed"]
        degradation = state.get("degradation")
        downscales = tuple(args.downscales or state.get("downscales") or DOWNSCALES)
        hr_jpeg = tuple(args.hr_jpeg or state.get("hr_jpeg") or ()) or None
    else:
        cfg = NAMED_CONFIGS[args.arch]
        recipe = make_recipe(args.recipe, args)
        seed = args.seed
        degradation = NAMED_RECIPES[args.degradation].to_dict() if args.degradation in NAMED_RECIPES else None
        downscales = tuple(args.downscales or DOWNSCALES)
        hr_jpeg = tuple(args.hr_jpeg) if args.hr_jpeg else None
    initialised_from = state.get("initialised_from") if state is not None else None

    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)

    model = CMSC(cfg, zero_init_reconstruction=recipe.zero_init_reconstruction).to(device)
    if device.type == "cuda":
        # NHWC lets cuDNN use tensor cores for the bf16 convolutions without layout transposes;
        # benchmark mode picks the fastest algorithm for the fixed 41x41 batch shape.
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    if recipe.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9, weight_decay=recipe.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)

    if state is None and args.init_from:
        init_state = load_checkpoint(Path(args.init_from), map_location="cpu")
        if init_state is None:
            raise SystemExit(f"--init-from {args.init_from}: no checkpoint there")
        init_cfg = CMSCConfig.from_dict(init_state["config"])
        if init_cfg == cfg:
            model.load_state_dict(weights_of(init_state))
        elif init_cfg.upscale and cfg.upscale and replace(init_cfg, upscale=cfg.upscale) == cfg:
            # cmsc-fast at another scale: the body (everything before the pixel shuffle) carries
            # over; the s^2-channel reconstruction convs differ in shape and keep their init.
            fresh = load_matching_weights(model, weights_of(init_state))
            print(f"body from the x{init_cfg.upscale} run; fresh for x{cfg.upscale}: {', '.join(fresh)}", flush=True)
        else:
            raise SystemExit(f"--init-from {args.init_from}: its architecture differs from --arch {args.arch}")
        # Nested: the run started from carries its own start, so a card can count every hour behind it.
        initialised_from = {"run": str(args.init_from), "iteration": init_state["iteration"],
                            "wall_seconds": init_state.get("wall_seconds"),
                            "sessions": init_state.get("sessions", []),
                            "initialised_from": init_state.get("initialised_from")}
        print(f"initialised from {args.init_from} at iteration {init_state['iteration']}", flush=True)

    t0 = time.time()
    folders = [Path(d) for d in args.data]
    if degradation is not None:
        # Photo degradations are made per sample from RGB crops (JPEG compresses RGB, not Y).
        rgb_folders = [Path(d) for d in (DEFAULT_RGB_DATA if args.data == DEFAULT_DATA else args.data)]
        pairs = load_rgb_images(rgb_folders, downscales, limit=args.limit_images, hr_jpeg=hr_jpeg)
        scales = (cfg.upscale,) if cfg.upscale else SCALES
        sampler = DegradedPatchSampler(pairs, seed, DegradationRecipe.from_dict(degradation), scales=scales,
                                       lr_resolution="input" if cfg.upscale else "output")
        per_epoch = patches_per_epoch_of_images(pairs)
    elif cfg.upscale:
        # cmsc-fast: one scale, LR patches at input resolution plus their bicubic residual.
        pairs = build_input_resolution_pairs(folders, cfg.upscale, downscales, limit=args.limit_images,
                                             hr_jpeg=hr_jpeg)
        per_epoch = input_patches_per_epoch(pairs)
        sampler = InputResolutionPatchSampler(pairs, seed)
    else:
        pairs = build_pairs(folders, downscales=downscales, limit=args.limit_images, hr_jpeg=hr_jpeg)
        per_epoch = patches_per_epoch(pairs)
        sampler = PatchSampler(pairs, seed)
    iters_per_epoch = max(1, per_epoch // recipe.batch)
    print(f"data: {len(pairs)} (image, down-scale, scale) pairs (down-scales {list(downscales)}"
          f"{f'; HR saved as JPEG q{hr_jpeg[0]}-{hr_jpeg[1]}' if hr_jpeg else ''}), {per_epoch} patches/epoch, "
          f"{iters_per_epoch} iterations/epoch, built in {time.time() - t0:.1f}s", flush=True)

    iteration = 0
    wall_before = 0.0
    history = []
    sessions = []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        iteration = state["iteration"]
        wall_before = state["wall_seconds"]
        history = state.get("history", [])
        sessions = state.get("sessions") or [{
            # Runs from before sessions were recorded: one session, on the device stored.
            "device": state.get("device"), "torch": state.get("torch_version"),
            "batch": state["recipe"]["batch"], "from_iteration": 0, "to_iteration": iteration,
            "wall_seconds": round(wall_before, 1),
        }]
        sampler.set_state(state["sampler"])
        torch.set_rng_state(state["torch_rng"])
        set_numpy_rng_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        print(f"resumed {run} at iteration {iteration} ({fmt_duration(wall_before)} trained before)", flush=True)
    # A resumed run that had no average starts one from its current weights.
    averaged = (AveragedWeights(model, recipe.ema_decay, state.get("ema") if state is not None else None)
                if recipe.ema_decay > 0 else None)

    if recipe.optimizer == "sgd":
        end_iter = int(args.epochs * iters_per_epoch)
    else:
        end_iter = args.max_iters if args.max_iters is not None else 10**12
    if args.max_iters is not None:
        end_iter = min(end_iter, args.max_iters)

    meta = {
        "arch": args.arch if state is None else state.get("arch", "?"),
        "device": (f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda"
                   else f"{device} ({torch.get_num_threads()} threads)"),
        "torch": torch.__version__,
    }

    start_iteration = iteration

    def checkpoint(reason: str) -> None:
        wall = wall_before + (time.time() - session_start)
        this_session = {
            "device": meta["device"], "torch": meta["torch"], "batch": recipe.batch,
            "from_iteration": start_iteration, "to_iteration": iteration,
            "wall_seconds": round(time.time() - session_start, 1),
            # Process CPU time: on a shared machine wall time also counts pauses and waits.
            "cpu_seconds": round(time.process_time() - cpu_start, 1),
        }
        save_checkpoint(
            run,
            {
                "config": cfg.to_dict(),
                "recipe": asdict(recipe),
                "arch": meta["arch"],
                "seed": seed,
                "model": model.state_dict(),
                "ema": averaged.state if averaged is not None else None,
                "optimizer": opt.state_dict(),
                "iteration": iteration,
                "wall_seconds": wall,
                "history": history,
                "sessions": sessions + [this_session],
                "sampler": batches.state(),
                "degradation": degradation,
                "downscales": list(downscales),
                "hr_jpeg": list(hr_jpeg) if hr_jpeg else None,
                "initialised_from": initialised_from,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": numpy_rng_state(),
                "python_rng": random.getstate(),
                "device": meta["device"],
                "torch_version": meta["torch"],
            },
        )
        print(f"checkpoint ({reason}) at iteration {iteration}, {fmt_duration(wall)} trained", flush=True)

    # fp16 autocast (CUDA without bf16) needs loss scaling; bf16 and fp32 do not.
    scaler = make_grad_scaler(device.type == "cuda" and recipe.bf16 and not torch.cuda.is_bf16_supported())
    use_prefetch = args.prefetch == "on" or (args.prefetch == "auto" and device.type == "cuda")
    batches = PrefetchingSampler(sampler, recipe.batch) if use_prefetch else sampler
    anneal_s = None if args.anneal_minutes is None else args.anneal_minutes * 60.0
    session_start = time.time()
    cpu_start = time.process_time()
    last_ckpt = session_start
    budget_s = None if args.budget_minutes is None else args.budget_minutes * 60.0
    loss_ema = None
    gain_ema = {s: None for s in SCALES}
    window_t, window_it = time.time(), iteration
    rate = None
    model.train()
    while iteration < end_iter and not stop.stop:
        elapsed = time.time() - session_start
        if budget_s is not None and elapsed >= budget_s:
            break
        if anneal_s is not None:
            lr_now = annealed_learning_rate(recipe, iteration - start_iteration, elapsed, anneal_s)
        else:
            lr_now = learning_rate(recipe, iteration, iters_per_epoch)
        for g in opt.param_groups:
            g["lr"] = lr_now
        drawn = batches.batch(recipe.batch)
        if cfg.upscale:
            lr_np, bic_np, hr_np, scales = drawn
        else:
            (lr_np, hr_np, scales), bic_np = drawn, None
        x = torch.from_numpy(lr_np).to(device)
        y = torch.from_numpy(hr_np).to(device)
        # The bicubic image: the global residual, and what the progress gain is measured against.
        bicubic = x if bic_np is None else torch.from_numpy(bic_np).to(device)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast_context(device, recipe.bf16):
            preds = model.forward_all(x, bicubic=None if bic_np is None else bicubic)
            final = model.assemble(preds)
        preds = [p.float() for p in preds]
        final = final.float()
        loss = cascaded_loss(final, preds, y, recipe.loss)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if recipe.clip_value > 0:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_value_(model.parameters(), recipe.clip_value)
        scaler.step(opt)
        scaler.update()
        if averaged is not None:
            averaged.update(model)
        iteration += 1

        # Cheap progress signal: PSNR gain over the bicubic input on this batch, per scale.
        with torch.no_grad():
            mse_model = ((final.detach() - y) ** 2).mean(dim=(1, 2, 3)).cpu().numpy()
            mse_bic = ((bicubic - y) ** 2).mean(dim=(1, 2, 3)).cpu().numpy()
        for s in SCALES:
            m = scales == s
            if m.any():
                g = 10 * math.log10(mse_bic[m].mean() / max(mse_model[m].mean(), 1e-12))
                gain_ema[s] = g if gain_ema[s] is None else 0.95 * gain_ema[s] + 0.05 * g
        lv = float(loss.detach())
        if not math.isfinite(lv):
            print(f"non-finite loss at iteration {iteration}; stopping without checkpoint", flush=True)
            return 2
        loss_ema = lv if loss_ema is None else 0.95 * loss_ema + 0.05 * lv

        if iteration % args.log_every == 0:
            now = time.time()
            rate = (iteration - window_it) / max(1e-9, now - window_t)
            window_t, window_it = now, iteration
            remaining = []
            if budget_s is not None:
                remaining.append(budget_s - (now - session_start))
            if end_iter < 10**12:
                remaining.append((end_iter - iteration) / max(rate, 1e-9))
            eta = fmt_duration(min(remaining)) if remaining else "until stopped"
            gains = " ".join(f"x{s}:{gain_ema[s]:+.2f}dB" for s in SCALES if gain_ema[s] is not None)
            print(f"it {iteration} loss {loss_ema:.5f} lr {lr_now:.2e} | batch gain over bicubic {gains} | "
                  f"{rate:.3f} it/s | ETA {eta}", flush=True)
            history.append({"iteration": iteration, "loss": loss_ema, "wall": wall_before + now - session_start,
                            **{f"gain_x{s}": gain_ema[s] for s in SCALES}})
        if time.time() - last_ckpt >= args.checkpoint_minutes * 60:
            checkpoint("periodic")
            last_ckpt = time.time()

    checkpoint("signal" if stop.stop else "end")
    if isinstance(batches, PrefetchingSampler):
        batches.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
