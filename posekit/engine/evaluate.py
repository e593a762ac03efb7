"""Evaluate a trained checkpoint on a COCO-format dataset: COCO results file and AP.

``posekit eval --checkpoint CKPT --data DATASET_DIR [--config CONFIG] [--split val]
[--detections DETS.json | --detector RTMO_CKPT] [--pred-out RESULTS.json]``: the config stored
in the checkpoint is used unless ``--config`` is given; ``--data`` is a SynthPose-layout
directory or an annotation json (images next to it or under ``--images``). ``--detector`` runs a
one-stage checkpoint over the images and evaluates a top-down model on its boxes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from posekit.config import ExperimentConfig, config_from_dict, load_config
from posekit.data.coco import CocoPoseDataset
from posekit.engine.checkpoint import checkpoint_keypoints, load_checkpoint, load_weights
from posekit.engine.tasks import build_task
from posekit.evaluation import EvalReport, evaluate_coco

__all__ = ["load_trained", "evaluate_checkpoint", "evaluate_checkpoint_cli"]


def load_trained(
    checkpoint: str | Path, config: str | Path | None = None, *, use_ema: bool = True,
) -> tuple[ExperimentConfig, torch.nn.Module]:
    """Config and model (eval mode, EMA weights when present) from a checkpoint."""
    state = load_checkpoint(checkpoint)
    cfg = load_config(config) if config else config_from_dict(state["config"])
    task = build_task(cfg)
    model = task.build_model()
    weights = state["ema"]["module"] if use_ema and state.get("ema") else state["model"]
    load_weights(model, weights, source=checkpoint, model_name=cfg.model.name,
                 num_keypoints=task.skeleton.num_keypoints,
                 source_keypoints=checkpoint_keypoints(state))
    return cfg, model.eval()


def evaluate_checkpoint(
    checkpoint: str | Path, data: str | Path, *, config: str | Path | None = None,
    split: str = "val", images: str | Path | None = None, detections: str | None = None,
    flip_test: bool | None = None, device: str = "cpu", pred_out: str | Path | None = None,
    detector: str | Path | None = None,
) -> tuple[EvalReport, list[dict]]:
    """COCO results and AP of a checkpoint on a dataset (GT boxes unless ``detections`` or
    ``detector``, a one-stage checkpoint whose boxes are used)."""
    if detector is not None and detections:
        raise ValueError("give either --detections or --detector, not both")
    cfg, model = load_trained(checkpoint, config)
    task = build_task(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, workers=0)))
    data = Path(data)
    if data.is_dir():
        coco = CocoPoseDataset.from_dir(data, split, skeleton=cfg.data.skeleton)
    else:
        coco = CocoPoseDataset(data, images or data.parent, skeleton=cfg.data.skeleton)
    if detector is not None:
        detections = _detections_file(detector, coco, device, Path(checkpoint))
    results = task.predict(model.to(device), coco, device, detections=detections,
                           flip_test=flip_test)
    if pred_out:
        Path(pred_out).parent.mkdir(parents=True, exist_ok=True)
        Path(pred_out).write_text(json.dumps(results))
    return evaluate_coco(coco.gt_dict, results, skeleton=coco.skeleton), results


def detections_from_detector(coco: CocoPoseDataset, detector: Any) -> list[dict]:
    """COCO detection results ``[{image_id, category_id, bbox, score}]`` of a Detector."""
    dets = []
    for record in coco.records:
        for box in detector(coco.load_image(record), record.image_id):
            dets.append({"image_id": record.image_id, "category_id": 1,
                         "bbox": [float(v) for v in box.bbox], "score": float(box.score)})
    return dets


def _detections_file(detector: str | Path, coco: CocoPoseDataset, device: str,
                     checkpoint: Path) -> str:
    from posekit.pipelines.onestage import RTMODetector

    dets = detections_from_detector(coco, RTMODetector.from_checkpoint(detector, device))
    fd, name = tempfile.mkstemp(prefix=f"{checkpoint.stem}-dets-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(dets, f)
    return name


def evaluate_checkpoint_cli(args: argparse.Namespace) -> int:
    if args.data is None:
        raise ValueError("--checkpoint needs --data DATASET_DIR (or an annotation json)")
    report, results = evaluate_checkpoint(
        args.checkpoint, args.data, config=args.config, split=args.split, images=args.images,
        detections=args.detections, flip_test=True if args.flip_test else None,
        device=args.device, pred_out=args.pred_out, detector=getattr(args, "detector", None),
    )
    print(report.format())
    if args.json:
        report.write_json(args.json)
    if args.pred_out:
        print(f"wrote {len(results)} results to {args.pred_out}")
    return 0
