"""Non-maximum suppression (numpy): greedy box NMS for the one-stage pipeline's anchors, and
OKS NMS between people (OKS: :mod:`posekit.oks`) for the top-down pipeline's overlapping boxes.
"""

from __future__ import annotations

import numpy as np

from posekit.oks import oks_matrix

__all__ = ["box_nms", "oks_nms", "oks_one_to_many"]


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_thresh: float) -> np.ndarray:
    """Indices of xyxy boxes kept by greedy NMS, highest score first (ties: lower index)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores), kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0,
                                                                   None)
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.clip(rb - lt, 0, None).prod(1)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-12)
        order = rest[iou <= iou_thresh]
    return np.asarray(keep, dtype=np.int64)


def oks_one_to_many(
    ref: np.ndarray, others: np.ndarray, ref_area: float, other_areas: np.ndarray,
    sigmas: np.ndarray,
) -> np.ndarray:
    """OKS between one person (K, 2+) and many (N, K, 2+) over all keypoints, with the mean of
    the two areas as scale: MMPose's symmetric variant for NMS (evaluation uses the GT's area)."""
    # Every keypoint counts: mark all as labelled.
    as_gt = np.concatenate([others[:, :, :2], np.ones_like(others[:, :, :1])], axis=2)
    areas = (ref_area + np.asarray(other_areas, dtype=np.float64)) / 2
    return oks_matrix(ref[None, :, :2], as_gt, areas, sigmas)[0]


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
