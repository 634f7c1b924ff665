"""Static int8 QDQ quantization of an exported CMSC graph, without a Python onnxruntime.

Debian ships ``python3-onnx`` but not onnxruntime for Python, so the QuantizeLinear /
DequantizeLinear pairs are inserted here with the ``onnx`` package and the activation ranges
come from PyTorch (forward hooks on the same model, run on training patches):

* weights: per output channel, symmetric int8 (zero point 0, scale = max|w| / 127), stored as
  int8 initializers behind a DequantizeLinear (axis 0);
* biases: int32 with scale = input scale x weight scale (what QLinearConv needs);
* activations: per tensor, asymmetric uint8 over the calibrated [min, max] (always holding 0),
  a Q/DQ pair on every quantized convolution's input and output, so onnxruntime fuses each
  DQ -> Conv -> Q into one QLinearConv (u8s8; VNNI where the CPU has it). LeakyReLU, the
  merge-and-run additions and the pixel shuffle stay in float between the pairs.

The first convolution (1 input channel: its input is the image) and the reconstruction
convolutions (their output is the residual added to the image) stay float: together they are
under 1 % of the work and carry most of the quantization error on the output.

ONNX convolutions are matched to PyTorch modules by their (BN-folded) weights, not by names,
so the mapping survives the exporter's renaming and dead-code removal of stage prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from .model import CMSC, ConvBN


@dataclass
class ConvSite:
    """One convolution as the ONNX exporter sees it: BN folded into the weights."""

    name: str
    hooked: nn.Module  # the module whose input/output are the ONNX Conv's input/output
    weight: np.ndarray  # folded, float32 (Cout, Cin, k, k)
    float_only: bool  # kept in float (first and reconstruction convolutions)


def conv_sites(model: CMSC) -> List[ConvSite]:
    sites: List[ConvSite] = []
    inside_convbn = set()
    for name, m in model.named_modules():
        if isinstance(m, ConvBN):
            conv, bn = m[0], m[1]
            inside_convbn.add(id(conv))
            gain = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
            w = (conv.weight.detach() * gain[:, None, None, None]).numpy().astype(np.float32)
            sites.append(ConvSite(name, m, w, float_only=conv.in_channels == 1))
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and id(m) not in inside_convbn:
            sites.append(ConvSite(name, m, m.weight.detach().numpy().astype(np.float32),
                                  float_only=name.startswith("reconstruction")))
    return sites


Range = Tuple[float, float]


def calibrate(model: CMSC, batches: Iterable[Sequence[torch.Tensor]], tail: float = 0.0) -> Dict[str, Tuple[Range, Range]]:
    """Range of every convolution's input and output over ``batches`` (model inputs): min/max,
    or with ``tail`` > 0 the [tail, 1 - tail] quantiles (outliers clipped for finer steps)."""
    model = model.eval()
    samples: Dict[str, Tuple[List[np.ndarray], List[np.ndarray]]] = {}
    handles = []

    def hook(name: str):
        def record(module, inputs, output):  # noqa: ARG001
            x, y = samples.setdefault(name, ([], []))
            x.append(inputs[0].detach().float().numpy().ravel())
            y.append(output.detach().float().numpy().ravel())
        return record

    for site in conv_sites(model):
        handles.append(site.hooked.register_forward_hook(hook(site.name)))
    try:
        with torch.no_grad():
            for inputs in batches:
                model(*inputs)
    finally:
        for h in handles:
            h.remove()

    def bounds(parts: List[np.ndarray]) -> Range:
        v = np.concatenate(parts)
        if tail <= 0:
            return float(v.min()), float(v.max())
        lo, hi = np.quantile(v, [tail, 1.0 - tail])
        return float(lo), float(hi)

    return {k: (bounds(x), bounds(y)) for k, (x, y) in samples.items()}


def uint8_params(lo: float, hi: float) -> Tuple[float, int]:
    """Asymmetric uint8 scale and zero point for [lo, hi] (widened to hold 0 exactly)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zero_point = int(np.clip(round(-lo / scale), 0, 255))
    return float(scale), zero_point


