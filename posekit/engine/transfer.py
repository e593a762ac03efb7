"""Transfer scoring: how a model trained on SynthPose does on real photos and unseen styles.

The real samples in ``tests/fixtures/real`` (COCO val2017, OCHuman, PoseTrack18, CrowdPose,
AI Challenger, MPII; evaluation only, never training data) are each read in their own skeleton
and scored with ground-truth boxes:

- PCK@0.2 of the box size (max(w, h) of the annotated box) on every keypoint the model's
  skeleton shares with the sample's by name (:func:`posekit.skeletons.conversion_table`: all 17
  for COCO/OCHuman, 15 for PoseTrack (no head_bottom/head_top), the 12 limb joints for
  CrowdPose-14, AIC-14 and MPII-16); pooled over all real people it is the steadier figure;
- COCO AP (OKS, COCO sigmas) where the sample is COCO-17 or has COCO-17 parts: COCO, OCHuman
  and PoseTrack18 (its ground truth converted to COCO-17 by name; points it lacks are unlabelled
  and so not scored).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from posekit.data.coco import CocoPoseDataset
from posekit.data.mpii import mpii_to_coco
from posekit.data.topdown import TopDownDataset, ground_truth_boxes
from posekit.data.transforms import crop_to_image
from posekit.engine.topdown_task import TopDownTask
from posekit.evaluation import evaluate_coco
from posekit.evaluation.baselines import MeanPose
from posekit.evaluation.pck import pck_bbox
from posekit.skeletons import COCO17, Skeleton, conversion_table, convert_keypoints, get_skeleton

__all__ = ["REAL_SAMPLES", "RealScore", "load_real_sample", "to_coco17_gt", "shared_mask",
           "score_dataset", "score_real_samples", "score_mean_pose", "FIXTURES"]

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "real"
# name → (annotation file, image root, skeleton, COCO AP reported?) relative to FIXTURES
REAL_SAMPLES: dict[str, tuple[str, str, str, bool]] = {
    "coco": ("mmpose_coco/test_coco.json", "mmpose_coco", "coco17", True),
    "ochuman": ("mmpose_ochuman/test_ochuman.json", "mmpose_ochuman", "coco17", True),
    "posetrack18": ("mmpose_posetrack18/annotations/test_posetrack18_val.json",
                    "mmpose_posetrack18", "posetrack18", True),
    "crowdpose": ("mmpose_crowdpose/test_crowdpose.json", "mmpose_crowdpose", "crowdpose14",
                  False),
    "aic": ("mmpose_aic/test_aic.json", "mmpose_aic", "aic14", False),
    "mpii": ("mmpose_mpii/test_mpii.json", "mmpose_mpii", "mpii16", False),
}


def load_real_sample(name: str, root: str | Path = FIXTURES) -> CocoPoseDataset:
    """One real sample in its own skeleton (MPII through :func:`mpii_to_coco`)."""
    if name not in REAL_SAMPLES:
        raise ValueError(f"unknown real sample {name!r}; known: {sorted(REAL_SAMPLES)}")
    ann, images, skeleton, _ = REAL_SAMPLES[name]
    root = Path(root)
    if name == "mpii":
        return CocoPoseDataset(mpii_to_coco(root / ann, root / images), root / images, skeleton)
    return CocoPoseDataset(root / ann, root / images, skeleton)


def shared_mask(model: Skeleton, data: Skeleton) -> np.ndarray:
    """(K_data,) bool: the sample's keypoints the model predicts (matched by name only)."""
    return np.array([len(src) == 1 for src in conversion_table(model, data)], dtype=bool)


def to_coco17_gt(coco: CocoPoseDataset) -> dict:
    """The sample's ground truth as a COCO-17 dict (points matched by name; the rest v=0)."""
    src = coco.skeleton
    gt = coco.gt_dict
    anns = []
    for a in gt["annotations"]:
        k = np.asarray(a["keypoints"], dtype=np.float32).reshape(1, src.num_keypoints, 3)
        k17 = convert_keypoints(k, src, COCO17)[0]
        anns.append({**a, "keypoints": k17.reshape(-1).tolist(),
                     "num_keypoints": int((k17[:, 2] > 0).sum())})
    cat = {"id": 1, "name": "person", "supercategory": "person",
           "keypoints": list(COCO17.keypoint_names),
           "skeleton": [[a + 1, b + 1] for a, b in COCO17.limbs]}
    return {"images": gt["images"], "annotations": anns, "categories": [cat]}


