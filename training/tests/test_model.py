import pytest
import torch

from training.model import (
    CMSC, CMSC_NRS, CMSC_NS, CMSC_SR, LITE, MR_L3R3, MR_L5R5, PAPER, PMSC, TINY,
    CMSCConfig, MSCModule, StagePrefix, count_parameters, flops_per_pixel,
)


def test_paper_configuration_depth_parameters_and_flops():
    model = CMSC(PAPER)
    assert PAPER.depth == 35  # (2M + 1) S + 2
    assert count_parameters(model) == 4_303_110  # "about 4.3 M"
    assert flops_per_pixel(PAPER) == 8_581_632  # "about 8.6 MFLOP per output pixel"
    assert PAPER.receptive_field_radius == 65


@pytest.mark.parametrize("cfg", [TINY, LITE, PMSC, CMSC_NS, CMSC_NRS, CMSC_SR, MR_L3R3, MR_L5R5])
@pytest.mark.parametrize("hw", [(13, 7), (21, 34)])
def test_output_shapes_for_odd_sizes(cfg, hw):
    small = CMSCConfig(**{**cfg.to_dict(), "channels": 4, "kernels": tuple(cfg.kernels),
                          "modules_per_stage": min(cfg.modules_per_stage, 2)})
    model = CMSC(small).eval()
    x = torch.rand(2, 1, *hw)
    with torch.no_grad():
        preds = model.forward_all(x)
        y = model(x)
    assert y.shape == x.shape
    assert len(preds) == (small.stages if small.cascaded_supervision else 1)
    assert all(p.shape == x.shape for p in preds)


def test_zero_initialised_reconstruction_returns_the_bicubic_input():
    model = CMSC(TINY, zero_init_reconstruction=True).eval()
    x = torch.rand(1, 1, 9, 11)
    with torch.no_grad():
        assert torch.equal(model(x), x)


def _identity_branch_module(channels: int, last: bool) -> MSCModule:
    """An MSC module whose branches compute exactly 0 (zero second conv, BN identity)."""
    m = MSCModule(channels, (3, 5), last=last).eval()
    with torch.no_grad():
        for branch in (m.left, m.right):
            branch[2][0].weight.zero_()
            branch[2][0].bias.zero_()
    return m


def test_merge_and_run_adds_the_mean_of_both_inputs_before_the_activation():
    m = _identity_branch_module(1, last=False)
    a = torch.tensor([[[[2.0, -4.0]]]])
    b = torch.tensor([[[[0.0, -2.0]]]])
    with torch.no_grad():
        out_a, out_b = m(a, b)
    # Branch outputs are 0, so each output is LeakyReLU(mean): mean = [1, -3] -> [1, -0.6].
    expected = torch.tensor([[[[1.0, -0.6]]]])
    assert torch.allclose(out_a, expected) and torch.allclose(out_b, expected)


def test_last_module_sums_both_branches_and_the_mean():
    m = _identity_branch_module(1, last=True)
    with torch.no_grad():
        # Give each branch a constant output: left 0.5, right -0.25 (bias of the last conv).
        m.left[2][0].bias.fill_(0.5)
        m.right[2][0].bias.fill_(-0.25)
        a = torch.tensor([[[[2.0, -4.0]]]])
        b = torch.tensor([[[[0.0, -2.0]]]])
        out = m(a, b)
    # eq. 2: f_left + f_right + (a + b) / 2 = 0.5 - 0.25 + [1, -3], no activation.
    assert torch.allclose(out, torch.tensor([[[[1.25, -2.75]]]]))


def test_final_prediction_is_the_weighted_sum_of_stage_predictions():
    model = CMSC(CMSCConfig(stages=3, modules_per_stage=1, channels=4)).eval()
    with torch.no_grad():
        model.stage_weights.copy_(torch.tensor([0.2, 0.3, 0.5]))
        x = torch.rand(1, 1, 8, 8)
        preds = model.forward_all(x)
        assert torch.allclose(model(x), 0.2 * preds[0] + 0.3 * preds[1] + 0.5 * preds[2])
        assert torch.allclose(StagePrefix(model, 2)(x), preds[1])
        assert torch.allclose(StagePrefix(model, 3)(x), model(x))
        # A stage prefix computes only its own stages and matches the full cascade's.
        assert torch.allclose(model.forward_all(x, 1)[0], preds[0])


def test_shared_reconstruction_has_one_layer():
    assert len(CMSC(CMSC_SR).reconstruction) == 1
    assert len(CMSC(PAPER).reconstruction) == 3
