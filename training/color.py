"""BT.601 colour conversion as MATLAB ``rgb2ycbcr`` (studio range), on [0, 1] floats.

The app's TypeScript engine uses the same coefficients (src/main/engine/color.ts).
"""

from __future__ import annotations

import numpy as np

_RGB_TO_YCBCR = np.array(
    [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]]
) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0]) / 255.0


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> (H, W, 3) YCbCr in [0, 1] (Y in [16/255, 235/255])."""
    return np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YCBCR.T + _OFFSET


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    return (np.asarray(ycc, dtype=np.float64) - _OFFSET) @ np.linalg.inv(_RGB_TO_YCBCR).T


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_ycbcr(rgb)[..., 0]
