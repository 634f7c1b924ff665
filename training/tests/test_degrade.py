"""Each degradation step measured on a fixture, and the photo sampler's determinism."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training import train
from training.checkpoint import load_checkpoint
from training.color import rgb_to_y
from training.degrade import CLEAN, NAMED_RECIPES, PHOTO, PHOTO_JPEG_BAND, PHOTO_LIGHT, PHOTO_LIGHT_BAND, DegradationRecipe, blur, degrade, downscale, gaussian_noise, jpeg, poisson_noise, quantise
from training.imresize import imresize
from training.metrics import psnr
from training.photo_data import DegradedPatchSampler, load_rgb_images

REPO = Path(__file__).resolve().parents[2]
SET5_BIRD = REPO.parent / "shared" / "datasets" / "Set5" / "bird.png"


def fixture_rgb() -> np.ndarray:
    """A photo-like 96x96 RGB fixture: smooth gradients, an edge and fine texture."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:96, 0:96] / 95.0
    r = 0.2 + 0.6 * xx
    g = 0.3 + 0.4 * np.sin(3 * yy) ** 2
    b = 0.5 * (xx > 0.5) + 0.2
    img = np.stack([r, g, b], axis=-1) + 0.05 * rng.standard_normal((96, 96, 1))
    return np.clip(img, 0.0, 1.0)


def y8(rgb8: np.ndarray) -> np.ndarray:
    return rgb_to_y(rgb8.astype(np.float64) / 255.0)


def test_jpeg_psnr_falls_with_quality():
    rgb8 = quantise(fixture_rgb())
    ref = y8(rgb8)
    scores = [psnr(ref, y8(jpeg(rgb8, q, chroma_444=False)), border=0) for q in (95, 75, 50, 30)]
    assert scores == sorted(scores, reverse=True), scores
    assert scores[0] - scores[-1] > 5.0, scores


def test_chroma_subsampling_reaches_y_through_rgb():
    # A saturated red/blue checker: 4:2:0 averages chroma over 2x2, which changes Y after
    # decoding to RGB (Y is taken from the decoded RGB, as from a real file).
    checker = np.indices((32, 32)).sum(axis=0) % 2
    rgb8 = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb8[checker == 0] = (255, 0, 0)
    rgb8[checker == 1] = (0, 0, 255)
    ref = y8(rgb8)
    e444 = np.abs(y8(jpeg(rgb8, 95, chroma_444=True)) - ref).mean()
    e420 = np.abs(y8(jpeg(rgb8, 95, chroma_444=False)) - ref).mean()
    assert e420 > e444


@pytest.mark.parametrize("sigma", [2.0, 6.0])
def test_gaussian_noise_has_its_sigma(sigma):
    flat = np.full((256, 256, 3), 0.5)
    rng = np.random.default_rng(1)
    noise = (gaussian_noise(flat, sigma, grey=False, rng=rng) - flat) * 255.0
    assert noise.std() == pytest.approx(sigma, rel=0.02)
    grey = gaussian_noise(flat, sigma, grey=True, rng=rng)
    assert np.array_equal(grey[..., 0], grey[..., 2])


def test_poisson_noise_variance_follows_the_signal():
    rng = np.random.default_rng(2)
    peak = 100.0
    for level in (0.1, 0.8):
        flat = np.full((256, 256, 3), level)
        noise = poisson_noise(flat, peak, grey=False, rng=rng) - flat
        assert noise.var() == pytest.approx(level / peak, rel=0.05)
        assert abs(noise.mean()) < 0.002


def test_blur_removes_high_frequencies():
    img = fixture_rgb()
    lap = lambda x: np.abs(np.diff(x, 2, axis=0)).mean()  # noqa: E731
    assert lap(blur(img, 1.0)) < 0.5 * lap(img)
    assert lap(blur(img, 0.3)) > lap(blur(img, 1.0))


@pytest.mark.parametrize("kernel", ["bicubic", "bilinear", "area", "lanczos"])
def test_downscale_kernels_keep_the_mean_and_the_shape(kernel):
    img = fixture_rgb()
    small = downscale(img, 3, kernel)
    assert small.shape == (32, 32, 3)
    assert small.mean() == pytest.approx(img.mean(), abs=0.01)


