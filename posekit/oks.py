"""Object keypoint similarity (OKS), the COCO keypoint evaluation's distance between two people.

OKS = Σ_i w_i exp(−d_i² / (2 s² k_i²)) / Σ_i w_i, with d_i the distance between the two i-th
keypoints, s² the object's area, k_i = 2σ_i the keypoint's falloff (σ per skeleton,
:attr:`posekit.skeletons.Skeleton.sigmas`) and w_i = 1 for the labelled keypoints
(COCO keypoint evaluation, cocodataset.org/#keypoints-eval; pycocotools ``computeOks``).

Two implementations of the one formula, one per layer that needs it: :func:`oks_matrix`
(numpy, every prediction against every ground truth) for evaluation and OKS-NMS, and
:func:`keypoint_oks` (torch, paired and differentiable) for the OKS loss, the OKS-aware
classification target and SimOTA's cost.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["keypoint_oks", "oks_matrix"]


def oks_matrix(
    pred: np.ndarray, gt: np.ndarray, areas: np.ndarray, sigmas: np.ndarray
) -> np.ndarray:
    """COCO OKS between every prediction and every ground truth (numpy, float64).

    s² = area + machine epsilon, as pycocotools ``computeOks``. A ground truth with no labelled
    keypoint scores 0 here (COCO ignores such people).

    Args:
        pred: (D, K, 2 or 3) predictions in image pixels.
        gt: (G, K, 3) ground truth x, y, v; keypoints with v > 0 count.
        areas: (G,) ground-truth areas in pixels².
        sigmas: (K,) OKS sigmas of the skeleton.

    Returns:
        (D, G) OKS in [0, 1].
    """
    p = np.asarray(pred, dtype=np.float64)
    g = np.asarray(gt, dtype=np.float64)
    s = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    a = np.asarray(areas, dtype=np.float64).reshape(-1)
    k = s.shape[0]
    if p.ndim != 3 or p.shape[1] != k or p.shape[2] < 2:
        raise ValueError(f"pred must be (D, {k}, 2|3) for {k} sigmas, got {p.shape}")
    if g.ndim != 3 or g.shape[1:] != (k, 3):
        raise ValueError(f"gt must be (G, {k}, 3) for {k} sigmas, got {g.shape}")
    if a.shape != (g.shape[0],):
        raise ValueError(f"areas must be ({g.shape[0]},), got {a.shape}")
    variances = (2.0 * s) ** 2  # (K,) k_i²
    d2 = ((p[:, None, :, :2] - g[None, :, :, :2]) ** 2).sum(-1)  # (D, G, K)
    e = d2 / variances / (a[None, :, None] + np.spacing(1)) / 2.0
    labelled = g[:, :, 2] > 0  # (G, K)
    num = np.where(labelled[None], np.exp(-e), 0.0).sum(-1)  # (D, G)
    den = labelled.sum(-1)[None, :]  # (1, G)
    return np.where(den > 0, num / np.maximum(den, 1), 0.0)


def keypoint_oks(pred: Tensor, target: Tensor, weight: Tensor, areas: Tensor,
                 sigmas: Tensor, eps: float = 1e-8) -> Tensor:
    """Paired OKS (torch, differentiable); the area is clamped to ≥ 1 px² so a degenerate person
    cannot divide by zero.

    Args:
        pred, target: (M, K, 2) keypoints in pixels.
        weight: (M, K) w_i (1 labelled, 0 not); a row without weight scores 0.
        areas: (M,) areas s² in pixels².
        sigmas: (K,) OKS sigmas.

    Returns:
        (M,) OKS of each pair.
    """
    d2 = (pred - target).pow(2).sum(-1)  # (M, K)
    k2 = (2 * sigmas).pow(2)  # (K,)
    e = torch.exp(-d2 / (2 * areas.clamp(min=1.0)[:, None] * k2[None, :]))
    return (e * weight).sum(-1) / (weight.sum(-1) + eps)
