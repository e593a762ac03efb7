"""Evaluate a trained checkpoint on a COCO-format dataset: COCO results file and AP.

``posekit eval --checkpoint CKPT --data DATASET_DIR [--config CONFIG] [--split val]
[--detections DETS.json | --detector CKPT] [--pred-out RESULTS.json]``: the config stored
in the checkpoint is used unless ``--config`` is given; ``--data`` is a SynthPose-layout
directory or an annotation json (images next to it or under ``--images``). ``--detector`` runs a
model that finds people without boxes (one-stage, bottom-up) over the images and evaluates a
top-down model on its people's boxes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from posekit.data.coco import CocoPoseDataset
from posekit.engine.loading import load_trained
from posekit.evaluation import EvalReport, evaluate_coco
from posekit.pipelines.detectors import DetectionFile, Detector, PeopleDetector

__all__ = ["evaluate_checkpoint", "evaluate_checkpoint_cli", "people_detector"]


def people_detector(checkpoint: str | Path, device: str = "cpu", score_thresh: float = 0.0
                    ) -> PeopleDetector:
    """A detector from the checkpoint of a model that finds people without boxes: its people's
    boxes and scores (those below ``score_thresh`` dropped)."""
    trained = load_trained(checkpoint)
    if trained.task.needs_detector:
        raise ValueError(f"{checkpoint}: a detector checkpoint must find people without boxes "
                         f"(one-stage, bottom-up); its model.task is {trained.cfg.model.task!r}")
    network = trained.task.inference_model(trained.model.to(device))
    return PeopleDetector(trained.task.pipeline(network, device), score_thresh)


def evaluate_checkpoint(
    checkpoint: str | Path, data: str | Path, *, config: str | Path | None = None,
    split: str = "val", images: str | Path | None = None, detections: str | None = None,
    flip_test: bool | None = None, device: str = "cpu", pred_out: str | Path | None = None,
    detector: str | Path | None = None,
) -> tuple[EvalReport, list[dict]]:
    """COCO results and AP of a checkpoint on a dataset: on ground-truth boxes, or the boxes of
    a detections file (``detections``) or of a people-finding checkpoint (``detector``)."""
    if detector is not None and detections:
        raise ValueError("give either --detections or --detector, not both")
    trained = load_trained(checkpoint, config, overrides=("data.workers=0",))
    cfg = trained.cfg
    data = Path(data)
    if data.is_dir():
        coco = CocoPoseDataset.from_dir(data, split, skeleton=cfg.data.skeleton)
    else:
        coco = CocoPoseDataset(data, images or data.parent, skeleton=cfg.data.skeleton)
    boxes: Detector | None = None
    if detections:
        boxes = DetectionFile(detections, coco, score_thresh=cfg.test.det_score_thresh)
    elif detector is not None:
        boxes = people_detector(detector, device, score_thresh=cfg.test.det_score_thresh)
    results = trained.task.predict(trained.model.to(device), coco, device, detector=boxes,
                                   flip_test=flip_test)
    if pred_out:
        Path(pred_out).parent.mkdir(parents=True, exist_ok=True)
        Path(pred_out).write_text(json.dumps(results))
    return evaluate_coco(coco.gt_dict, results, skeleton=coco.skeleton), results


def evaluate_checkpoint_cli(args: argparse.Namespace) -> int:
    if args.data is None:
        raise ValueError("--checkpoint needs --data DATASET_DIR (or an annotation json)")
    report, results = evaluate_checkpoint(
        args.checkpoint, args.data, config=args.config, split=args.split, images=args.images,
        detections=args.detections, flip_test=True if args.flip_test else None,
        device=args.device, pred_out=args.pred_out, detector=args.detector,
    )
    print(report.format())
    if args.json:
        report.write_json(args.json)
    if args.pred_out:
        print(f"wrote {len(results)} results to {args.pred_out}")
    return 0
