"""cmsc-fast: the CMSC body at input resolution (shapes, FLOPs, receptive field, data,
export parity, resume equivalence), the same checks as the paper model's."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training import train
from training.checkpoint import load_checkpoint
from training.data import InputResolutionPatchSampler, build_input_resolution_pairs
from training.evaluate import evaluate_model_on
from training.export import export_model, run_onnxruntime_node
from training.imresize import imresize
from training.model import FAST_X2, LITE, CMSC, CMSCConfig, StagePrefix, count_parameters, flops_per_pixel

REPO = Path(__file__).resolve().parents[2]


def small_fast(scale: int = 2, stages: int = 2) -> CMSCConfig:
    return CMSCConfig(stages=stages, modules_per_stage=1, channels=4, upscale=scale)


def test_fast_x2_is_the_lite_body_at_a_quarter_of_its_cost_per_output_pixel():
    model = CMSC(FAST_X2)
    # The lite body (659,334) plus 3 reconstructions with 4 outputs instead of 1: 3 x 3 x (9 x 32 + 1).
    assert count_parameters(model) == 659_334 + 3 * 3 * (9 * 32 + 1) == 661_935
    assert flops_per_pixel(LITE) == 1_310_976
    # (lite's multiply-adds + 3 x 9 x 32 x 3 more reconstruction outputs) x 2 / 4 output pixels per LR pixel.
    assert flops_per_pixel(FAST_X2) == 329_040
    assert flops_per_pixel(FAST_X2, 1) == 2 * (9 * 32 + 9 * 32 * 32 + 3 * 2 * 34 * 32 * 32 + 9 * 32 * 4) // 4
    assert FAST_X2.receptive_field_radius == LITE.receptive_field_radius == 41


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("hw", [(13, 7), (21, 34)])
def test_every_stage_outputs_s_times_the_input(scale, hw):
    model = CMSC(small_fast(scale)).eval()
    x = torch.rand(2, 1, *hw)
    bic = torch.rand(2, 1, hw[0] * scale, hw[1] * scale)
    with torch.no_grad():
        preds = model.forward_all(x, bicubic=bic)
        y = model(x, bic)
    assert len(preds) == 2
    assert all(p.shape == bic.shape for p in preds) and y.shape == bic.shape


def test_an_upscale_model_refuses_to_run_without_its_bicubic_input():
    with pytest.raises(ValueError, match="bicubic"):
        CMSC(small_fast()).forward_all(torch.rand(1, 1, 8, 8))


def test_zero_initialised_fast_model_returns_the_bicubic_input_at_every_stage():
    model = CMSC(small_fast(3), zero_init_reconstruction=True).eval()
    x, bic = torch.rand(1, 1, 5, 6), torch.rand(1, 1, 15, 18)
    with torch.no_grad():
        assert all(torch.equal(p, bic) for p in model.forward_all(x, bicubic=bic))
        assert torch.allclose(model(x, bic), bic, atol=1e-6)


def test_stage_prefix_of_a_fast_model_is_that_stage_of_the_cascade():
    model = CMSC(small_fast(stages=3)).eval()
    x, bic = torch.rand(1, 1, 9, 8), torch.rand(1, 1, 18, 16)
    with torch.no_grad():
        preds = model.forward_all(x, bicubic=bic)
        assert torch.allclose(StagePrefix(model, 1)(x, bic), preds[0])
        assert torch.allclose(StagePrefix(model, 2)(x, bic), preds[1])
        assert torch.allclose(StagePrefix(model, 3)(x, bic), model.assemble(preds))


def test_receptive_field_radius_is_exact_in_low_resolution_pixels():
    cfg = small_fast(scale=2, stages=2)
    r = cfg.receptive_field_radius
    assert r == 1 + 2 * (1 + 2 * 2) + 1 == 12  # in LR pixels: 3x3 features, 2 stages of 3x3 head + 5x5 module, 3x3 recon
    torch.manual_seed(0)
    model = CMSC(cfg).double().eval()
    size, c = 2 * r + 9, r + 4
    x = torch.rand(1, 1, size, size, dtype=torch.float64)
    bic = torch.zeros(1, 1, 2 * size, 2 * size, dtype=torch.float64)
    moved = x.clone()
    moved[0, 0, c, c] += 1.0
    with torch.no_grad():
        changed = (model(moved, bic) - model(x, bic)).abs()[0, 0] > 0
    rows, cols = np.nonzero(changed.numpy())
    # Output pixel (2i + a, 2j + b) belongs to LR pixel (i, j): the change spans exactly +-r of them.
    assert rows.min() // 2 == c - r and rows.max() // 2 == c + r
    assert cols.min() // 2 == c - r and cols.max() // 2 == c + r


def test_input_resolution_patches_are_aligned_under_every_flip_and_rotation(tiny_dataset):
    pairs = build_input_resolution_pairs([tiny_dataset], 2, downscales=(1.0,))
    assert [p.small.shape for p in pairs] == [(48, 48)] * 3
    lr, up, hr, scales = InputResolutionPatchSampler(pairs, seed=5).batch(16)
    assert lr.shape == (16, 1, 24, 24) and up.shape == hr.shape == (16, 1, 48, 48)
    assert set(scales.tolist()) == {2}
    for i in range(16):
        # Away from the patch border (where the whole image had other neighbours) the LR patch is
        # the HR patch bicubic-down-scaled, and the residual patch the LR patch up-scaled.
        down = imresize(hr[i, 0].astype(np.float64), scale=0.5)
        assert np.abs(down - lr[i, 0])[3:-3, 3:-3].max() < 1e-6
        upscaled = imresize(lr[i, 0].astype(np.float64), scale=2)
        assert np.abs(upscaled - up[i, 0])[6:-6, 6:-6].max() < 1e-6


def test_sampler_state_replays_the_same_batches(tiny_dataset):
    pairs = build_input_resolution_pairs([tiny_dataset], 2)
    a = InputResolutionPatchSampler(pairs, seed=1)
    a.batch(4)
    state = a.state()
    first = a.batch(4)
    b = InputResolutionPatchSampler(pairs, seed=99)
    b.set_state(state)
    second = b.batch(4)
    assert all(np.array_equal(u, v) for u, v in zip(first, second))


def test_fast_training_resumes_exactly_the_same_run(tiny_dataset, tmp_path):
    common = ["--arch", "fast_x2", "--recipe", "budget", "--data", str(tiny_dataset), "--threads", "1",
              "--log-every", "1", "--batch", "2"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train.main(["--run", str(straight), "--max-iters", "3", *common]) == 0
    assert train.main(["--run", str(split), "--max-iters", "2", *common]) == 0
    assert train.main(["--run", str(split), "--resume", "--max-iters", "3", *common]) == 0
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["iteration"] == b["iteration"] == 3
    assert a["config"]["upscale"] == 2
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_down_scaled_copies_and_web_photo_targets_are_chosen_per_run_kept_on_resume_and_named_on_the_card(
        tiny_dataset, tmp_path, capsys):
    from training.export import training_summary

    common = ["--arch", "fast_x2", "--recipe", "budget", "--data", str(tiny_dataset), "--threads", "1",
              "--batch", "2"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    chosen = ["--downscales", "0.5", "--hr-jpeg", "70", "85"]
    assert train.main(["--run", str(straight), "--max-iters", "3", *chosen, *common]) == 0
    assert "3 (image, down-scale, scale) pairs (down-scales [0.5]; HR saved as JPEG q70-85)" in capsys.readouterr().out
    assert train.main(["--run", str(split), "--max-iters", "2", *chosen, *common]) == 0
    # The resume names no --downscales: it keeps the run's, so it draws the same batches.
    assert train.main(["--run", str(split), "--resume", "--max-iters", "3", *common]) == 0
    assert "down-scales [0.5]; HR saved as JPEG q70-85" in capsys.readouterr().out
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["downscales"] == b["downscales"] == [0.5] and a["hr_jpeg"] == b["hr_jpeg"] == [70, 85]
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert "down-scales 0.5, each copy saved once as JPEG 4:2:0 q70-85 (web-photo targets);" in training_summary(a)["data"]
    # A run from before the flags had the paper's three copies, as they are.
    older = {k: v for k, v in a.items() if k not in ("downscales", "hr_jpeg")}
    assert "down-scales 1/0.7/0.5;" in training_summary(older)["data"]


def test_a_run_started_from_a_run_started_from_another_counts_every_hour_on_the_card(tiny_dataset, tmp_path):
    from training.export import training_summary

    common = ["--arch", "fast_x2", "--recipe", "budget", "--data", str(tiny_dataset), "--threads", "1",
              "--batch", "2", "--max-iters", "1"]
    first, second, third = tmp_path / "first", tmp_path / "second", tmp_path / "third"
    assert train.main(["--run", str(first), *common]) == 0
    assert train.main(["--run", str(second), "--init-from", str(first), *common]) == 0
    assert train.main(["--run", str(third), "--init-from", str(second), *common]) == 0
    states = [load_checkpoint(r) for r in (first, second, third)]
    lineage = states[2]["initialised_from"]
    assert lineage["run"] == str(second) and lineage["initialised_from"]["run"] == str(first)
    assert lineage["initialised_from"]["initialised_from"] is None
    card = training_summary(states[2])
    assert card["wallSecondsWithInitialisation"] == round(sum(s["wall_seconds"] for s in states))
    assert card["initialisedFrom"]["initialised_from"]["run"] == str(first)
    # A run from before the nesting names only its parent; the parent's checkpoint supplies the rest.
    older = {**states[2], "initialised_from": {k: v for k, v in lineage.items() if k != "initialised_from"}}
    assert training_summary(older)["wallSecondsWithInitialisation"] == card["wallSecondsWithInitialisation"]
    # A new run started from a run whose record is of the older kind: that record sits one level
    # down, and its parent's checkpoint still supplies the first run's hours.
    third_older_kind = {"run": str(third), "iteration": states[2]["iteration"],
                        "wall_seconds": states[2]["wall_seconds"], "initialised_from": older["initialised_from"]}
    fourth = {**states[2], "initialised_from": third_older_kind}
    assert training_summary(fourth)["wallSecondsWithInitialisation"] == round(
        2 * states[2]["wall_seconds"] + states[1]["wall_seconds"] + states[0]["wall_seconds"])


def test_zero_initialised_fast_model_evaluates_to_the_bicubic_row(tiny_dataset):
    model = CMSC(CMSCConfig.from_dict({**FAST_X2.to_dict(), "stages": 2, "modules_per_stage": 1}),
                 zero_init_reconstruction=True)
    with torch.no_grad():
        model.stage_weights.copy_(torch.tensor([0.0, 1.0]))
    results = evaluate_model_on(model, [tiny_dataset], [2, 3])["results"]
    # One scale only (the model's), and every stage equals the bicubic input.
    assert {r["scale"] for r in results} == {2}
    assert [r["stages"] for r in results] == [0, 1, 2]
    assert results[1]["psnr"] == results[0]["psnr"] == results[2]["psnr"]


def test_fast_export_has_two_inputs_and_matches_pytorch_in_onnxruntime_node(tmp_path):
    if not (REPO / "node_modules" / "onnxruntime-node").exists():
        pytest.fail("node_modules/onnxruntime-node is missing: run `npm ci` before the Python tests")
    model = CMSC(small_fast(scale=3)).eval()
    card = export_model(model, "fastprobe", tmp_path, "fastprobe", "", {"note": "test"})
    assert card["input"] == {"name": "lr_y", "channels": 1, "colorSpace": "bt601-y", "range": [0, 1],
                             "resolution": "input", "bicubic": "bicubic_y"}
    assert card["scales"] == [3]
    assert [(v["stages"], v["scale"], v["file"]) for v in card["variants"]] == [
        (1, 3, "fastprobe-s1.onnx"), (2, 3, "fastprobe.onnx")]
    assert all(v["parityMaxAbsDiff"] <= 1e-4 for v in card["variants"])
    # Dynamic sizes: a shape other than the export's, output 3x larger.
    x = np.random.default_rng(1).random((2, 1, 11, 17), dtype=np.float32)
    bic = np.random.default_rng(2).random((2, 1, 33, 51), dtype=np.float32)
    got = run_onnxruntime_node(tmp_path / "fastprobe.onnx", x, bic)
    with torch.no_grad():
        ref = model(torch.from_numpy(x), torch.from_numpy(bic)).numpy()
    assert got.shape == (2, 1, 33, 51) and np.abs(got - ref).max() <= 1e-4
    written = json.loads((tmp_path / "fastprobe.json").read_text())
    assert written["receptiveFieldRadius"] == 12


def test_photo_fine_tune_of_a_fast_model_runs_on_input_resolution_degraded_pairs(tmp_path):
    from training.photo_data import DegradedPatchSampler, load_rgb_images

    folder = tmp_path / "rgb"
    folder.mkdir()
    rng = np.random.default_rng(4)
    for i in range(2):
        base = rng.random((12, 12, 3))
        Image.fromarray((np.kron(base, np.ones((10, 10, 1))) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    lr, bic, hr, scales = DegradedPatchSampler(load_rgb_images([folder]), 0, scales=(2,), lr_resolution="input",
                                               lr_patch=16).batch(3)
    assert lr.shape == (3, 1, 16, 16) and bic.shape == hr.shape == (3, 1, 32, 32) and scales.tolist() == [2] * 3
    for i in range(3):
        # The residual input is the degraded LR bicubic-upscaled (taken from a larger crop, so
        # away from the patch border it equals up-scaling the patch itself).
        assert np.abs(imresize(lr[i, 0].astype(np.float64), scale=2) - bic[i, 0])[6:-6, 6:-6].max() < 1e-5
    run = tmp_path / "run"
    assert train.main(["--run", str(run), "--arch", "fast_x2", "--data", str(folder), "--threads", "1",
                       "--batch", "2", "--max-iters", "2", "--degradation", "photo"]) == 0
    assert load_checkpoint(run)["iteration"] == 2


def test_a_fast_run_at_another_scale_starts_from_the_x2_body_with_fresh_heads(tiny_dataset, tmp_path):
    common = ["--recipe", "budget", "--data", str(tiny_dataset), "--threads", "1", "--batch", "2"]
    x2, x4 = tmp_path / "x2", tmp_path / "x4"
    assert train.main(["--run", str(x2), "--arch", "fast_x2", "--max-iters", "2", *common]) == 0
    assert train.main(["--run", str(x4), "--arch", "fast_x4", "--max-iters", "0", "--init-from", str(x2),
                       *common]) == 0
    body, started = load_checkpoint(x2)["model"], load_checkpoint(x4)
    assert started["config"]["upscale"] == 4 and started["initialised_from"]["iteration"] == 2
    heads = {k for k in started["model"] if k.startswith("reconstruction.")}
    for k, v in started["model"].items():
        if k in heads:
            # Zero-initialised (so x4 starts at bicubic), shaped for 16 sub-pixels.
            assert not v.any() and v.shape[0] == 16 if v.dim() else True, k
        else:
            assert torch.equal(v, body[k]), k
    # Another body is still refused.
    with pytest.raises(SystemExit, match="architecture differs"):
        train.main(["--run", str(tmp_path / "lite"), "--arch", "lite", "--max-iters", "0", "--init-from", str(x2),
                    *common])


def test_one_card_holds_a_fast_model_trained_per_scale(tiny_dataset, tmp_path):
    from training import export

    if not (REPO / "node_modules" / "onnxruntime-node").exists():
        pytest.fail("node_modules/onnxruntime-node is missing: run `npm ci` before the Python tests")
    runs = []
    for arch in ("fast_x3", "fast_x2"):
        run = tmp_path / arch
        assert train.main(["--run", str(run), "--arch", arch, "--recipe", "budget", "--data", str(tiny_dataset),
                           "--threads", "1", "--batch", "2", "--max-iters", "1"]) == 0
        runs.append(str(run))
    out = tmp_path / "models"
    assert export.main(["--checkpoint", *runs, "--name", "fastpair", "--out", str(out),
                        "--evaluate", str(tiny_dataset)]) == 0
    card = json.loads((out / "fastpair.json").read_text())
    assert card["scales"] == [2, 3]
    assert [(v["scale"], v["stages"], v["file"]) for v in card["variants"]] == [
        (s, k, f"fastpair-x{s}{'' if k == 3 else f'-s{k}'}.onnx") for s in (2, 3) for k in (1, 2, 3)]
    assert all((out / v["file"]).exists() and v["parityMaxAbsDiff"] <= 1e-4 for v in card["variants"])
    assert {r["scale"] for r in card["evaluation"]["results"]} == {2, 3}
    assert set(card["training"]["byScale"]) == {"2", "3"}
    assert card["training"]["byScale"]["3"]["iterations"] == 1
    assert set(card["architecture"]["stageWeightsByScale"]) == {"2", "3"}
    # A per-scale photo variant interpolated with its clean runs, one per checkpoint.
    assert export.main(["--checkpoint", *runs, "--name", "fastmix", "--out", str(out), "--interpolate-from", *runs,
                        "--alpha", "0.5", "--photo-variant-of", "fastpair", "--photo-jpeg-quality", "86-95",
                        "--photo-jpeg-quality-at", "2=70-95"]) == 0
    mix = json.loads((out / "fastmix.json").read_text())
    assert mix["scales"] == [2, 3] and mix["photoVariantOf"] == "fastpair"
    assert mix["photoJpegQuality"] == {"min": 86, "max": 95, "byScale": {"2": {"min": 70, "max": 95}}}
    assert {s: t["interpolation"]["clean"] for s, t in mix["training"]["byScale"].items()} == {
        "3": runs[0], "2": runs[1]}
    # A re-export keeps the chroma restorer attached to the card, and drops rows measured on the old weights.
    mix["chromaRestorer"] = {"file": "chroma.onnx", "sha256": "ab"}
    mix["photoInputs"] = [{"dataset": "Set5", "input": "q75", "scale": 2}]
    (out / "fastmix.json").write_text(json.dumps(mix))
    assert export.main(["--checkpoint", *runs, "--name", "fastmix", "--out", str(out), "--interpolate-from", *runs,
                        "--alpha", "0.5", "--photo-variant-of", "fastpair", "--photo-jpeg-quality", "86-95"]) == 0
    again = json.loads((out / "fastmix.json").read_text())
    assert again["chromaRestorer"] == {"file": "chroma.onnx", "sha256": "ab"} and "photoInputs" not in again
    with pytest.raises(SystemExit, match="one clean run per --checkpoint"):
        export.main(["--checkpoint", *runs, "--name", "bad", "--out", str(out), "--interpolate-from", runs[0]])
    # One share per checkpoint: x3 exported as trained (alpha 1, no interpolation), x2 halfway.
    assert export.main(["--checkpoint", *runs, "--name", "fastper", "--out", str(out), "--interpolate-from", *runs,
                        "--alpha", "1,0.5"]) == 0
    per = json.loads((out / "fastper.json").read_text())["training"]["byScale"]
    assert "interpolation" not in per["3"] and per["2"]["interpolation"]["alpha"] == 0.5
    with pytest.raises(SystemExit, match="one per --checkpoint"):
        export.main(["--checkpoint", *runs, "--name", "bad", "--out", str(out), "--interpolate-from", *runs,
                     "--alpha", "1,0.5,0.5"])
