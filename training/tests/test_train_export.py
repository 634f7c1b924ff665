"""Resume equivalence and ONNX export parity, on tiny synthetic data."""

import json
from pathlib import Path

import pytest
import torch

from training import train
from training.checkpoint import load_checkpoint
from training.export import export_model, parity, tiny_fixture
from training.model import CMSC, CMSCConfig

REPO = Path(__file__).resolve().parents[2]


def _run(args):
    assert train.main(args) == 0


def test_resume_continues_exactly_the_same_run(tiny_dataset, tmp_path):
    common = ["--arch", "tiny", "--recipe", "budget", "--data", str(tiny_dataset), "--threads", "1",
              "--log-every", "1", "--batch", "4"]
    straight = tmp_path / "straight"
    _run(["--run", str(straight), "--max-iters", "4", *common])
    split = tmp_path / "split"
    _run(["--run", str(split), "--max-iters", "2", *common])
    _run(["--run", str(split), "--resume", "--max-iters", "4", *common])
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["iteration"] == b["iteration"] == 4
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_export_parity_with_onnxruntime_node(tmp_path):
    if not (REPO / "node_modules" / "onnxruntime-node").exists():
        pytest.fail("node_modules/onnxruntime-node is missing: run `npm ci` before the Python tests")
    model = CMSC(CMSCConfig(stages=2, modules_per_stage=1, channels=4)).eval()
    card = export_model(model, "probe", tmp_path, "probe", "", {"note": "test"})
    assert [v["stages"] for v in card["variants"]] == [1, 2]
    assert [v["file"] for v in card["variants"]] == ["probe-s1.onnx", "probe.onnx"]
    assert all(v["parityMaxAbsDiff"] <= 1e-4 for v in card["variants"])
    written = json.loads((tmp_path / "probe.json").read_text())
    assert written["input"]["name"] == "lr_y" and written["output"]["name"] == "sr_y"
    assert written["receptiveFieldRadius"] == 1 + 2 * (1 + 4) + 1


def test_shipped_tiny_fixture_matches_its_card():
    card = json.loads((REPO / "test/fixtures/models/cmsc-tiny.json").read_text())
    model = tiny_fixture()
    assert card["parameters"] == sum(p.numel() for p in model.parameters())
    path = REPO / "test/fixtures/models" / card["variants"][0]["file"]
    if not (REPO / "node_modules" / "onnxruntime-node").exists():
        pytest.fail("node_modules/onnxruntime-node is missing: run `npm ci` before the Python tests")
    assert parity(model, 1, path) <= 1e-4


def test_checkpoint_chunks_are_small_and_checksummed(tmp_path, monkeypatch):
    from training import checkpoint as ck

    monkeypatch.setattr(ck, "CHUNK_BYTES", 1000)
    state = {"model": {"w": torch.arange(1000, dtype=torch.float32)}, "iteration": 7}
    ck.save_checkpoint(tmp_path, state)
    ck.save_checkpoint(tmp_path, {**state, "iteration": 8})
    manifest = json.loads((tmp_path / "checkpoint.json").read_text())
    assert manifest["generation"] == 2 and len(manifest["chunks"]) >= 4
    assert all(c["bytes"] <= 1000 for c in manifest["chunks"])
    # Only the current generation's chunks remain.
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == sorted(c["file"] for c in manifest["chunks"])
    loaded = ck.load_checkpoint(tmp_path)
    assert loaded["iteration"] == 8 and torch.equal(loaded["model"]["w"], state["model"]["w"])
    first = tmp_path / manifest["chunks"][0]["file"]
    first.write_bytes(b"x" + first.read_bytes()[1:])
    with pytest.raises(ValueError, match="checksum"):
        ck.load_checkpoint(tmp_path)
