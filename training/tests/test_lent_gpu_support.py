"""What a run needs to travel to a lent GPU machine and back (training/lent_gpu.sh)."""

import math
import pickle

import numpy as np
import torch

from training import train
from training.checkpoint import compact_copy, load_checkpoint
from training.data import PatchSampler, Pair, PrefetchingSampler


def _pairs(n=5, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        hr = rng.random((50 + 3 * i, 60 + 2 * i), dtype=np.float32)
        out.append(Pair(hr, (hr * 0.5).astype(np.float32), 2 + i % 3))
    return out


def test_prefetching_sampler_gives_the_same_batches_and_resumable_states():
    pairs = _pairs()
    plain = PatchSampler(pairs, seed=5)
    fetched = PrefetchingSampler(PatchSampler(pairs, seed=5), batch_size=6, depth=3)
    try:
        for _ in range(4):
            a = plain.batch(6)
            b = fetched.batch(6)
            for x, y in zip(a, b):
                assert np.array_equal(x, y)
            # The state reported is the one after the consumed batch, not after the prefetched ones.
            assert fetched.state() == plain.state()
    finally:
        fetched.close()


def test_sampler_applies_the_same_flip_and_rotation_to_input_and_target():
    hr = np.arange(45 * 47, dtype=np.float32).reshape(45, 47)
    sampler = PatchSampler([Pair(hr, hr + 1000.0, 2)], seed=0)
    lr_b, hr_b, scales = sampler.batch(16)
    assert np.array_equal(lr_b, hr_b + 1000.0)
    assert (scales == 2).all()
    # Every sub-image is a rotated/flipped crop of the image: its values are a 41x41 window.
    for patch in hr_b[:, 0]:
        assert patch.max() - patch.min() == 40 * 47 + 40


def test_annealed_learning_rate_runs_from_peak_to_floor_over_the_budget():
    recipe = train.Recipe("budget", "adam", 4e-4, 128, "l1", True, True, warmup=10, min_lr=1e-5)
    assert math.isclose(train.annealed_learning_rate(recipe, 0, 0.0, 100.0), 4e-4 / 10)
    assert math.isclose(train.annealed_learning_rate(recipe, 50, 0.0, 100.0), 4e-4)
    assert math.isclose(train.annealed_learning_rate(recipe, 50, 50.0, 100.0), (4e-4 + 1e-5) / 2)
    assert math.isclose(train.annealed_learning_rate(recipe, 50, 100.0, 100.0), 1e-5)
    assert math.isclose(train.annealed_learning_rate(recipe, 50, 500.0, 100.0), 1e-5)


def test_numpy_rng_state_is_stored_as_plain_python():
    np.random.seed(11)
    state = train.numpy_rng_state()
    # Plain Python values unpickle under numpy 1 and 2 alike.
    assert "numpy" not in pickle.dumps(state).decode("latin-1")
    expected = np.random.random(3)
    train.set_numpy_rng_state(state)
    assert np.array_equal(np.random.random(3), expected)


def test_compact_copy_resumes_with_bf16_moments(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "images"
    folder.mkdir()
    from PIL import Image

    for i in range(2):
        big = np.kron(rng.random((12, 12)), np.ones((8, 8)))
        Image.fromarray((big * 255).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    common = ["--arch", "tiny", "--data", str(folder), "--threads", "1", "--batch", "4", "--log-every", "1"]
    run = tmp_path / "run"
    assert train.main(["--run", str(run), "--max-iters", "3", *common]) == 0
    full = load_checkpoint(run)
    trip = tmp_path / "trip"
    compact_copy(run, trip)
    compact = load_checkpoint(trip)
    for k, v in full["model"].items():
        assert torch.equal(v, compact["model"][k]), k
    for k, v in full["optimizer"]["state"].items():
        m = compact["optimizer"]["state"][k]["exp_avg"]
        assert m.dtype == torch.float32  # back in fp32 after loading
        assert torch.allclose(m, v["exp_avg"], rtol=1e-2, atol=1e-12)
    # The copy resumes, records both sessions, and keeps counting iterations.
    assert train.main(["--run", str(trip), "--resume", "--max-iters", "5", "--prefetch", "on",
                       "--anneal-minutes", "1", *common]) == 0
    resumed = load_checkpoint(trip)
    assert resumed["iteration"] == 5
    assert [(s["from_iteration"], s["to_iteration"]) for s in resumed["sessions"]] == [(0, 3), (3, 5)]


def test_card_training_summary_counts_patches_per_session():
    from training.export import training_summary

    state = {
        "recipe": {"batch": 128}, "iteration": 30, "wall_seconds": 100.0, "device": "cuda (X)", "torch_version": "2",
        "sessions": [
            {"device": "cpu (2 threads)", "batch": 16, "from_iteration": 0, "to_iteration": 10, "wall_seconds": 90.0},
            {"device": "cuda (X)", "batch": 128, "from_iteration": 10, "to_iteration": 30, "wall_seconds": 10.0},
        ],
    }
    summary = training_summary(state)
    assert summary["patchesSeen"] == 10 * 16 + 20 * 128
    assert [s["device"] for s in summary["sessions"]] == ["cpu (2 threads)", "cuda (X)"]
    # Runs from before sessions were recorded count as one session at the recipe's batch.
    legacy = training_summary({"recipe": {"batch": 16}, "iteration": 7, "wall_seconds": 5.0, "device": "cpu"})
    assert legacy["patchesSeen"] == 7 * 16 and len(legacy["sessions"]) == 1
