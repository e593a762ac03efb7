"""PCK / PCKh and the OKS matcher that pairs multi-person predictions with ground truth (numpy).

PCK@α counts a keypoint as correct when it lies within α × a per-person length of the truth:
the larger side of the ground-truth box (PCK@0.2) or the head size (MPII's PCKh@0.5). Only
labelled keypoints (v > 0) count. Predictions are (N, K, 2) already matched one-to-one with the
(N, K, 3) ground truth; :func:`match_by_oks` makes that pairing for multi-person results, and a
person left without a prediction carries NaN coordinates, which count as misses. The OKS itself
is :func:`posekit.oks.oks_matrix`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posekit.oks import oks_matrix

__all__ = ["PCKResult", "pck", "pck_bbox", "pckh", "match_by_oks"]


@dataclass(frozen=True)
class PCKResult:
    """Per-keypoint and overall PCK.

    Attributes:
        per_keypoint: (K,) fraction of labelled keypoints within the threshold; NaN for a
            keypoint never labelled.
        mean: correct / labelled over all keypoints (MPII's joint-count-weighted mean); NaN when
            nothing is labelled.
        counts: (K,) labelled keypoints that were scored.
    """

    per_keypoint: np.ndarray
    mean: float
    counts: np.ndarray


def _check_pair(pred_xy: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred_xy, dtype=np.float64)
    truth = np.asarray(gt, dtype=np.float64)
    if truth.ndim != 3 or truth.shape[-1] != 3:
        raise ValueError(f"gt must be (N, K, 3), got {truth.shape}")
    if pred.ndim != 3 or pred.shape[:2] != truth.shape[:2] or pred.shape[-1] < 2:
        raise ValueError(f"pred must be (N, K, 2) matching gt {truth.shape[:2]}, got {pred.shape}")
    return pred[..., :2], truth


def pck(
    pred_xy: np.ndarray,
    gt: np.ndarray,
    normalizer: np.ndarray,
    alpha: float,
    *,
    mask: np.ndarray | None = None,
) -> PCKResult:
    """PCK@α: ‖pred − gt‖ ≤ α · normaliser per person, over labelled keypoints.

    Args:
        pred_xy: (N, K, 2) predictions in image pixels (NaN = no prediction, a miss).
        gt: (N, K, 3) ground truth x, y, v; keypoints with v > 0 are scored.
        normalizer: (N,) per-person length in pixels; a person with a non-positive or NaN
            normaliser is left out.
        alpha: threshold as a fraction of the normaliser.
        mask: optional (N, K) bool that further restricts which keypoints are scored.
    """
    pred, truth = _check_pair(pred_xy, gt)
    n, k = truth.shape[:2]
    norm = np.asarray(normalizer, dtype=np.float64).reshape(-1)
    if norm.shape != (n,):
        raise ValueError(f"normalizer must be ({n},), got {norm.shape}")
    scored = truth[..., 2] > 0  # (N, K)
    scored &= (np.nan_to_num(norm, nan=0.0) > 0)[:, None]
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n, k):
            raise ValueError(f"mask must be ({n}, {k}), got {mask.shape}")
        scored &= mask
    dist = np.linalg.norm(pred - truth[..., :2], axis=-1)  # (N, K), NaN where no prediction
    with np.errstate(invalid="ignore"):
        hit = (dist <= alpha * norm[:, None]) & scored  # MPII: err ≤ α · normaliser is correct
    counts = scored.sum(axis=0)
    hits = hit.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_keypoint = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    total = int(counts.sum())
    mean = float(hits.sum() / total) if total else float("nan")
    return PCKResult(per_keypoint=per_keypoint, mean=mean, counts=counts.astype(np.int64))


def pck_bbox(
    pred_xy: np.ndarray,
    gt: np.ndarray,
    bboxes: np.ndarray,
    alpha: float = 0.2,
    *,
    mask: np.ndarray | None = None,
) -> PCKResult:
    """PCK@α with the ground-truth box as scale: threshold α · max(w, h).

    Args:
        bboxes: (N, 4) ground-truth boxes (x, y, w, h) in image pixels.
    """
    boxes = np.asarray(bboxes, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"bboxes must be (N, 4) (x, y, w, h), got {boxes.shape}")
    return pck(pred_xy, gt, boxes[:, 2:].max(axis=1), alpha, mask=mask)


def pckh(
    pred_xy: np.ndarray,
    gt: np.ndarray,
    head_sizes: np.ndarray,
    alpha: float = 0.5,
    *,
    mask: np.ndarray | None = None,
) -> PCKResult:
    """PCKh@α (MPII): threshold α · head size, the head size given per person in pixels."""
    return pck(pred_xy, gt, head_sizes, alpha, mask=mask)


def match_by_oks(
    pred: np.ndarray,
    scores: np.ndarray,
    gt: np.ndarray,
    areas: np.ndarray,
    sigmas: np.ndarray,
    *,
    min_oks: float = 0.0,
) -> np.ndarray:
    """Pair predictions with ground truth greedily, highest score first, by OKS (as COCO does).

    Each prediction in descending score order takes the still-free ground truth of highest OKS
    if that OKS exceeds ``min_oks``. A prediction whose keypoint scores (third column, when
    given) are all ≤ 0 predicts nothing and is skipped, as xtcocotools does; otherwise an
    all-zero entry at (0, 0) could take a person standing near the image corner.

    Returns:
        (G,) index of the prediction matched to each ground truth, −1 where none.
    """
    oks = oks_matrix(pred, gt, areas, sigmas)  # (D, G)
    score = np.asarray(scores, dtype=np.float64).reshape(-1)
    if score.shape != (oks.shape[0],):
        raise ValueError(f"scores must be ({oks.shape[0]},), got {score.shape}")
    match = np.full(oks.shape[1], -1, dtype=np.int64)
    if oks.size == 0:
        return match
    p = np.asarray(pred, dtype=np.float64)
    active = (p[..., 2] > 0).any(axis=1) if p.shape[-1] > 2 else np.ones(len(p), dtype=bool)
    free = np.ones(oks.shape[1], dtype=bool)
    for d in np.argsort(-score, kind="mergesort"):  # stable, as pycocotools sorts
        if not active[d]:
            continue
        candidates = np.where(free, oks[d], -np.inf)
        g = int(np.argmax(candidates))
        if free[g] and candidates[g] > min_oks:
            match[g] = d
            free[g] = False
    return match
