import numpy as np
from PIL import Image

from training.recipe_samples import write_samples


def test_writes_one_decoded_lr_per_photo_and_counts_what_the_recipe_did(tmp_path):
    rng = np.random.default_rng(5)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.fromarray((rng.random((65, 47, 3)) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    out = tmp_path / "samples"
    band = write_samples("photo-jpeg-band", 2, out, [str(photos)], seed=0)
    written = sorted(out.glob("*.png"))
    assert len(written) == 6 and band["samples"] == 6
    with Image.open(written[0]) as im:  # cropped to a multiple of the scale, then halved
        assert im.size == (23, 32) and im.mode == "RGB"
    assert abs(band["clean"] + band["jpeg"] - 1.0) < 1e-9 and all(35 <= q <= 85 for q in band["jpeg_quality_p10_p50_p90"])
    light = write_samples("photo-light-band", 2, tmp_path / "light", [str(photos)], seed=0)
    assert all(80 <= q <= 97 for q in light["jpeg_quality_p10_p50_p90"])
    # The half-size copy a `--downscales 0.5` run trains on: 65x47 -> 33x24 (imresize rounds up), then halved.
    half = write_samples("photo-light-band", 2, tmp_path / "half", [str(photos)], seed=0, downscale=0.5)
    assert half["downscale"] == 0.5
    with Image.open(sorted((tmp_path / "half").glob("*.png"))[0]) as im:
        assert im.size == (12, 16)
    # A clean model's pairs, from web-photo targets: bicubic only, and not the plain photos' bicubic.
    plain = write_samples("none", 2, tmp_path / "plain", [str(photos)], seed=0)
    web = write_samples("none", 2, tmp_path / "web", [str(photos)], seed=0, hr_jpeg=(70, 70))
    assert plain["clean"] == web["clean"] == 1.0 and web["hr_jpeg"] == "70-70" and "hr_jpeg" not in plain
    with Image.open(tmp_path / "plain" / "0000.png") as a, Image.open(tmp_path / "web" / "0000.png") as b:
        assert a.size == b.size and np.asarray(a).tolist() != np.asarray(b).tolist()
