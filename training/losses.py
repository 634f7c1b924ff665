"""The cascaded-supervision loss of the paper.

loss = alpha * D(final, hr) + (1 - alpha) * mean_q D(y_q, hr),   alpha = 2 / (S + 2),

with D the mean squared error in the paper. The CPU budget configuration may use the
mean absolute error instead (``distance='l1'``), which gives small (x2) residuals the
same gradient weight as large ones.
"""

from __future__ import annotations

from typing import List

import torch
import torch.nn.functional as F


def distance(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "mse":
        return F.mse_loss(pred, target)
    if kind == "l1":
        return F.l1_loss(pred, target)
    raise ValueError(f"unknown distance {kind!r}")


def cascaded_loss(
    final: torch.Tensor, stage_preds: List[torch.Tensor], target: torch.Tensor, kind: str = "mse"
) -> torch.Tensor:
    s = len(stage_preds)
    if s <= 1:
        return distance(final, target, kind)
    alpha = 2.0 / (s + 2.0)
    stage_term = sum(distance(p, target, kind) for p in stage_preds) / s
    return alpha * distance(final, target, kind) + (1.0 - alpha) * stage_term
