"""Object keypoint similarity between people, and OKS-based non-maximum suppression.

OKS follows cocoapi: ``exp(−d² / (2 · s² · κ²))`` with ``κ = 2σ`` and ``s²`` the object area, averaged
over keypoints. Used to remove duplicate people found from overlapping boxes (top-down) or anchors
(one-stage).
"""

from __future__ import annotations

import numpy as np

__all__ = ["oks_one_to_many", "oks_nms"]


def oks_one_to_many(
    ref: np.ndarray, others: np.ndarray, ref_area: float, other_areas: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """OKS between one person (K, 2+) and many (N, K, 2+), area = mean of the two areas.

    This is MMPose's symmetric variant used for NMS (cocoapi's evaluation uses the GT area only).
    """
    variances = (2 * sigmas) ** 2  # κ² with κ = 2σ (cocoapi)
    d2 = ((others[:, :, :2] - ref[None, :, :2]) ** 2).sum(-1)  # (N, K)
    area = (ref_area + other_areas)[:, None] / 2 + np.spacing(1)  # (N, 1)
    return np.exp(-d2 / variances[None] / area / 2).mean(axis=1)


def oks_nms(
    keypoints: np.ndarray, scores: np.ndarray, areas: np.ndarray, sigmas: np.ndarray,
    thresh: float,
) -> np.ndarray:
    """Indices of people kept by greedy OKS NMS, highest score first.

    Args:
        keypoints: (N, K, 2+) in image pixels.
        scores: (N,) person scores.
        areas: (N,) person areas (box w·h) in pixels².
        sigmas: (K,) OKS sigmas of the skeleton.
        thresh: a person whose OKS with a kept, higher-scoring person exceeds this is dropped.
    """
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        if order.size == 1:
            break
        rest = order[1:]
        oks = oks_one_to_many(keypoints[i], keypoints[rest], areas[i], areas[rest], sigmas)
        order = rest[oks <= thresh]
    return np.asarray(keep, dtype=np.int64)