def test_clean_recipe_is_the_papers_bicubic():
    img = fixture_rgb()
    lr8, applied = degrade(img, 2, np.random.default_rng(0), CLEAN)
    assert applied.steps == ["bicubic"] and applied.jpeg_quality is None
    assert np.array_equal(lr8, quantise(imresize(img, output_shape=(48, 48))))


def test_photo_recipe_is_seeded_and_varied():
    img = fixture_rgb()
    runs = [[degrade(img, 2, rng, PHOTO)[1].as_dict() for _ in range(40)]
            for rng in (np.random.default_rng(5), np.random.default_rng(5))]
    assert runs[0] == runs[1]
    qualities = {a["jpeg_quality"] for a in runs[0] if a["jpeg_quality"] is not None}
    assert len(qualities) > 10 and min(qualities) >= 40 and max(qualities) <= 95
    steps = {s.rstrip("0123456789.-444") for a in runs[0] for s in a["steps"]}
    assert {"bicubic", "jpeg", "gauss", "blur"} <= steps


def test_light_recipe_degrades_less_than_the_photo_recipe():
    """The light band's recipe: only light JPEG, milder noise, more clean pairs; so its LR images
    lie closer to the clean bicubic LR than the photo recipe's on the same fixture and seed."""
    img = fixture_rgb()
    clean = y8(quantise(imresize(img, output_shape=(48, 48))))

    def mean_psnr(recipe: DegradationRecipe) -> float:
        """Over the degraded samples (a clean sample's PSNR is infinite)."""
        rng = np.random.default_rng(11)
        scores = [psnr(clean, y8(degrade(img, 2, rng, recipe)[0]), border=0) for _ in range(60)]
        return float(np.mean([p for p in scores if np.isfinite(p)]))

    qualities = {degrade(img, 2, np.random.default_rng(i), PHOTO_LIGHT)[1].jpeg_quality for i in range(60)}
    assert min(q for q in qualities if q is not None) >= 80
    assert mean_psnr(PHOTO_LIGHT) > mean_psnr(PHOTO) + 1.0
    assert set(NAMED_RECIPES) == {"photo", "photo-light", "photo-jpeg-band", "photo-light-band"} and NAMED_RECIPES["photo"] == PHOTO


def test_band_recipe_spends_nearly_every_sample_on_the_photo_models_band():
    """PHOTO_JPEG_BAND: JPEG at q35-85 on every degraded sample, clean pairs rare; the photo
    recipe spends far more of its samples outside that band."""
    img = fixture_rgb()

    def qualities(recipe: DegradationRecipe) -> list:
        return [degrade(img, 2, np.random.default_rng(i), recipe)[1].jpeg_quality for i in range(200)]

    band = qualities(PHOTO_JPEG_BAND)
    assert all(q is None or 35 <= q <= 85 for q in band)
    in_band = lambda qs: sum(q is not None and q <= 85 for q in qs) / len(qs)  # noqa: E731
    assert in_band(band) >= 0.9
    assert in_band(qualities(PHOTO)) < 0.75
    assert NAMED_RECIPES["photo-jpeg-band"] == PHOTO_JPEG_BAND


def test_light_band_recipe_spends_nearly_every_sample_on_the_light_models_band():
    """PHOTO_LIGHT_BAND: JPEG at q80-97 on every degraded sample, clean pairs rare; PHOTO_LIGHT
    leaves a quarter of its samples clean (served by the clean model, never by the light one)."""
    img = fixture_rgb()

    def qualities(recipe: DegradationRecipe) -> list:
        return [degrade(img, 2, np.random.default_rng(i), recipe)[1].jpeg_quality for i in range(200)]

    band = qualities(PHOTO_LIGHT_BAND)
    assert all(q is None or 80 <= q <= 97 for q in band)
    jpeg_share = lambda qs: sum(q is not None for q in qs) / len(qs)  # noqa: E731
    assert jpeg_share(band) >= 0.9
    assert jpeg_share(qualities(PHOTO_LIGHT)) < 0.8
    assert NAMED_RECIPES["photo-light-band"] == PHOTO_LIGHT_BAND


