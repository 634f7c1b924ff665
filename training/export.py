"""Export CMSC to ONNX, one file per number of cascade stages, and write the model card.

``/usr/bin/python3 -m training.export --checkpoint training/checkpoints/cmsc --name cmsc --out models``

Each stage prefix is its own file (``<name>-s1.onnx``, ``<name>-s2.onnx``, ``<name>.onnx``
with all stages): onnxruntime executes every node of a graph whatever outputs are
requested, so a separate file is the way for the app's fast/balanced presets to really
skip work. Every file is checked against PyTorch in onnxruntime-node (the runtime the app
ships) on a random 96x80 input: max abs difference <= 1e-4 or the export fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from .checkpoint import load_checkpoint, load_model_weights
from .model import CMSC, NAMED_CONFIGS, CMSCConfig, StagePrefix, count_parameters, flops_per_pixel
# The onnxruntime-node side lives in its own module, which export and quantize both use
# (quantize never imports export: the dependency runs one way, export -> quantize -> onnx_node).
from .onnx_node import (  # noqa: F401  (re-exported for callers of training.export)
    BICUBIC_INPUT_NAME,
    INPUT_NAME,
    OUTPUT_NAME,
    REPO_ROOT,
    input_names,
    model_inputs,
    parity,
    run_onnxruntime_node,
    run_onnxruntime_node_jobs,
    sha256,
)

OPSET = 17
PARITY_TOLERANCE = 1e-4


def export_onnx(model: CMSC, stages: int, path: Path) -> None:
    wrapper = StagePrefix(model, stages).eval()
    dummy = tuple(torch.from_numpy(a) for a in model_inputs(model, np.random.default_rng(0).random((1, 1, 48, 40), dtype=np.float32)))
    axes = {"batch": 0, "height": 2, "width": 3}
    names = input_names(model)
    dynamic = {name: {i: (a if name == INPUT_NAME else f"out_{a}") for a, i in axes.items()} for name in names}
    dynamic[OUTPUT_NAME] = {i: (f"out_{a}" if model.cfg.upscale and a != "batch" else a) for a, i in axes.items()}
    for name in names[1:]:
        dynamic[name][0] = "batch"
    torch.onnx.export(
        wrapper,
        dummy,
        str(path),
        input_names=names,
        output_names=[OUTPUT_NAME],
        dynamic_axes=dynamic,
        opset_version=OPSET,
        do_constant_folding=True,
    )


def variant_file(name: str, stages: int, total: int) -> str:
    return f"{name}.onnx" if stages == total else f"{name}-s{stages}.onnx"


def scale_file_base(name: str, scale: int) -> str:
    """File names of one scale of a multi-scale input-resolution card: ``cmsc-fast-x4-s1.onnx``."""
    return f"{name}-x{scale}"


def export_model(
    model: CMSC,
    name: str,
    out_dir: Path,
    display_name: str,
    description: str,
    training_info: dict,
    evaluation: Optional[dict] = None,
    file_base: Optional[str] = None,
) -> dict:
    """Export every stage prefix, check parity, write ``<name>.json``; returns the card.
    ``file_base`` names the ONNX files (default: ``name``)."""
    model = model.eval()
    cfg = model.cfg
    out_dir.mkdir(parents=True, exist_ok=True)
    stage_counts = list(range(1, cfg.stages + 1)) if cfg.cascaded_supervision else [cfg.stages]
    variants = []
    for k in stage_counts:
        path = out_dir / variant_file(file_base or name, k, cfg.stages)
        export_onnx(model, k, path)
        diff = parity(model, k, path)
        if diff > PARITY_TOLERANCE:
            raise RuntimeError(f"{path}: onnxruntime differs from PyTorch by {diff:.2e} > {PARITY_TOLERANCE}")
        variants.append({
            "stages": k,
            **({"scale": cfg.upscale} if cfg.upscale else {}),
            "file": path.name,
            "sha256": sha256(path),
            "bytes": path.stat().st_size,
            "flopsPerPixel": flops_per_pixel(cfg, k),
            "parityMaxAbsDiff": diff,
        })
        print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB), parity max |diff| = {diff:.2e}", flush=True)
    card = {
        "schemaVersion": 1,
        "name": name,
        "displayName": display_name,
        "description": description,
        "input": input_card(cfg),
        "output": {"name": OUTPUT_NAME},
        "receptiveFieldRadius": cfg.receptive_field_radius,
        "scales": [cfg.upscale] if cfg.upscale else [2, 3, 4],
        "parameters": count_parameters(model),
        "flopsPerPixel": flops_per_pixel(cfg),
        "architecture": {
            "S": cfg.stages,
            "M": cfg.modules_per_stage,
            "channels": cfg.channels,
            "kernels": list(cfg.kernels),
            "depth": cfg.depth,
            "residualFeatures": cfg.residual_features,
            "cascadedSupervision": cfg.cascaded_supervision,
            "sharedReconstruction": cfg.shared_reconstruction,
            "stageWeights": [float(w) for w in model.stage_weights.detach()],
        },
        "opset": OPSET,
        "variants": variants,
        "evaluation": evaluation or {"protocol": "not evaluated", "results": []},
        "training": training_info,
    }
    card_path = out_dir / f"{name}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {card_path}", flush=True)
    return card


def input_card(cfg: CMSCConfig) -> dict:
    """The card's input: the paper models take the bicubic image at output size
    (``resolution: "output"``); cmsc-fast takes the low-resolution Y and, as ``bicubic``, the
    name of its second input (the bicubic upscaling the engine computes)."""
    card = {"name": INPUT_NAME, "channels": 1, "colorSpace": "bt601-y", "range": [0, 1]}
    if cfg.upscale:
        card.update({"resolution": "input", "bicubic": BICUBIC_INPUT_NAME})
    else:
        card["resolution"] = "output"
    return card


def interpolate_weights(clean: dict, tuned: dict, alpha: float) -> dict:
    """(1 - alpha) * clean + alpha * tuned for every floating tensor (batch-norm statistics too);
    counters come from ``tuned``. Between a model and its own fine-tune this interpolation stays
    in one basin, and on photo files its middle beats both ends (training/README.md)."""
    return {k: ((1.0 - alpha) * clean[k].float() + alpha * v.float()).to(v.dtype) if v.is_floating_point() else v
            for k, v in tuned.items()}


def merge_scale_cards(cards: Sequence[dict]) -> dict:
    """One card for an input-resolution model trained once per integer scale (cmsc-fast x2, x3,
    x4: same body, own pixel-shuffle head): the union of the scales, every scale's files and
    evaluation rows; the training and stage weights kept per scale. The card-level parameter and
    FLOP counts are those of the lowest scale (each variant carries its own FLOPs)."""
    by_scale = sorted(cards, key=lambda c: c["scales"][0])
    scales = [c["scales"][0] for c in by_scale]
    if len(set(scales)) != len(scales):
        raise ValueError(f"two checkpoints of the same scale: {scales}")
    bodies = [{k: v for k, v in c["architecture"].items() if k != "stageWeights"} for c in by_scale]
    if any(b != bodies[0] for b in bodies):
        raise ValueError("the checkpoints differ in architecture beyond their scale")
    merged = dict(by_scale[0])
    merged["scales"] = scales
    merged["architecture"] = {**bodies[0], "stageWeightsByScale": {
        str(s): c["architecture"]["stageWeights"] for s, c in zip(scales, by_scale)}}
    merged["variants"] = [v for c in by_scale for v in c["variants"]]
    merged["evaluation"] = {**by_scale[0]["evaluation"],
                            "results": [r for c in by_scale for r in c["evaluation"]["results"]]}
    merged["training"] = {"byScale": {str(s): c["training"] for s, c in zip(scales, by_scale)}}
    return merged


def tiny_fixture(seed: int = 7, upscale: int = 0) -> CMSC:
    """Random-weight S=1, M=1, 8-channel CMSC whose output stays near its input
    (``upscale``: the cmsc-fast form at that scale).

    Reconstruction weights are scaled down so the fixture produces a plausible image
    (input plus a small learned-looking residual), and BN statistics are randomised so
    the export exercises the BN path, not an identity.
    """
    torch.manual_seed(seed)
    cfg = NAMED_CONFIGS["tiny"]
    model = CMSC(CMSCConfig.from_dict({**cfg.to_dict(), "upscale": upscale}))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        for r in model.reconstruction.modules():
            if isinstance(r, torch.nn.Conv2d):
                r.weight.mul_(0.02)
                r.bias.zero_()
    return model.eval()


def with_lineage(record: Optional[dict]) -> Optional[dict]:
    """A run's ``initialised_from`` with the runs before it nested. Runs from before train.py
    nested them name only their parent: that parent's checkpoint, where it is still here, says
    where it started. A nested record can hold such an older one at any depth (a new run started
    from an older one), so every level is resolved."""
    if not record:
        return record
    if "initialised_from" in record:
        return {**record, "initialised_from": with_lineage(record["initialised_from"])}
    parent = load_checkpoint(Path(record["run"])) if Path(record["run"]).is_dir() else None
    return {**record, "initialised_from": with_lineage(parent.get("initialised_from")) if parent else None}


def training_summary(state: dict) -> dict:
    """The card's training section: recipe, totals and one line per session (device, batch, iterations)."""
    recipe = state.get("recipe") or {}
    sessions = state.get("sessions") or [{
        "device": state.get("device"), "torch": state.get("torch_version"), "batch": recipe.get("batch", 0),
        "from_iteration": 0, "to_iteration": state.get("iteration", 0), "wall_seconds": state.get("wall_seconds", 0.0),
    }]
    upscale = (state.get("config") or {}).get("upscale", 0)
    # Runs from before --downscales used the paper's three copies.
    downscales = "/".join(f"{f:g}" for f in state.get("downscales") or (1, 0.7, 0.5))
    hr_jpeg = state.get("hr_jpeg")
    if hr_jpeg:
        downscales += f", each copy saved once as JPEG 4:2:0 q{hr_jpeg[0]}-{hr_jpeg[1]} (web-photo targets)"
    data = (f"291 images (T91 + BSD200) as 8-bit BT.601 Y; down-scales {downscales}; flips and rotations; "
            + (f"x{upscale} only; 24x24 low-resolution patches (HR {24 * upscale}x{24 * upscale})" if upscale
               else "scales 2/3/4 mixed; 41x41 patches"))
    degradation = state.get("degradation")
    if degradation:
        data = (f"291 images (T91 + BSD200) as RGB; down-scales {downscales}; flips and rotations; per sample a "
                "photo degradation of the LR side (training/degrade.py): blur, down-scaling kernel, Gaussian or "
                "Poisson noise, 8-bit, JPEG in RGB; the HR side clean; "
                + ("scales 2/3/4 mixed; 41x41 patches" if not upscale else f"x{upscale} only"))
    initialised_from = with_lineage(state.get("initialised_from"))
    # Every hour behind the weights: this run's and those of each run it started from, in turn.
    lineage_seconds, ancestor = state.get("wall_seconds", 0.0), initialised_from
    while ancestor:
        lineage_seconds += ancestor.get("wall_seconds") or 0.0
        ancestor = ancestor.get("initialised_from")
    return {
        "data": data,
        **({"degradation": degradation} if degradation else {}),
        **({"initialisedFrom": initialised_from} if initialised_from else {}),
        "recipe": recipe,
        # What was exported: the moving average of the weights (recipe ema_decay) or the last step's.
        "weights": "averaged" if state.get("ema") is not None else "last step",
        "iterations": state.get("iteration"),
        "patchesSeen": sum((x["to_iteration"] - x["from_iteration"]) * x["batch"] for x in sessions),
        "wallSeconds": round(state.get("wall_seconds", 0.0)),
        "wallSecondsWithInitialisation": round(lineage_seconds),
        "sessions": sessions,
        "device": state.get("device"),
        "torch": state.get("torch_version"),
    }


