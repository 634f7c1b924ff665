import numpy as np
import pytest
import torch
from PIL import Image

# Keep the suite fast and deterministic next to a background training run.
torch.set_num_threads(1)


@pytest.fixture()
def tiny_dataset(tmp_path):
    """Three 96x96 8-bit Y images of smooth random blocks (bicubic has something to do)."""
    rng = np.random.default_rng(3)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        base = rng.random((12, 12))
        big = np.kron(base, np.ones((8, 8)))
        Image.fromarray((big * 255).astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return folder
