"""CMSC: Cascaded Multi-Scale Cross network (Hu et al., arXiv 1802.08808).

A pure ``nn.Module`` with explicit keyword arguments; no training logic lives here.
The input is the bicubic-upscaled luminance ``x`` (N, 1, H, W) in [0, 1]; the output is
the same size. Every stage q has its own reconstruction layer and predicts
``y_q = R_q(D_q) + x`` (global residual learning); the final prediction is the learned
weighted sum ``sum_q w_q * y_q``.

``upscale`` = s >= 2 turns the same class into ``cmsc-fast``: the body runs on the
low-resolution luminance (input resolution, s^2 fewer operations per output pixel), each
stage's reconstruction is a 3x3 conv to s^2 channels followed by a pixel shuffle, and the
global residual is the bicubic-upscaled input, given as a second input (the engine computes
MATLAB-exact bicubic for the whole image, so tiles carry no resize border effects):
``y_q = PS(R_q(D_q)) + bicubic(x)``. Each stage's output stays a full prediction.

The paper's ablations are configurations of this one class:

=============  =============================================================
``CMSC``       defaults (S=3, M=5, 64 channels, kernels (3, 5))
``PMSC``       ``plain_config()``: one stage of 15 modules, no RFL
``CMSC_NS``    ``cascaded_supervision=False``: one reconstruction at the end
``CMSC_NRS``   ``residual_features=False, cascaded_supervision=False``
``CMSC_SR``    ``shared_reconstruction=True``
``MR L3R3``    ``kernels=(3, 3)``;  ``MR L5R5``: ``kernels=(5, 5)``
=============  =============================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import List, Optional, Tuple

import torch
from torch import nn

LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class CMSCConfig:
    """Architecture hyper-parameters; the defaults are the paper's CMSC (MSC L3R5)."""

    stages: int = 3  # S, cascaded subnetworks
    modules_per_stage: int = 5  # M, MSC modules per subnetwork
    channels: int = 64
    kernels: Tuple[int, int] = (3, 5)  # kernel of the left and of the right branch
    residual_features: bool = True  # RFL: a subnetwork's input is added to its output
    cascaded_supervision: bool = True  # one reconstruction (and loss term) per stage
    shared_reconstruction: bool = False  # CMSC_SR: one reconstruction layer for all stages
    upscale: int = 0  # 0: the paper's design (input at output size); s >= 2: cmsc-fast at input resolution

    def to_dict(self) -> dict:
        d = asdict(self)
        d["kernels"] = list(self.kernels)
        return d

    @staticmethod
    def from_dict(d: dict) -> "CMSCConfig":
        d = dict(d)
        d["kernels"] = tuple(d["kernels"])
        return CMSCConfig(**d)

    @property
    def depth(self) -> int:
        """Convolutional depth along the main path: (2M + 1) * S + 2."""
        return (2 * self.modules_per_stage + 1) * self.stages + 2

    @property
    def receptive_field_radius(self) -> int:
        """Exact receptive radius of the final output, in pixels of the network's input
        (low-resolution pixels for an ``upscale`` model; the bicubic residual adds 2 more)."""
        k = max(self.kernels)
        per_module = 2 * (k // 2)
        per_stage = 1 + self.modules_per_stage * per_module
        return 1 + self.stages * per_stage + 1


PAPER = CMSCConfig()
PMSC = CMSCConfig(stages=1, modules_per_stage=15, residual_features=False)
CMSC_NS = CMSCConfig(cascaded_supervision=False)
CMSC_NRS = CMSCConfig(residual_features=False, cascaded_supervision=False)
CMSC_SR = CMSCConfig(shared_reconstruction=True)
MR_L3R3 = CMSCConfig(kernels=(3, 3))
MR_L5R5 = CMSCConfig(kernels=(5, 5))
LITE = CMSCConfig(stages=3, modules_per_stage=3, channels=32)
TINY = CMSCConfig(stages=1, modules_per_stage=1, channels=8)
# cmsc-fast: the lite body at input resolution, one model per integer scale.
FAST_X2 = CMSCConfig(stages=3, modules_per_stage=3, channels=32, upscale=2)
FAST_X3 = CMSCConfig(stages=3, modules_per_stage=3, channels=32, upscale=3)
FAST_X4 = CMSCConfig(stages=3, modules_per_stage=3, channels=32, upscale=4)

NAMED_CONFIGS = {
    "paper": PAPER,
    "pmsc": PMSC,
    "cmsc_ns": CMSC_NS,
    "cmsc_nrs": CMSC_NRS,
    "cmsc_sr": CMSC_SR,
    "mr_l3r3": MR_L3R3,
    "mr_l5r5": MR_L5R5,
    "lite": LITE,
    "tiny": TINY,
    "fast_x2": FAST_X2,
    "fast_x3": FAST_X3,
    "fast_x4": FAST_X4,
}


def conv(cin: int, cout: int, k: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=True)


def reconstruction_layer(cfg: "CMSCConfig") -> nn.Module:
    """3x3 conv to one channel, or (cmsc-fast) to s^2 channels rearranged by a pixel shuffle."""
    if cfg.upscale:
        s = cfg.upscale
        return nn.Sequential(conv(cfg.channels, s * s, 3), nn.PixelShuffle(s))
    return conv(cfg.channels, 1, 3)


class ConvBN(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int):
        super().__init__(conv(cin, cout, k), nn.BatchNorm2d(cout))


class MSCModule(nn.Module):
    """Multi-scale cross module with merge-and-run mapping.

    Two residual branches (conv-BN-LReLU-conv-BN) with different kernels. The average of
    the two branch inputs is added to each branch output before the activation; the last
    module of a subnetwork instead returns the sum of both branch outputs and that
    average (the paper's eq. 2), giving one feature map.
    """

    def __init__(self, channels: int, kernels: Tuple[int, int], last: bool):
        super().__init__()
        self.last = last
        self.left = nn.Sequential(
            ConvBN(channels, channels, kernels[0]),
            nn.LeakyReLU(LEAKY_SLOPE),
            ConvBN(channels, channels, kernels[0]),
        )
        self.right = nn.Sequential(
            ConvBN(channels, channels, kernels[1]),
            nn.LeakyReLU(LEAKY_SLOPE),
            ConvBN(channels, channels, kernels[1]),
        )
        self.act = nn.LeakyReLU(LEAKY_SLOPE)

    def forward(self, a: torch.Tensor, b: torch.Tensor):
        mean = 0.5 * (a + b)
        fa = self.left(a)
        fb = self.right(b)
        if self.last:
            return fa + fb + mean
        return self.act(fa + mean), self.act(fb + mean)


class Subnetwork(nn.Module):
    """conv-BN-LReLU, then M MSC modules, then (with RFL) + the subnetwork input."""

    def __init__(self, cfg: CMSCConfig):
        super().__init__()
        self.residual_features = cfg.residual_features
        self.head = nn.Sequential(
            ConvBN(cfg.channels, cfg.channels, 3), nn.LeakyReLU(LEAKY_SLOPE)
        )
        m = cfg.modules_per_stage
        self.msc = nn.ModuleList(
            [MSCModule(cfg.channels, cfg.kernels, last=(i == m - 1)) for i in range(m)]
        )

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        h = self.head(d)
        a, b = h, h
        out = h
        for module in self.msc:
            if module.last:
                out = module(a, b)
            else:
                a, b = module(a, b)
        return out + d if self.residual_features else out


class CMSC(nn.Module):
    def __init__(self, cfg: CMSCConfig = PAPER, *, zero_init_reconstruction: bool = False):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.features = nn.Sequential(ConvBN(1, c, 3), nn.LeakyReLU(LEAKY_SLOPE))
        self.stages = nn.ModuleList([Subnetwork(cfg) for _ in range(cfg.stages)])
        n_recon = 1 if (cfg.shared_reconstruction or not cfg.cascaded_supervision) else cfg.stages
        self.reconstruction = nn.ModuleList([reconstruction_layer(cfg) for _ in range(n_recon)])
        n_out = cfg.stages if cfg.cascaded_supervision else 1
        self.stage_weights = nn.Parameter(torch.full((n_out,), 1.0 / n_out))
        self.reset_parameters(zero_init_reconstruction)

    def reset_parameters(self, zero_init_reconstruction: bool) -> None:
        """He initialisation (the paper's); optionally zero reconstruction convs.

        Zeroing the reconstruction layers makes the untrained network output exactly the
        bicubic input, so a short CPU run does not spend its first hundreds of batches
        getting back to bicubic quality.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.0, mode="fan_in", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_reconstruction:
            for m in self.reconstruction.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.zeros_(m.weight)
                    nn.init.zeros_(m.bias)

    @property
    def num_outputs(self) -> int:
        return self.stage_weights.numel()

    def _recon(self, q: int) -> nn.Module:
        return self.reconstruction[0 if len(self.reconstruction) == 1 else q]

    def forward_all(
        self, x: torch.Tensor, stages: Optional[int] = None, bicubic: Optional[torch.Tensor] = None
    ) -> List[torch.Tensor]:
        """Intermediate predictions y_q = R_q(D_q) + x for the first ``stages`` stages.

        For an ``upscale`` model ``x`` is the low-resolution input and ``bicubic`` its
        bicubic upscaling (s times larger), the global residual: y_q = PS(R_q(D_q)) + bicubic.
        """
        s = self.cfg.stages if stages is None else stages
        base = self._residual_base(x, bicubic)
        d = self.features(x)
        preds: List[torch.Tensor] = []
        for q in range(s):
            d = self.stages[q](d)
            if self.cfg.cascaded_supervision or q == self.cfg.stages - 1:
                preds.append(self._recon(q)(d) + base)
        return preds

    def _residual_base(self, x: torch.Tensor, bicubic: Optional[torch.Tensor]) -> torch.Tensor:
        if not self.cfg.upscale:
            return x
        if bicubic is None:
            raise ValueError("an upscale model needs the bicubic-upscaled input as its residual")
        return bicubic

    def assemble(self, preds: List[torch.Tensor]) -> torch.Tensor:
        """Final prediction: sum_q w_q * y_q (learned weights)."""
        out = preds[0] * self.stage_weights[0]
        for q in range(1, len(preds)):
            out = out + preds[q] * self.stage_weights[q]
        return out

    def forward(self, x: torch.Tensor, bicubic: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.assemble(self.forward_all(x, bicubic=bicubic))


def load_matching_weights(model: nn.Module, state: dict) -> List[str]:
    """Copy every tensor of ``state`` whose name and shape match ``model``'s; return the names
    of the model's tensors left as they were (e.g. a cmsc-fast x4 started from the x2 body:
    only the s^2-channel reconstruction convs differ)."""
    own = model.state_dict()
    matching = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    own.update(matching)
    model.load_state_dict(own)
    return [k for k in own if k not in matching]


class StagePrefix(nn.Module):
    """The app's speed/quality dial: run only the first k stages and return y_k.

    With k == S this is the full model (the weighted assembly). Exported to ONNX as its
    own file so onnxruntime never computes stages whose output is not wanted.
    """

    def __init__(self, model: CMSC, stages: int):
        super().__init__()
        if not model.cfg.cascaded_supervision and stages != model.cfg.stages:
            raise ValueError("a model without cascaded supervision has no intermediate outputs")
        self.model = model
        self.k = stages

    def forward(self, x: torch.Tensor, bicubic: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.k == self.model.cfg.stages:
            return self.model(x, bicubic)
        return self.model.forward_all(x, self.k, bicubic)[-1]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def flops_per_pixel(cfg: CMSCConfig, stages: Optional[int] = None) -> int:
    """Multiply-adds x 2 of all convolutions per output pixel (BN folded, activations ignored).

    An ``upscale`` model runs on s^2 times fewer pixels than it outputs; its reconstruction
    has s^2 output channels.
    """
    s = cfg.stages if stages is None else stages
    c = cfg.channels
    macs = 9 * 1 * c  # feature extraction
    k1, k2 = cfg.kernels
    per_module = 2 * (k1 * k1 + k2 * k2) * c * c
    per_stage = 9 * c * c + cfg.modules_per_stage * per_module
    macs += s * per_stage
    n_recon = s if cfg.cascaded_supervision else 1
    if cfg.upscale:
        area = cfg.upscale * cfg.upscale
        macs += n_recon * 9 * c * area
        return 2 * macs // area  # the paper-style count per output pixel, rounded down
    macs += n_recon * 9 * c
    return 2 * macs
