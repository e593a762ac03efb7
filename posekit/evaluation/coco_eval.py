"""COCO keypoint AP/AR through pycocotools, with the skeleton's own OKS sigmas.

pycocotools' ``COCOeval(iouType="keypoints")`` hard-codes COCO's 17 sigmas; here
``params.kpt_oks_sigmas`` is always set from the skeleton (pycocotools uses ``vars = (2σ)²``),
so CrowdPose, AIC, MPII or a custom K are scored with their own constants. Ground truth and
results are validated first (:func:`posekit.data.coco.read_coco_json`,
:func:`posekit.evaluation.results.load_results`); pycocotools' prints are silenced. Besides the
10 COCO numbers the report breaks AP/AR down by people per image and adds PCK@0.2 (and PCKh@0.5
where the ground truth carries ``head_size``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.data.coco import load_json_file, read_coco_json
from posekit.data.mpii import mpii_to_coco
from posekit.evaluation.pck import match_by_oks, pck_bbox, pckh
from posekit.evaluation.results import load_results, warn_about_results
from posekit.skeletons import Skeleton

__all__ = ["STAT_NAMES", "CROWD_BINS", "EvalReport", "evaluate_coco", "evaluate_files"]

STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
# People-per-image bins of the crowd breakdown: (label, min, max), max None = unbounded.
CROWD_BINS: tuple[tuple[str, int, int | None], ...] = (
    ("1", 1, 1), ("2-3", 2, 3), ("4-6", 4, 6), ("7+", 7, None),
)
PCK_ALPHA = 0.2
PCKH_ALPHA = 0.5


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


@dataclass
class EvalReport:
    """What an evaluation found: the 10 COCO stats, a crowd breakdown and PCK.

    Attributes:
        stats: the 10 COCO keypoint stats keyed by :data:`STAT_NAMES` (−1 where pycocotools
            has nothing to score, e.g. no medium-sized people).
        per_crowd: people-per-image bin ("1", "2-3", "4-6", "7+") → its 10 stats plus
            ``images`` and ``people`` counts; empty bins are left out.
        pck: ``{"PCK@0.2": …}`` (plus ``"PCKh@0.5"`` when head sizes exist), or None.
    """

    stats: dict[str, float]
    per_crowd: dict[str, dict[str, float]] = field(default_factory=dict)
    pck: dict[str, float] | None = None

    def format(self) -> str:
        """Human-readable report; the first line is exactly ``AP: 0.xxx``."""
        lines = [f"{name}: {self.stats[name]:.3f}" for name in STAT_NAMES]
        if self.per_crowd:
            lines.append("people/image  images  people     AP     AR")
            for label, row in self.per_crowd.items():
                lines.append(f"{label:<12}  {int(row['images']):>6}  {int(row['people']):>6}  "
                             f"{row['AP']:>5.3f}  {row['AR']:>5.3f}")
        for name, value in (self.pck or {}).items():
            lines.append(f"{name}: {value:.3f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """The 10 stats at the top level, ``breakdown`` and ``pck`` beside them (NaN → null)."""
        out: dict = {name: _json_number(self.stats[name]) for name in STAT_NAMES}
        if self.per_crowd:
            out["breakdown"] = {
                label: {k: _json_number(v) for k, v in row.items()}
                for label, row in self.per_crowd.items()
            }
        if self.pck is not None:
            out["pck"] = {k: _json_number(v) for k, v in self.pck.items()}
        return out

    def write_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as json (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")


def _silent() -> contextlib.AbstractContextManager:
    """pycocotools prints progress on stdout; swallow it."""
    return contextlib.redirect_stdout(io.StringIO())


def _coco_from_dict(data: dict) -> COCO:
    coco = COCO()
    coco.dataset = data
    with _silent():
        coco.createIndex()
    return coco


def _cocoeval_stats(gt: COCO, dt: COCO, sigmas: np.ndarray, category_id: int,
                    image_ids: Iterable[int]) -> dict[str, float]:
    """The 10 COCO keypoint stats of ``dt`` against ``gt`` on ``image_ids``."""
    evaluator = COCOeval(gt, dt, iouType="keypoints")
    evaluator.params.kpt_oks_sigmas = sigmas
    evaluator.params.catIds = [category_id]
    evaluator.params.imgIds = sorted(image_ids)
    with _silent():
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return {name: float(v) for name, v in zip(STAT_NAMES, evaluator.stats, strict=True)}


def _resolve_sigmas(sigmas: Sequence[float] | np.ndarray | None, skeleton: Skeleton,
                    where: str) -> np.ndarray:
    if sigmas is None:
        if skeleton.sigmas is None:
            raise ValueError(
                f"{where}: skeleton {skeleton.name} has no OKS sigmas (its keypoint names match "
                f"no built-in skeleton); pass sigmas= or name a skeleton"
            )
        return skeleton.oks_sigmas()
    out = np.asarray(sigmas, dtype=np.float64).reshape(-1)
    if out.shape != (skeleton.num_keypoints,) or not (np.isfinite(out).all() and (out > 0).all()):
        raise ValueError(
            f"sigmas must be {skeleton.num_keypoints} positive numbers for skeleton "
            f"{skeleton.name}, got {out.shape[0]} values"
        )
    return out


def _pck_summary(gt_anns: list[dict], dets: list[dict], sigmas: np.ndarray,
                 image_ids: set[int]) -> dict[str, float] | None:
    """PCK@0.2 (box scale) and, where head sizes exist, PCKh@0.5 over OKS-matched people.

    Every non-crowd ground-truth person with keypoints counts; one left unmatched scores its
    labelled keypoints as misses, and extra predictions cost nothing (PCK has no false positives).
    """
    k = sigmas.shape[0]
    gt_by_image: dict[int, list[dict]] = {}
    for ann in gt_anns:
        if ann["image_id"] in image_ids and not ann["iscrowd"] and ann["num_keypoints"] > 0:
            gt_by_image.setdefault(ann["image_id"], []).append(ann)
    if not gt_by_image:
        return None
    dets_by_image: dict[int, list[dict]] = {}
    for det in dets:
        dets_by_image.setdefault(det["image_id"], []).append(det)

    preds, truths, boxes, heads = [], [], [], []
    for image_id, anns in gt_by_image.items():
        gt = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, k, 3)
        areas = np.asarray([a["area"] for a in anns], dtype=np.float64)
        found = dets_by_image.get(image_id, [])
        pred = np.asarray([d["keypoints"] for d in found], dtype=np.float64).reshape(-1, k, 3)
        scores = np.asarray([d["score"] for d in found], dtype=np.float64)
        match = match_by_oks(pred, scores, gt, areas, sigmas)  # (G,)
        matched = np.full((len(anns), k, 2), np.nan)  # (G, K, 2); NaN = missed person
        matched[match >= 0] = pred[match[match >= 0], :, :2]
        preds.append(matched)
        truths.append(gt)
        boxes.append(np.asarray([a["bbox"] for a in anns], dtype=np.float64))
        heads.append(np.asarray([a.get("head_size", np.nan) for a in anns], dtype=np.float64))
    pred_all, gt_all = np.concatenate(preds), np.concatenate(truths)
    head_all = np.concatenate(heads)
    out = {f"PCK@{PCK_ALPHA:g}": pck_bbox(pred_all, gt_all, np.concatenate(boxes), PCK_ALPHA).mean}
    if np.isfinite(head_all).any():
        out[f"PCKh@{PCKH_ALPHA:g}"] = pckh(pred_all, gt_all, head_all, PCKH_ALPHA).mean
    return out


def evaluate_coco(
    gt: str | Path | dict,
    results: str | Path | list[dict],
    *,
    skeleton: str | Skeleton | None = None,
    sigmas: Sequence[float] | np.ndarray | None = None,
    image_ids: Iterable[int] | None = None,
) -> EvalReport:
    """COCO keypoint AP/AR of ``results`` against ``gt``, with crowd breakdown and PCK.

    Args:
        gt: ground-truth COCO json path, or the dict itself (e.g. from ``mpii_to_coco``).
        results: COCO results json path, or the list of result dicts.
        skeleton: default inferred from the ground truth's keypoint names.
        sigmas: (K,) OKS sigmas overriding the skeleton's.
        image_ids: evaluate on these images only (default: every ground-truth image).

    Returns:
        :class:`EvalReport`; empty results give AP 0 rather than an error (a results file that
        is empty or repeats entries also gets a :class:`~posekit.errors.DataWarning`).
    """
    coco = read_coco_json(gt, skeleton)
    sig = _resolve_sigmas(sigmas, coco.skeleton, coco.source)
    data = coco.data
    all_ids = {img["id"] for img in data["images"]}
    if image_ids is None:
        eval_ids = set(all_ids)
    else:
        eval_ids = {int(i) for i in image_ids}
        unknown = sorted(eval_ids - all_ids)
        if unknown:
            raise ValueError(f"image_ids not in {coco.source}: {unknown[:10]}")
    dets = load_results(results, num_keypoints=coco.skeleton.num_keypoints, image_ids=all_ids,
                        category_id=coco.category_id)
    if isinstance(results, str | Path):  # a user's file (a list comes from a model)
        warn_about_results(dets, f"results file {results}")

    if any(a["id"] == 0 for a in data["annotations"]):
        # pycocotools marks "unmatched" with id 0, so a ground truth with id 0 could never match.
        renumbered = [dict(a, id=i + 1) for i, a in enumerate(data["annotations"])]
        data = dict(data, annotations=renumbered)
    gt_coco = _coco_from_dict(data)
    if dets:
        dt_input = copy.deepcopy(dets)  # loadRes writes area/id/bbox into its input
        if not all("bbox" in d for d in dt_input):
            for d in dt_input:  # mixed files: take pycocotools' keypoint-extent path for all
                d.pop("bbox", None)
        with _silent():
            dt_coco = gt_coco.loadRes(dt_input)
    else:  # loadRes cannot take an empty list; no detections means AP 0
        dt_coco = _coco_from_dict({"images": list(data["images"]), "annotations": [],
                                   "categories": copy.deepcopy(data["categories"])})

    stats = _cocoeval_stats(gt_coco, dt_coco, sig, coco.category_id, eval_ids)

    people = dict.fromkeys(eval_ids, 0)
    for ann in data["annotations"]:
        if ann["image_id"] in people and not ann["iscrowd"] and ann["num_keypoints"] > 0:
            people[ann["image_id"]] += 1
    per_crowd: dict[str, dict[str, float]] = {}
    for label, lo, hi in CROWD_BINS:
        subset = [i for i, n in people.items() if n >= lo and (hi is None or n <= hi)]
        if not subset:
            continue
        row = _cocoeval_stats(gt_coco, dt_coco, sig, coco.category_id, subset)
        row["images"] = float(len(subset))
        row["people"] = float(sum(people[i] for i in subset))
        per_crowd[label] = row

    pck = _pck_summary(data["annotations"], dets, sig, eval_ids)
    return EvalReport(stats=stats, per_crowd=per_crowd, pck=pck)


def evaluate_files(
    gt_path: str | Path, pred_path: str | Path, *, skeleton: str | None = None
) -> EvalReport:
    """What ``posekit eval --gt GT --pred RESULTS`` runs; MPII's list json is adapted on the fly."""
    gt_path = Path(gt_path)
    gt: str | Path | dict = gt_path
    if gt_path.is_file():
        with gt_path.open("rb") as f:
            starts_with_list = f.read(256).lstrip().startswith(b"[")
        if starts_with_list:
            raw = load_json_file(gt_path, "ground-truth file")
            if raw and isinstance(raw[0], dict) and "joints" in raw[0]:
                gt = mpii_to_coco(gt_path)
            else:
                raise ValueError(
                    f"{gt_path}: ground truth is a JSON list, expected a COCO json object "
                    f"(are --gt and --pred swapped?)"
                )
    return evaluate_coco(gt, Path(pred_path), skeleton=skeleton)
