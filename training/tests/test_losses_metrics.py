import math

import numpy as np
import pytest
import torch

from training.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from training.imresize import bicubic_degrade, imresize, modcrop
from training.losses import cascaded_loss
from training.metrics import psnr, ssim


def test_cascaded_loss_matches_hand_computation():
    target = torch.zeros(1, 1, 1, 2)
    final = torch.tensor([[[[1.0, 1.0]]]])  # MSE 1
    stages = [torch.tensor([[[[2.0, 0.0]]]]),  # MSE 2
              torch.tensor([[[[0.0, 0.0]]]]),  # MSE 0
              torch.tensor([[[[2.0, 2.0]]]])]  # MSE 4
    # alpha = 2 / (S + 2) = 0.4; loss = 0.4 * 1 + 0.6 * (2 + 0 + 4) / 3 = 1.6
    assert cascaded_loss(final, stages, target, "mse").item() == pytest.approx(1.6)
    # L1: 0.4 * 1 + 0.6 * (1 + 0 + 2) / 3 = 1.0
    assert cascaded_loss(final, stages, target, "l1").item() == pytest.approx(1.0)


def test_psnr_identical_images_is_infinite():
    img = np.random.default_rng(0).random((20, 20))
    assert psnr(img, img, border=2) == math.inf


def test_psnr_of_a_known_offset():
    ref = np.full((16, 16), 100 / 255)
    test = np.full((16, 16), 110 / 255)  # 10 grey levels everywhere: MSE 100
    assert psnr(ref, test, border=3) == pytest.approx(10 * math.log10(255**2 / 100))


def test_psnr_removes_the_border():
    ref = np.full((10, 10), 0.5)
    test = ref.copy()
    test[0, :] = 0.0  # only the border differs
    assert psnr(ref, test, border=1) == math.inf


def test_ssim_identical_is_one_and_offset_lowers_it():
    img = np.random.default_rng(1).random((40, 40))
    assert ssim(img, img, border=2) == pytest.approx(1.0)
    assert ssim(img, np.clip(img + 0.1, 0, 1), border=2) < 0.99


def test_rgb_to_y_matches_matlab_coefficients():
    # MATLAB rgb2ycbcr: white -> 235, black -> 16, pure red -> 16 + 65.481 = 81.481
    assert rgb_to_y(np.array([[[1.0, 1.0, 1.0]]]))[0, 0] * 255 == pytest.approx(235.0)
    assert rgb_to_y(np.array([[[0.0, 0.0, 0.0]]]))[0, 0] * 255 == pytest.approx(16.0)
    assert rgb_to_y(np.array([[[1.0, 0.0, 0.0]]]))[0, 0] * 255 == pytest.approx(81.481)
    rgb = np.random.default_rng(2).random((3, 4, 3))
    assert np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(rgb)), rgb)


def test_bicubic_upscale_hand_checked_example():
    # imresize([1 2 3 4], 2): first output at u = 0.75 with Keys weights
    # (-0.0234375, 0.2265625, 0.8671875, -0.0703125) on mirrored samples (2, 1, 1, 2).
    out = imresize(np.array([[1.0, 2.0, 3.0, 4.0]]), scale=2)
    assert out.shape == (2, 8)
    assert out[0, 0] == pytest.approx(0.90625)
    assert np.allclose(out[0], out[1])  # one input row: both output rows equal it
    assert np.allclose(out[0], out[0, ::-1][::-1])
    # Symmetry: the ramp's up-scale is antisymmetric about its centre value 2.5.
    assert np.allclose(out[0] + out[0, ::-1], 5.0)


def test_bicubic_antialiased_downscale_hand_checked_example():
    # imresize(1:8, 0.5): second output centred at u = 3.5 with the kernel stretched to
    # width 8; weights 0.5 * cubic(0.5 d) sum to 1; the tap at index 0 mirrors to index 1,
    # so the result is 3.5 - 0.01171875 * (1 - 0).
    out = imresize(np.arange(1.0, 9.0)[None, :], scale=0.5)
    assert out.shape == (1, 4)
    assert out[0, 1] == pytest.approx(3.48828125)


def test_bicubic_degrade_keeps_size_and_constant_images():
    hr = modcrop(np.full((31, 26), 0.4), 3)
    assert hr.shape == (30, 24)
    lr = bicubic_degrade(hr, 3)
    assert lr.shape == hr.shape
    assert np.allclose(lr, 0.4)