def load_for_export(checkpoint: Path, clean_run: Optional[str], alpha: float,
                    args: argparse.Namespace) -> Tuple[CMSC, dict]:
    """A trained run's model (WiSE-FT-interpolated with ``clean_run`` when given and ``alpha`` < 1)
    and its card's training section."""
    cfg_dict, weights, state = load_model_weights(checkpoint)
    model = CMSC(CMSCConfig.from_dict(cfg_dict))
    training_info = training_summary(state)
    if clean_run and alpha < 1.0:
        base_cfg, base_weights, base_state = load_model_weights(Path(clean_run))
        if CMSCConfig.from_dict(base_cfg) != CMSCConfig.from_dict(cfg_dict):
            raise SystemExit(f"--interpolate-from {clean_run}: another architecture than {checkpoint}")
        weights = interpolate_weights(base_weights, weights, alpha)
        training_info["interpolation"] = {
            "method": "weights (1 - alpha) * clean + alpha * fine-tuned (WiSE-FT), batch-norm statistics included",
            "clean": clean_run, "cleanIteration": base_state.get("iteration"), "alpha": alpha,
        }
    model.load_state_dict(weights)
    if args.note:
        training_info["note"] = args.note
    return model, training_info


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", nargs="+",
                    help="run folder of a trained model; for cmsc-fast, one run per integer scale (one card, "
                         "files <name>-x<s>*.onnx)")
    ap.add_argument("--tiny-fixture", action="store_true", help="export the random-weight test fixture instead")
    ap.add_argument("--upscale", type=int, default=0, help="with --tiny-fixture: the cmsc-fast form at this scale")
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--display-name", default=None)
    ap.add_argument("--description", default="")
    ap.add_argument("--evaluate", default="", help="comma-separated dataset folders to evaluate into the card")
    ap.add_argument("--evaluation-json", type=Path, default=None,
                    help="take the card's evaluation from this file (training.evaluate --json, e.g. run on a "
                         "lent GPU in fp32) instead of evaluating here; it must be of the same checkpoint")
    ap.add_argument("--note", default=None, help="free-text training note kept in the card")
    ap.add_argument("--interpolate-from", nargs="+", default=None,
                    help="run folder of the clean model this checkpoint was fine-tuned from (one per --checkpoint, "
                         "in the same order): export the weights (1 - alpha) * clean + alpha * checkpoint "
                         "(WiSE-FT, Wortsman et al. 2022)")
    ap.add_argument("--alpha", default="1",
                    help="with --interpolate-from: the fine-tuned share, one for all checkpoints or one per "
                         "--checkpoint (comma-separated; 1 exports that checkpoint as trained, e.g. a model "
                         "fine-tuned for the band at one scale and an interpolation at another)")
    ap.add_argument("--photo-jpeg-quality", default=None, metavar="MIN-MAX",
                    help="with --photo-variant-of: the estimated JPEG qualities this variant serves (e.g. 80-95)")
    ap.add_argument("--photo-jpeg-quality-at", action="append", default=[], metavar="SCALE=MIN-MAX",
                    help="with --photo-jpeg-quality: another band for the file of one scale (repeatable, e.g. "
                         "2=70-95), where the strong and light variants cross elsewhere than at the others")
    ap.add_argument("--photo-variant-of", default=None,
                    help="the clean model this one is the photo variant of (the engine runs it for JPEG/noisy files)")
    ap.add_argument("--quantize", action="store_true",
                    help="also write int8 (QDQ) files, kept only where Set5 loses <= 0.05 dB (training/quantize.py)")
    ap.add_argument("--calibration-data", nargs="+", default=["../shared/datasets/train-y/T91"],
                    help="--quantize: training image folders the activation ranges are calibrated on")
    ap.add_argument("--set5", type=Path, default=Path("../shared/datasets/Set5"),
                    help="--quantize: the Set5 folder the int8 loss is measured on")
    ap.add_argument("--scales", default="2,3,4")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    if args.tiny_fixture:
        models = [(tiny_fixture(upscale=args.upscale),
                   {"note": "random weights (seed 7); a test fixture, not a trained model"})]
    else:
        if args.interpolate_from and len(args.interpolate_from) != len(args.checkpoint):
            raise SystemExit("--interpolate-from takes one clean run per --checkpoint")
        clean_runs = args.interpolate_from or [None] * len(args.checkpoint)
        alphas = [float(a) for a in args.alpha.split(",")]
        if len(alphas) == 1:
            alphas *= len(args.checkpoint)
        if len(alphas) != len(args.checkpoint) or not all(0.0 <= a <= 1.0 for a in alphas):
            raise SystemExit("--alpha takes one share in [0, 1], or one per --checkpoint")
        models = [load_for_export(Path(c), clean, alpha, args)
                  for c, clean, alpha in zip(args.checkpoint, clean_runs, alphas)]
    multi_scale = len(models) > 1
    if multi_scale and not all(m.cfg.upscale for m, _ in models):
        raise SystemExit("several --checkpoint runs make one card only for input-resolution (cmsc-fast) models")
    if multi_scale and args.evaluation_json:
        raise SystemExit("--evaluation-json takes one checkpoint")
    cards = []
    card_path = args.out / f"{args.name}.json"
    # The chroma restorer is attached by training.export_chroma and does not depend on these
    # weights: a re-export keeps it (rows in photoInputs measured the old weights, so those go).
    attached_chroma = json.loads(card_path.read_text()).get("chromaRestorer") if card_path.exists() else None
    for model, training_info in models:
        evaluation = None
        if args.evaluation_json:
            evaluation = json.loads(args.evaluation_json.read_text())
            evaluation["source"] = (f"{args.evaluation_json.name}: evaluated with training.evaluate on "
                                    f"{evaluation.get('device', '?')}")
        elif args.evaluate:
            from .evaluate import evaluate_model_on

            scales = [model.cfg.upscale] if model.cfg.upscale else [int(s) for s in args.scales.split(",")]
            evaluation = evaluate_model_on(model, [Path(d) for d in args.evaluate.split(",")], scales)
        file_base = scale_file_base(args.name, model.cfg.upscale) if multi_scale else args.name
        card = export_model(model, args.name, args.out, args.display_name or args.name, args.description,
                            training_info, evaluation, file_base=file_base)
        if args.quantize:
            from .quantize import add_int8_variants

            card = add_int8_variants(model, card, args.out, [Path(d) for d in args.calibration_data], args.set5)
        cards.append(card)
    card = merge_scale_cards(cards) if multi_scale else cards[0]
    if args.photo_variant_of:
        card["photoVariantOf"] = args.photo_variant_of
        if args.photo_jpeg_quality:
            card["photoJpegQuality"] = quality_band(args.photo_jpeg_quality)
            by_scale = dict(entry.split("=", 1) for entry in args.photo_jpeg_quality_at)
            if by_scale:
                card["photoJpegQuality"]["byScale"] = {scale: quality_band(band) for scale, band in by_scale.items()}
    if attached_chroma is not None:
        card["chromaRestorer"] = attached_chroma
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return 0


def quality_band(text: str) -> dict:
    """``MIN-MAX`` as the card's ``{"min", "max"}`` of estimated JPEG qualities."""
    low, high = (int(v) for v in text.split("-"))
    return {"min": low, "max": high}


if __name__ == "__main__":
    sys.exit(main())