@dataclass
class RealScore:
    """Scores of one dataset: people scored, PCK hits/total over shared keypoints, COCO AP."""

    name: str
    people: int
    pck_hits: int
    pck_total: int
    ap: float | None

    @property
    def pck(self) -> float:
        return self.pck_hits / self.pck_total if self.pck_total else float("nan")


def _score(coco: CocoPoseDataset, boxes: list, pred: np.ndarray, model_skel: Skeleton,
           name: str, alpha: float) -> tuple[int, int]:
    """PCK hits and total of (N, K_model, 3) predictions for the GT ``boxes`` of ``coco``."""
    data_skel = coco.skeleton
    pred_data = convert_keypoints(pred, model_skel, data_skel)[..., :2]  # (N, K_data, 2)
    gt = np.stack([coco.records[b.record_index].people[b.person_index].keypoints for b in boxes])
    bbox = np.stack([coco.records[b.record_index].people[b.person_index].bbox for b in boxes])
    mask = np.broadcast_to(shared_mask(model_skel, data_skel), gt.shape[:2])
    res = pck_bbox(pred_data, gt, bbox, alpha, mask=mask)
    total = int(res.counts.sum())
    return (int(round(res.mean * total)) if total else 0), total


@torch.no_grad()
def score_dataset(task: TopDownTask, model: nn.Module, coco: CocoPoseDataset, name: str, *,
                  ap: bool, flip_test: bool = True, alpha: float = 0.2) -> RealScore:
    """GT-box predictions of ``model`` on ``coco`` scored as the module doc says."""
    model.eval()
    boxes = ground_truth_boxes(coco)
    crops = TopDownDataset(coco, tuple(task.cfg.codec.input_size), task.augment(), train=False,
                           boxes=boxes)
    pipe = task.pipeline(task.inference_model(model), "cpu", flip_test)
    preds = pipe.predict_crops(crops)  # in the order of ``boxes``
    model_skel = task.skeleton
    hits, total = _score(coco, boxes, np.stack([p.keypoints for p in preds]), model_skel, name,
                         alpha)
    ap_value = None
    if ap:
        if model_skel.name != COCO17.name:
            raise ValueError(f"COCO AP needs a COCO-17 model, got {model_skel.name}")
        gt17 = to_coco17_gt(coco) if coco.skeleton.name != COCO17.name else coco.gt_dict
        ap_value = evaluate_coco(gt17, pipe.to_coco_results(preds), skeleton=COCO17).stats["AP"]
    return RealScore(name, len(boxes), hits, total, ap_value)


def score_mean_pose(mean_pose: MeanPose, coco: CocoPoseDataset, name: str, *,
                    alpha: float = 0.2) -> RealScore:
    """The floor: PCK of a COCO-17 mean pose (fitted on SynthPose) placed in every GT box."""
    boxes = ground_truth_boxes(coco)
    pred = []
    for b in boxes:
        center, scale = mean_pose._crop_frame(b.box)
        xy = crop_to_image(mean_pose.mean_xy, center, scale, 0.0, mean_pose.input_size)
        pred.append(np.concatenate([xy, mean_pose.frequency[:, None]], axis=1))
    hits, total = _score(coco, boxes, np.stack(pred).astype(np.float32), COCO17, name, alpha)
    return RealScore(name, len(boxes), hits, total, None)


def score_real_samples(task: TopDownTask, model: nn.Module, root: str | Path = FIXTURES,
                       flip_test: bool = True) -> list[RealScore]:
    """:func:`score_dataset` on every real sample (COCO AP where the model is COCO-17)."""
    coco17 = get_skeleton(task.skeleton) == COCO17
    return [score_dataset(task, model, load_real_sample(n, root), n, ap=want and coco17,
                          flip_test=flip_test)
            for n, (_, _, _, want) in REAL_SAMPLES.items()]
