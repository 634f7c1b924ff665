"""The chroma restorer: identity at start, pairs that are what a JPEG makes, resumable training,
an export that runs in onnxruntime-node and attaches itself to cards."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from training import export_chroma, train_chroma
from training.checkpoint import load_checkpoint
from training.chroma import ChromaPatchSampler, ChromaRestorer, load_training_photos
from training.degrade import jpeg
from training.color import rgb_to_ycbcr


@pytest.fixture()
def rgb_photos(tmp_path):
    folder = tmp_path / "rgb"
    folder.mkdir()
    rng = np.random.default_rng(4)
    for i in range(2):
        base = rng.random((14, 14, 3))
        Image.fromarray((np.kron(base, np.ones((16, 16, 1))) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def test_an_untrained_restorer_returns_the_files_chroma():
    x = torch.rand(2, 3, 32, 24)
    out = ChromaRestorer()(x)
    assert out.shape == (2, 2, 32, 24)
    assert torch.equal(out, x[:, 1:3])


def test_receptive_radius_covers_every_pixel_the_output_depends_on():
    torch.manual_seed(0)
    model = ChromaRestorer()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    radius = export_chroma.receptive_radius(model.cfg)
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    model(x)[0, :, 48, 48].sum().backward()
    rows, cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1)), as_tuple=True)
    reach = max(int((rows - 48).abs().max()), int((cols - 48).abs().max()))
    assert reach <= radius


def test_pairs_hold_the_clean_chroma_as_target_and_a_jpeg_as_input(rgb_photos):
    sampler = ChromaPatchSampler(load_training_photos([str(rgb_photos)]), seed=1, patch=32)
    x, y = sampler.batch(6)
    assert x.shape == (6, 3, 32, 32) and y.shape == (6, 2, 32, 32)
    # Most pairs differ (a JPEG changed the chroma), and the input's Y is a plausible luma.
    assert sum(np.abs(x[i, 1:3] - y[i]).max() > 1e-3 for i in range(6)) >= 3
    assert x[:, 0].min() >= 16 / 255 - 1e-3 and x[:, 0].max() <= 235 / 255 + 1e-3


def test_a_jpeg_at_4_2_0_loses_chroma_detail_the_restorer_is_for():
    rng = np.random.default_rng(2)
    rgb = (np.kron(rng.random((8, 8, 3)), np.ones((4, 4, 1))) * 255).astype(np.uint8)
    decoded = jpeg(rgb, 75, chroma_444=False)
    chroma_error = np.abs(rgb_to_ycbcr(decoded / 255.0)[..., 1:] - rgb_to_ycbcr(rgb / 255.0)[..., 1:]).mean()
    luma_error = np.abs(rgb_to_ycbcr(decoded / 255.0)[..., 0] - rgb_to_ycbcr(rgb / 255.0)[..., 0]).mean()
    assert chroma_error > luma_error


def test_training_resumes_and_the_export_matches_pytorch_in_onnxruntime_node(rgb_photos, tmp_path):
    run = tmp_path / "run"
    common = ["--run", str(run), "--data", str(rgb_photos), "--threads", "1", "--batch", "2", "--patch", "32",
              "--log-every", "1"]
    assert train_chroma.main(common + ["--max-iters", "2"]) == 0
    assert train_chroma.main(common + ["--resume", "--max-iters", "3"]) == 0
    state = load_checkpoint(run)
    assert state["iteration"] == 3 and len(state["sessions"]) == 2
    models = tmp_path / "models"
    models.mkdir()
    (models / "probe.json").write_text(json.dumps({"name": "probe"}))
    assert export_chroma.main(["--run", str(run), "--out", str(models), "--attach", "probe", "--threads", "1"]) == 0
    card = json.loads((models / "probe.json").read_text())
    block = card["chromaRestorer"]
    assert block["file"] == "cmsc-chroma.onnx" and (models / block["file"]).stat().st_size == block["bytes"]
    assert block["parityMaxAbsDiff"] < 1e-4 and block["training"]["iterations"] == 3
    assert (block["input"], block["output"]) == ("ycbcr", "cbcr")
