"""Evaluation: COCO OKS AP/AR (pycocotools, per-skeleton sigmas), PCK/PCKh, crowd breakdown."""

from posekit.evaluation.coco_eval import (
    CROWD_BINS,
    STAT_NAMES,
    EvalReport,
    evaluate_coco,
    evaluate_files,
)
from posekit.evaluation.pck import PCKResult, match_by_oks, pck, pck_bbox, pckh
from posekit.evaluation.results import load_results

__all__ = [
    "STAT_NAMES",
    "CROWD_BINS",
    "EvalReport",
    "evaluate_coco",
    "evaluate_files",
    "load_results",
    "PCKResult",
    "pck",
    "pck_bbox",
    "pckh",
    "match_by_oks",
]
