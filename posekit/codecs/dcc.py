"""Dynamic Coordinate Classifier (DCC) of RTMO: the coordinate math, as batched torch functions.

RTMO (Lu et al., CVPR 2024; talk, one-stage part, § 动态坐标分类器) classifies each keypoint's x
and y over bins that are placed per instance inside its box instead of over the whole image:

- the predicted box (x1, y1, x2, y2) is expanded ×1.25 about its centre (`box_to_center_scale`);
- B_x = 192 and B_y = 256 bins sit at x_i = x_l + (x_r − x_l)(i − 1)/(B_x − 1), i = 1..B_x, where
  [x_l, x_r] is the expanded box's x-extent; written as linspace(−0.5, 0.5) × scale + centre
  (`dcc_bins`), likewise for y;
- each bin position is encoded by a 1-D sine positional encoding with temperature 300 (`sine_pe`)
  followed by a learnable Linear φ (in `posekit.models.rtmo.DCC`, the learnable part);
- p̂_k(x_i) = softmax_i(f_k · φ(PE(x_i))) (`bin_softmax`), and the coordinate is read out by
  expectation Σ_i p̂(x_i) x_i or by argmax (`decode_bins`).

The learnable pieces (φ, the keypoint-feature projection, the GAU, the σ branch) are the
``DCC`` module in `posekit.models.rtmo`; everything here has no parameters and is exported to
ONNX with the network. Coordinates are in network-input pixels (the pixel-centre convention of
`posekit.structures`).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "BOX_PADDING",
    "box_to_center_scale",
    "bin_softmax",
    "dcc_bins",
    "decode_bins",
    "sine_pe",
    "sine_pe_2d",
    "sine_pe_parts",
]

BOX_PADDING = 1.25  # the box is expanded ×1.25 before the bins are laid over it (RTMO's DCC)


def box_to_center_scale(boxes: Tensor, padding: float = BOX_PADDING) -> tuple[Tensor, Tensor]:
    """(..., 4) xyxy boxes → centres (..., 2) and expanded sizes (..., 2) = (w, h) × padding."""
    center = (boxes[..., :2] + boxes[..., 2:]) * 0.5
    scale = (boxes[..., 2:] - boxes[..., :2]) * padding
    return center, scale


def dcc_bins(unit_bins: Tensor, center: Tensor, scale: Tensor) -> Tensor:
    """Place bins inside boxes: unit_bins (B,) on [−0.5, 0.5] → (..., B) positions.

    ``unit_bins = torch.linspace(-0.5, 0.5, B)``; with centre c and expanded size s per instance
    (shape (...,)), bin i sits at c + s·(i/(B−1) − 1/2) = x_l + (x_r − x_l) i/(B−1), the talk's
    x_i with 0-based i (talk § 动态坐标分类器).
    """
    return unit_bins * scale.unsqueeze(-1) + center.unsqueeze(-1)


def sine_pe(position: Tensor, channels: int = 128, temperature: float = 300.0) -> Tensor:
    """1-D sine positional encoding: (...,) → (..., channels) = [cos(p/T^(j/d)), sin(p/T^(j/d))].

    d = channels / 2 frequencies, j = 0..d−1; cosines first, then sines (MMPose's
    ``SinePositionalEncoding`` with ``spatial_dim=1``, which DCC uses with T = 300).
    """
    return torch.cat(sine_pe_parts(position, channels, temperature), dim=-1)


def sine_pe_parts(position: Tensor, channels: int = 128, temperature: float = 300.0
                  ) -> tuple[Tensor, Tensor]:
    """The two halves of `sine_pe`, (cos (..., d), sin (..., d)), for products that need no
    concatenated copy."""
    if channels % 2:
        raise ValueError(f"sine_pe channels must be even, got {channels}")
    d = channels // 2
    # float32 frequencies whatever the position's dtype, as MMPose's buffer (the same numbers in
    # a float64 run)
    dim_t = temperature ** (torch.arange(d, dtype=torch.float32, device=position.device) / d)
    dim_t = dim_t.to(position.dtype)
    freq = position.unsqueeze(-1) / dim_t  # (..., d)
    return freq.cos(), freq.sin()


def sine_pe_2d(height: int, width: int, channels: int = 256, temperature: float = 10000.0,
               device: torch.device | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """2-D sine encoding of an (height, width) grid: (height·width, channels), row-major.

    Each location (r, c) gets [sine_pe(r, channels/2), sine_pe(c, channels/2)] at integer
    positions (no normalisation), as the hybrid encoder's transformer layer uses it.
    """
    rows = torch.arange(height, dtype=dtype, device=device)
    cols = torch.arange(width, dtype=dtype, device=device)
    grid_r = rows.view(height, 1).expand(height, width).reshape(-1)  # (HW,)
    grid_c = cols.view(1, width).expand(height, width).reshape(-1)  # (HW,)
    half = channels // 2
    return torch.cat((sine_pe(grid_r, half, temperature), sine_pe(grid_c, half, temperature)), -1)


def bin_softmax(logits: Tensor) -> Tensor:
    """Softmax over the last (bin) axis, p̂_k(x_i) = softmax_i(f_k · φ(PE(x_i))) (talk § DCC).

    Written out as MMPose does (logits clamped to ±5e4, max subtracted, 1e-8 added to the sum) so
    that probabilities match the reference bit for bit in fp32.
    """
    logits = logits.clamp(min=-5e4, max=5e4)
    exp = (logits - logits.max(dim=-1, keepdim=True).values.detach()).exp()
    return exp / (exp.sum(dim=-1, keepdim=True) + 1e-8)


def decode_bins(probs: Tensor, bins: Tensor, mode: str = "expectation") -> Tensor:
    """Read coordinates from bin probabilities: probs (..., K, B), bins (..., B) → (..., K).

    ``expectation`` is Σ_i p̂(x_i) x_i (MMPose's and the paper's decoding); ``argmax`` is the
    position of the most probable bin.
    """
    if mode == "expectation":
        return (probs * bins.unsqueeze(-2)).sum(dim=-1)
    if mode == "argmax":
        index = probs.argmax(dim=-1, keepdim=True)  # (..., K, 1)
        return torch.gather(bins.unsqueeze(-2).expand_as(probs), -1, index).squeeze(-1)
    raise ValueError(f"DCC decode mode must be 'expectation' or 'argmax', got {mode!r}")