def quantize_graph(fp32_path: Path, out_path: Path, model: CMSC, ranges: Dict[str, Tuple[Range, Range]]) -> int:
    """Write the QDQ int8 version of ``fp32_path`` (an export of ``model``); returns how many
    convolutions were quantized."""
    graph_model = onnx.load(str(fp32_path))
    g = graph_model.graph
    inits = {t.name: t for t in g.initializer}
    sites = conv_sites(model)
    new_inits: List[TensorProto] = []
    new_nodes: Dict[int, List[onnx.NodeProto]] = {}  # insert before node index
    after_nodes: Dict[int, List[onnx.NodeProto]] = {}
    quantized_inputs: Dict[str, Tuple[str, float]] = {}  # float tensor -> (its Q/DQ'd copy, scale)
    renamed_outputs: Dict[str, str] = {}  # conv output -> its Q/DQ'd copy, for the consumers
    count = 0

    def match(weight: np.ndarray) -> Optional[ConvSite]:
        for s in sites:
            if s.weight.shape == weight.shape and np.allclose(s.weight, weight, rtol=1e-4, atol=1e-6):
                return s
        return None

    def qdq(tensor: str, scale: float, zp: int, tag: str) -> Tuple[str, List[onnx.NodeProto]]:
        s_name, z_name = f"{tag}_scale", f"{tag}_zp"
        new_inits.append(numpy_helper.from_array(np.array(scale, dtype=np.float32), s_name))
        new_inits.append(numpy_helper.from_array(np.array(zp, dtype=np.uint8), z_name))
        q, dq = f"{tag}_q", f"{tag}_dq"
        return dq, [
            helper.make_node("QuantizeLinear", [tensor, s_name, z_name], [q], name=f"{tag}_Q"),
            helper.make_node("DequantizeLinear", [q, s_name, z_name], [dq], name=f"{tag}_DQ"),
        ]

    for i, node in enumerate(g.node):
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        site = match(w)
        if site is None:
            raise RuntimeError(f"{fp32_path.name}: Conv {node.name} matches no PyTorch convolution")
        if site.float_only:
            continue
        (in_lo, in_hi), (out_lo, out_hi) = ranges[site.name]
        tag = f"q{count}"
        # Input activation: one Q/DQ per tensor, shared by every convolution reading it.
        x = node.input[0]
        if x not in quantized_inputs:
            s_in, zp_in = uint8_params(in_lo, in_hi)
            dq_name, nodes = qdq(x, s_in, zp_in, f"{tag}_in")
            quantized_inputs[x] = (dq_name, s_in)
            new_nodes.setdefault(i, []).extend(nodes)
        # Readers of one tensor share its pair (their calibrated ranges are of the same tensor).
        node.input[0], s_in = quantized_inputs[x]
        # Weights: per output channel, symmetric int8.
        w_scale = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1), 1e-12) / 127.0
        w_q = np.clip(np.round(w / w_scale[:, None, None, None]), -127, 127).astype(np.int8)
        new_inits += [
            numpy_helper.from_array(w_q, f"{tag}_w"),
            numpy_helper.from_array(w_scale.astype(np.float32), f"{tag}_w_scale"),
            numpy_helper.from_array(np.zeros(w.shape[0], dtype=np.int8), f"{tag}_w_zp"),
        ]
        new_nodes.setdefault(i, []).append(helper.make_node(
            "DequantizeLinear", [f"{tag}_w", f"{tag}_w_scale", f"{tag}_w_zp"], [f"{tag}_w_dq"], name=f"{tag}_w_DQ", axis=0))
        node.input[1] = f"{tag}_w_dq"
        # Bias: int32 at input scale x weight scale.
        if len(node.input) > 2 and node.input[2] in inits:
            b = numpy_helper.to_array(inits[node.input[2]]).astype(np.float64)
            b_scale = (s_in * w_scale).astype(np.float32)
            b_q = np.round(b / b_scale.astype(np.float64)).astype(np.int32)
            new_inits += [
                numpy_helper.from_array(b_q, f"{tag}_b"),
                numpy_helper.from_array(b_scale, f"{tag}_b_scale"),
                numpy_helper.from_array(np.zeros(w.shape[0], dtype=np.int32), f"{tag}_b_zp"),
            ]
            new_nodes.setdefault(i, []).append(helper.make_node(
                "DequantizeLinear", [f"{tag}_b", f"{tag}_b_scale", f"{tag}_b_zp"], [f"{tag}_b_dq"], name=f"{tag}_b_DQ", axis=0))
            node.input[2] = f"{tag}_b_dq"
        # Output activation: Q/DQ right after the convolution; consumers read the DQ'd copy.
        y = node.output[0]
        s_out, zp_out = uint8_params(out_lo, out_hi)
        dq_name, nodes = qdq(y, s_out, zp_out, f"{tag}_out")
        renamed_outputs[y] = dq_name
        after_nodes[i] = nodes
        count += 1

    nodes_out: List[onnx.NodeProto] = []
    for i, node in enumerate(g.node):
        nodes_out.extend(new_nodes.get(i, []))
        nodes_out.append(node)
        nodes_out.extend(after_nodes.get(i, []))
    own = {id(n) for ns in after_nodes.values() for n in ns}
    for node in nodes_out:
        if id(node) in own:
            continue
        for k, name in enumerate(node.input):
            if name in renamed_outputs:
                node.input[k] = renamed_outputs[name]
    for out in g.output:
        if out.name in renamed_outputs:
            raise RuntimeError("a quantized convolution's output is a graph output")
    del g.node[:]
    g.node.extend(nodes_out)
    used = {name for n in g.node for name in n.input}
    kept = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, str(out_path))
    return count


