"""``posekit demo`` (what ``make demo`` runs): the whole top-down path on SynthPose, on a CPU.

1. generate SynthPose train/val splits (deterministic; reused when already there),
2. check the metric: ground truth scored against itself must give AP 1.0,
3. score the mean-pose baseline (the floor a model must clear),
4. train the small SimpleBaseline config for a few minutes,
5. evaluate the best checkpoint (GT boxes, flip test) and draw predictions beside ground truth.

Everything lands in ``--out`` (default ``runs/demo``): data/, best.pt, last.pt, config.yaml,
metrics.csv, val_results.json and predictions.png.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

from posekit.config import apply_overrides, load_config
from posekit.data.coco import CocoPoseDataset
from posekit.data.synthpose import generate_dataset
from posekit.engine.evaluate import evaluate_checkpoint
from posekit.engine.train import main as train_main
from posekit.evaluation import evaluate_coco
from posekit.evaluation.baselines import MeanPose
from posekit.viz import show_dataset

__all__ = ["run_demo", "DEMO_CONFIG"]

DEMO_CONFIG = "simplebaseline_tiny_synthpose_128x96"  # a shipped config, found by name
IMAGE_SIZE = 256


def _ensure_split(data: Path, split: str, num: int, seed: int) -> None:
    ann = data / "annotations" / f"person_keypoints_{split}.json"
    if ann.exists() and len(json.loads(ann.read_text())["images"]) == num:
        print(f"[1] SynthPose {split}: reusing {ann}")
        return
    start = time.perf_counter()
    generate_dataset(data, num, seed=seed, size=IMAGE_SIZE, crowd="normal", split=split,
                     workers=2 if num >= 500 else 1)  # worker start-up only pays off for big sets
    print(f"[1] SynthPose {split}: {num} images of {IMAGE_SIZE}x{IMAGE_SIZE} in "
          f"{time.perf_counter() - start:.1f} s → {data}")


def run_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    data = out / "data"
    _ensure_split(data, "train", args.train_images, seed=0)
    _ensure_split(data, "val", args.val_images, seed=1)
    val = CocoPoseDataset.from_dir(data, "val")

    gt_as_pred = [
        {"image_id": r.image_id, "category_id": 1, "keypoints": p.keypoints.flatten().tolist(),
         "score": 1.0}
        for r in val.records for p in r.people if p.num_keypoints > 0 and not p.iscrowd
    ]
    sanity = evaluate_coco(val.gt_dict, gt_as_pred, skeleton=val.skeleton).stats["AP"]
    print(f"[2] metric check: ground truth scored against itself, AP = {sanity:.3f}")

    cfg = load_config(DEMO_CONFIG, [f"data.root={data}"])
    if args.minutes is not None:
        cfg = apply_overrides(cfg, [f"train.max_minutes={args.minutes}"])
    if args.epochs is not None:
        cfg = apply_overrides(cfg, [f"schedule.epochs={args.epochs}"])
    baseline = MeanPose(tuple(cfg.codec.input_size)).fit(CocoPoseDataset.from_dir(data, "train"))
    base_ap = evaluate_coco(val.gt_dict, baseline.predict(val), skeleton=val.skeleton).stats["AP"]
    print(f"[3] mean-pose baseline (GT boxes): val AP = {base_ap:.3f}")

    print(f"[4] training {cfg.model.name} ({DEMO_CONFIG}) for {cfg.schedule.epochs} epochs"
          + (f", at most {cfg.train.max_minutes} min" if cfg.train.max_minutes else ""))
    start = time.perf_counter()
    cfg = dataclasses.replace(cfg, name="demo")
    # The demo folder holds data/ and is meant to be rerun: each run starts training over.
    result = train_main(cfg, out, progress=False, exist_ok=True)
    print(f"    trained {result.epoch + 1} epochs in {(time.perf_counter() - start) / 60:.1f} min"
          f" ({result.stats.get('images_per_s', 0):.0f} train images/s)")

    pred_path = out / "val_results.json"
    report, _ = evaluate_checkpoint(out / "best.pt", data, split="val", flip_test=True,
                                    pred_out=pred_path)
    picture = show_dataset(data, split="val", out=out / "predictions.png", pred=str(pred_path),
                           num=8, seed=0)
    print(f"[5] picture: {picture} (ground truth left, prediction right)")
    print(report.format())
    print(f"val AP (GT boxes, flip test): {report.stats['AP']:.3f} — mean-pose baseline "
          f"{base_ap:.3f}")
    print(f"next: posekit infer {data / 'images' / 'val'} --checkpoint {out / 'best.pt'} "
          f"--detector full-image --out {out / 'infer'}")
    return 0
