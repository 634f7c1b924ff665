"""int8 QDQ export: graph structure, calibration, and agreement with fp32 in onnxruntime-node."""

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from training.export import export_onnx, model_inputs, run_onnxruntime_node
from training.model import CMSC, CMSCConfig, StagePrefix
from training.quantize import calibrate, conv_sites, quantize_graph, uint8_params

REPO = Path(__file__).resolve().parents[2]


def test_uint8_parameters_hold_zero_exactly_and_span_the_range():
    scale, zp = uint8_params(-0.5, 2.0)
    assert scale == pytest.approx(2.5 / 255) and zp == 51
    assert -zp * scale == pytest.approx(-0.5, abs=scale)
    # A range without zero is widened to include it.
    assert uint8_params(0.25, 1.0) == (pytest.approx(1.0 / 255), 0)


def test_calibration_records_every_convolution_and_clips_tails():
    torch.manual_seed(0)
    model = CMSC(CMSCConfig(stages=2, modules_per_stage=1, channels=4, upscale=2)).eval()
    batches = [(torch.rand(2, 1, 10, 10), torch.rand(2, 1, 20, 20))]
    full = calibrate(model, batches)
    clipped = calibrate(model, batches, tail=0.01)
    assert set(full) == {s.name for s in conv_sites(model)}
    # 1 features + 2 x (head + 4 in the module) + 2 reconstructions.
    assert len(full) == 1 + 2 * 5 + 2
    (lo, hi), _ = full["features.0"]
    assert lo == pytest.approx(float(batches[0][0].min())) and hi == pytest.approx(float(batches[0][0].max()))
    for name in full:
        assert clipped[name][1][0] >= full[name][1][0] and clipped[name][1][1] <= full[name][1][1]


def test_quantized_graph_is_qdq_int8_and_close_to_fp32_in_onnxruntime_node(tmp_path):
    if not (REPO / "node_modules" / "onnxruntime-node").exists():
        pytest.fail("node_modules/onnxruntime-node is missing: run `npm ci` before the Python tests")
    torch.manual_seed(1)
    model = CMSC(CMSCConfig(stages=2, modules_per_stage=1, channels=8, upscale=2)).eval()
    with torch.no_grad():
        for r in model.reconstruction.modules():
            if isinstance(r, torch.nn.Conv2d):
                r.weight.mul_(0.05)
    rng = np.random.default_rng(0)
    smooth = lambda *shape: torch.from_numpy(rng.random(shape, dtype=np.float32))  # noqa: E731
    batches = [(smooth(4, 1, 16, 16), smooth(4, 1, 32, 32)) for _ in range(2)]
    fp32 = tmp_path / "m.onnx"
    export_onnx(model, 2, fp32)
    int8 = tmp_path / "m-int8.onnx"
    n = quantize_graph(fp32, int8, model, calibrate(model, batches))
    assert n == 2 * 5  # every convolution but the first and the reconstructions
    g = onnx.load(str(int8)).graph
    ops = [node.op_type for node in g.node]
    assert ops.count("Conv") == 1 + 2 * 5 + 2  # the full model: both reconstructions feed the weighted sum
    assert ops.count("QuantizeLinear") > 0
    int8_weights = [t for t in g.initializer if t.data_type == onnx.TensorProto.INT8 and len(t.dims) == 4]
    assert len(int8_weights) == n
    scales = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    assert all(scales[w.name + "_scale"].shape == (w.dims[0],) for w in int8_weights)  # per channel
    x = model_inputs(model, rng.random((1, 1, 20, 24), dtype=np.float32))
    with torch.no_grad():
        ref = StagePrefix(model, 2)(*(torch.from_numpy(a) for a in x)).numpy()
    got_fp32 = run_onnxruntime_node(fp32, *x)
    assert np.abs(got_fp32 - ref).max() < 1e-4
    # The graph as written (Q, DQ and a float Conv: what the QDQ graph means) is close to fp32.
    written = np.abs(run_onnxruntime_node(int8, *x, optimize=False) - ref)
    assert 0 < written.max() < 0.02 and written.mean() < 0.003
    # ORT fuses it into integer kernels, the app's int8 path, whose rounding depends on the CPU:
    # on AVX2 without VNNI the u8 x s8 products are summed in pairs into saturating int16
    # (VPMADDUBSW), which this untrained model's full-range weights and inputs reach. Measured on
    # an AMD EPYC without VNNI: max 0.0199, mean 0.0032 fused against 0.0134, 0.0026 as written
    # (trained models lose the same 0.01-0.02 dB on Set5 there as on the card). The bound allows
    # that, and still fails a fused graph that computes something else.
    fused = np.abs(run_onnxruntime_node(int8, *x) - ref)
    assert 0 < fused.max() < 0.03 and fused.mean() < 0.004


def test_a_graph_of_another_model_is_refused(tmp_path):
    torch.manual_seed(2)
    cfg = CMSCConfig(stages=1, modules_per_stage=1, channels=4, upscale=2)
    exported, other = CMSC(cfg).eval(), CMSC(cfg).eval()
    export_onnx(exported, 1, tmp_path / "a.onnx")
    batches = [(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 16, 16))]
    with pytest.raises(RuntimeError, match="matches no PyTorch convolution"):
        quantize_graph(tmp_path / "a.onnx", tmp_path / "b.onnx", other, calibrate(other, batches))