def test_recipe_round_trips_through_a_checkpoint_dict():
    r = replace(PHOTO, jpeg_quality=(60, 90))
    assert DegradationRecipe.from_dict(r.to_dict()) == r


@pytest.mark.skipif(not SET5_BIRD.exists(), reason="needs ../shared/datasets (Set5)")
def test_jpeg_step_on_a_real_photo_costs_more_at_lower_quality():
    with Image.open(SET5_BIRD) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.float64)[:288, :288] / 255.0
    ref = y8(quantise(imresize(rgb, output_shape=(144, 144))))
    recipe = replace(PHOTO, clean_fraction=0.0, blur_probability=0.0, noise_probability=0.0,
                     jpeg_probability=1.0, kernel_weights=(1.0, 0.0, 0.0, 0.0), chroma_444_probability=0.0)
    scores = {}
    for q in (90, 75, 50):
        lr8, applied = degrade(rgb, 2, np.random.default_rng(0), replace(recipe, jpeg_quality=(q, q)))
        assert applied.jpeg_quality == q
        scores[q] = psnr(ref, y8(lr8), border=0)
    assert scores[90] > scores[75] > scores[50]


def _photo_images(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    folder = tmp_path / "rgb"
    folder.mkdir()
    for i in range(2):
        base = rng.random((12, 12, 3))
        big = np.kron(base, np.ones((8, 8, 1)))
        Image.fromarray((big * 255).astype(np.uint8), mode="RGB").save(folder / f"{i}.png")
    return folder


def test_sampler_state_resumes_the_same_batches(tmp_path):
    images = load_rgb_images([_photo_images(tmp_path)])
    a = DegradedPatchSampler(images, seed=4)
    a.batch(3)
    saved = a.state()
    first = a.batch(5)
    b = DegradedPatchSampler(images, seed=99)
    b.set_state(saved)
    second = b.batch(5)
    for x, y in zip(first, second):
        assert np.array_equal(x, y)
    lr, hr, scales = first
    assert lr.shape == hr.shape == (5, 1, 41, 41) and set(scales.tolist()) <= {2, 3, 4}


def test_input_resolution_sampler_shapes(tmp_path):
    images = load_rgb_images([_photo_images(tmp_path)])
    lr, bic, hr, scales = DegradedPatchSampler(images, 0, scales=(3,), lr_resolution="input", lr_patch=16).batch(4)
    assert lr.shape == (4, 1, 16, 16) and bic.shape == hr.shape == (4, 1, 48, 48) and scales.tolist() == [3] * 4


def test_photo_fine_tune_resumes_exactly(tmp_path):
    data = _photo_images(tmp_path)
    base = tmp_path / "base"
    common = ["--arch", "tiny", "--data", str(data), "--threads", "1", "--log-every", "1", "--batch", "2"]
    assert train.main(["--run", str(base), "--max-iters", "1", *common]) == 0
    photo = common + ["--degradation", "photo", "--init-from", str(base)]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train.main(["--run", str(straight), "--max-iters", "3", *photo]) == 0
    assert train.main(["--run", str(split), "--max-iters", "2", *photo]) == 0
    assert train.main(["--run", str(split), "--resume", "--max-iters", "3", *common]) == 0
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["degradation"] == b["degradation"] == PHOTO.to_dict()
    assert a["initialised_from"]["iteration"] == 1
    for k in a["model"]:
        assert np.array_equal(a["model"][k].numpy(), b["model"][k].numpy()), k


def test_interpolated_weights_lie_between_the_clean_and_the_tuned_model():
    import torch
    from training.export import interpolate_weights
    from training.model import CMSC, CMSCConfig

    cfg = CMSCConfig(stages=1, modules_per_stage=1, channels=4)
    clean, tuned = CMSC(cfg).state_dict(), CMSC(cfg).state_dict()
    half = interpolate_weights(clean, tuned, 0.5)
    for k, v in tuned.items():
        if v.is_floating_point():
            assert torch.allclose(half[k], (clean[k] + v) / 2), k
        else:
            assert torch.equal(half[k], v), k
    assert all(torch.equal(interpolate_weights(clean, tuned, 1.0)[k], tuned[k]) for k in tuned)


def test_weight_average_resumes_exactly_and_is_what_a_run_exports(tmp_path):
    """--ema-decay keeps a moving average of the weights beside the last step's: a resume continues
    it bit for bit, a resume of a run without one starts it, and load_model_weights (export,
    photo_bands, evaluate) reads it unless asked for the last step's weights."""
    from training.checkpoint import load_model_weights
    from training.export import training_summary

    data = _photo_images(tmp_path)
    common = ["--arch", "tiny", "--data", str(data), "--threads", "1", "--log-every", "1", "--batch", "2",
              "--degradation", "photo"]
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert train.main(["--run", str(straight), "--max-iters", "4", "--ema-decay", "0.5", *common]) == 0
    assert train.main(["--run", str(split), "--max-iters", "2", "--ema-decay", "0.5", *common]) == 0
    assert train.main(["--run", str(split), "--resume", "--max-iters", "4", *common]) == 0
    a, b = load_checkpoint(straight), load_checkpoint(split)
    assert a["recipe"]["ema_decay"] == b["recipe"]["ema_decay"] == 0.5
    floating = [k for k, v in a["model"].items() if v.is_floating_point()]
    for k in a["ema"]:
        assert np.array_equal(a["ema"][k].numpy(), b["ema"][k].numpy()), k
    assert any(not np.array_equal(a["ema"][k].numpy(), a["model"][k].numpy()) for k in floating)
    _, averaged, _ = load_model_weights(straight)
    _, last, _ = load_model_weights(straight, weights="last")
    assert all(np.array_equal(averaged[k].numpy(), a["ema"][k].numpy()) for k in a["ema"])
    assert all(np.array_equal(last[k].numpy(), a["model"][k].numpy()) for k in a["model"])
    assert training_summary(a)["weights"] == "averaged"

    plain = tmp_path / "plain"
    assert train.main(["--run", str(plain), "--max-iters", "1", *common]) == 0
    assert load_checkpoint(plain)["ema"] is None and training_summary(load_checkpoint(plain))["weights"] == "last step"
    assert train.main(["--run", str(plain), "--resume", "--max-iters", "2", "--ema-decay", "0.9", *common]) == 0
    resumed = load_checkpoint(plain)
    assert resumed["recipe"]["ema_decay"] == 0.9 and set(resumed["ema"]) == set(resumed["model"])


def test_web_photo_targets_are_one_jpeg_of_the_image_rgb_or_luminance(tmp_path):
    from training.data import downscaled_training_images
    from training.degrade import jpeg, web_photo

    rng = np.random.default_rng(1)
    smooth = np.kron(rng.random((6, 8, 3)), np.ones((8, 8, 1)))  # 48x64 RGB blocks
    for image in (smooth, smooth[..., 0]):
        a = web_photo(image, (70, 70), np.random.default_rng(0))
        assert a.shape == image.shape and a.dtype == np.float64
        image8 = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
        # exactly one JPEG round trip at the drawn quality, and not the image itself
        assert np.array_equal(np.rint(a * 255.0).astype(np.uint8), jpeg(image8, 70, chroma_444=False))
        assert np.abs(a - image).max() > 1 / 255
    # the qualities are drawn from a fixed seed: every build of a run's pairs makes the same targets
    for i in range(2):
        # texture inside the blocks: a JPEG codes flat 8x8 blocks exactly
        textured = 0.8 * smooth[..., i] + 0.2 * rng.random(smooth.shape[:2])
        Image.fromarray((textured * 255).astype(np.uint8), mode="L").save(tmp_path / f"{i}.png")
    once = list(downscaled_training_images([tmp_path], (1.0, 0.5), None, (60, 90)))
    again = list(downscaled_training_images([tmp_path], (1.0, 0.5), None, (60, 90)))
    plain = list(downscaled_training_images([tmp_path], (1.0, 0.5), None))
    assert len(once) == 4 and all(np.array_equal(x, y) for x, y in zip(once, again))
    assert all(x.shape == y.shape and not np.array_equal(x, y) for x, y in zip(once, plain))