# --- int8 variants of an exported model: calibration, measurement, card ------------------

INT8_MAX_SET5_LOSS_DB = 0.05
CALIBRATION_PATCHES = 64
CALIBRATION_BATCH = 8
CALIBRATION_LR_PATCH = 48  # low-resolution side of a calibration patch (cmsc-fast)
CALIBRATION_IMAGES = 60
# Activation ranges clip this fraction of calibration values at each end: finer steps for the
# bulk matter more than the rare extremes (cmsc-fast x2 at 1,461 iterations, Set5 x2 loss of the
# full model: min/max 0.056 dB, 1e-5 0.050, 1e-4 0.031, 1e-3 0.023). Which tail suits a file
# varies (at 4,076 iterations stage 1 lost 0.016 dB with 1e-4 and 0.030 with 1e-3, the full
# model 0.031 and 0.024), so each file takes the candidate that loses least on validation
# images: training images the calibration does not use (never Set5, the acceptance test).
CALIBRATION_TAILS = (1e-4, 1e-3)
VALIDATION_IMAGES = 8


def calibration_batches(model: CMSC, folders: Sequence[Path], seed: int = 0) -> List[Tuple[torch.Tensor, ...]]:
    """Model inputs drawn from training images: LR patches with their bicubic residual
    (cmsc-fast), or bicubic-upscaled 41x41 patches (the paper's models)."""
    from .data import InputResolutionPatchSampler, PatchSampler, build_input_resolution_pairs, build_pairs

    if model.cfg.upscale:
        pairs = build_input_resolution_pairs(folders, model.cfg.upscale, limit=CALIBRATION_IMAGES,
                                             patch=CALIBRATION_LR_PATCH)
        sampler = InputResolutionPatchSampler(pairs, seed, patch=CALIBRATION_LR_PATCH)
        out = []
        for _ in range(CALIBRATION_PATCHES // CALIBRATION_BATCH):
            lr, up, _hr, _s = sampler.batch(CALIBRATION_BATCH)
            out.append((torch.from_numpy(lr.copy()), torch.from_numpy(up.copy())))
        return out
    sampler = PatchSampler(build_pairs(folders, limit=CALIBRATION_IMAGES), seed)
    return [(torch.from_numpy(sampler.batch(CALIBRATION_BATCH)[0].copy()),)
            for _ in range(CALIBRATION_PATCHES // CALIBRATION_BATCH)]


def onnx_psnr_per_file(files: Sequence[Path], model: CMSC, dataset: "Path | Sequence[Path]",
                       scales: Sequence[int]) -> Dict[Tuple[str, int], float]:
    """Mean PSNR (the evaluation protocol) of each ONNX file run in onnxruntime-node, per scale,
    over a folder of images (or a list of image files)."""
    from .onnx_node import run_onnxruntime_node_jobs
    from .images import list_images, read_y
    from .imresize import imresize, modcrop
    from .metrics import psnr

    images = []
    for p in (list_images(dataset) if isinstance(dataset, Path) else dataset):
        for s in scales:
            hr = modcrop(read_y(p), s)
            small = imresize(hr, scale=1.0 / s)
            bic = imresize(small, output_shape=hr.shape[:2])
            inputs = [small, bic] if model.cfg.upscale else [bic]
            images.append((s, hr, [a.astype(np.float32)[None, None] for a in inputs]))
    jobs = [(f, inputs) for f in files for (_s, _hr, inputs) in images]
    outputs = run_onnxruntime_node_jobs(jobs)
    sums: Dict[Tuple[str, int], List[float]] = {}
    for (f, _), out, (s, hr, _) in zip(jobs, outputs, images * len(files)):
        sums.setdefault((f.name, s), []).append(psnr(hr, out[0, 0].astype(np.float64), s))
    return {k: float(np.mean(v)) for k, v in sums.items()}


def validation_images(calibration_folders: Sequence[Path]) -> List[Path]:
    """The last images of the last training folder: not among the first CALIBRATION_IMAGES."""
    from .images import list_images

    files = list_images(Path(calibration_folders[-1]))
    if len(files) <= CALIBRATION_IMAGES + VALIDATION_IMAGES:
        raise ValueError(f"{calibration_folders[-1]}: too few images to hold some out for validation")
    return files[-VALIDATION_IMAGES:]


def add_int8_variants(model: CMSC, card: dict, out_dir: Path, calibration_folders: Sequence[Path],
                      set5: Path) -> dict:
    """Quantize every exported stage file, measure it on Set5 against its fp32 file (both in
    onnxruntime-node) and keep the int8 file only where it loses at most 0.05 dB at every
    scale. Each variant records the measurement either way (``int8`` or ``int8Rejected``)."""
    from .onnx_node import parity, sha256

    batches = calibration_batches(model, calibration_folders)
    candidates = {tail: calibrate(model, batches, tail) for tail in CALIBRATION_TAILS}
    validation = validation_images(calibration_folders)
    scales = card["scales"]
    for variant in card["variants"]:
        fp32 = out_dir / variant["file"]
        int8 = fp32.with_name(fp32.stem + "-int8.onnx")
        tried = {tail: fp32.with_name(f"{fp32.stem}-int8-tail{tail:g}.onnx") for tail in CALIBRATION_TAILS}
        for tail, path in tried.items():
            quantized = quantize_graph(fp32, path, model, candidates[tail])
        val = onnx_psnr_per_file([fp32, *tried.values()], model, validation, scales)
        tail = max(CALIBRATION_TAILS, key=lambda t: sum(val[(tried[t].name, s)] for s in scales))
        tried[tail].replace(int8)
        for path in tried.values():
            path.unlink(missing_ok=True)
        scores = onnx_psnr_per_file([fp32, int8], model, set5, scales)
        losses = {s: round(scores[(fp32.name, s)] - scores[(int8.name, s)], 4) for s in scales}
        diff = parity(model, variant["stages"], int8)
        record = {
            "file": int8.name,
            "quantizedConvolutions": quantized,
            "calibrationTail": tail,
            "set5PsnrLossDb": {str(s): v for s, v in losses.items()},
            "parityMaxAbsDiff": diff,
        }
        worst = max(losses.values())
        if worst <= INT8_MAX_SET5_LOSS_DB:
            variant["int8"] = {**record, "sha256": sha256(int8), "bytes": int8.stat().st_size}
            print(f"int8 {int8.name}: Set5 loss {losses} dB, kept ({int8.stat().st_size / 1e6:.2f} MB)", flush=True)
        else:
            int8.unlink()
            variant.pop("int8", None)
            variant["int8Rejected"] = {**record, "reason": f"Set5 loss {worst:.3f} dB > {INT8_MAX_SET5_LOSS_DB}"}
            print(f"int8 {int8.name}: Set5 loss {losses} dB, rejected", flush=True)
    (out_dir / f"{card['name']}.json").write_text(__import__("json").dumps(card, indent=2) + "\n")
    return card
