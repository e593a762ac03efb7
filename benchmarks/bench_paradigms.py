"""Paradigms side by side on the same images: COCO AP and ms/image per phase, a row per checkpoint.

Each checkpoint runs image by image through its own task's pipeline on one dataset split:
top-down models on the ground-truth boxes (``--detector CKPT`` swaps in a one-stage checkpoint's
boxes), bottom-up and one-stage models on the whole image alone. Prints a markdown table with AP,
AP50, PCK@0.2, people found and the mean ms/image of each pipeline phase (``pipe.timing``; one
warm-up image first), plus the number of people per image, so the cost-vs-crowd trade-off (talk
§3) is read on real predictions rather than random weights.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/bench_paradigms.py DATA_DIR \
        CKPT [CKPT ...] [--split val] [--threads 1] [--max-images N] [--detector RTMO.pt]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from posekit.data.coco import CocoPoseDataset
from posekit.engine.evaluate import people_detector
from posekit.engine.loading import load_trained
from posekit.evaluation import evaluate_coco
from posekit.pipelines.detectors import Detector, GroundTruthBoxes

PHASES = ("detector", "preprocess", "network", "decode", "grouping")


def bench_checkpoint(checkpoint: str, coco: CocoPoseDataset, detector: Detector,
                     boxes: str, max_images: int = 0) -> dict:
    """AP, PCK and mean per-phase ms/image of one checkpoint on the first ``max_images`` images
    of ``coco`` (all when 0); top-down models take their boxes from ``detector`` (``boxes``
    names it in the table)."""
    trained = load_trained(checkpoint)
    cfg, task = trained.cfg, trained.task
    if not task.needs_detector:
        boxes = "none (own people)"
    pipe = task.pipeline(task.inference_model(trained.model), "cpu",
                         detector=detector if task.needs_detector else None)
    records = coco.records[: max_images or None]
    results, times = [], []
    first = records[0]
    with torch.inference_mode():
        pipe(coco.load_image(first), first.image_id)  # warm-up
        for record in records:
            people = pipe(coco.load_image(record), record.image_id)
            results.extend(people.to_coco(record.image_id))
            times.append(dict(pipe.timing))
    report = evaluate_coco(coco.gt_dict, results, skeleton=coco.skeleton,
                           image_ids=[r.image_id for r in records])
    ms = {k: 1000 * float(np.mean([t[k] for t in times])) for k in PHASES if k in times[0]}
    return {"model": f"{Path(checkpoint).parent.name} ({cfg.model.name})",
            "paradigm": task.paradigm, "boxes": boxes, "AP": report.stats["AP"],
            "AP50": report.stats["AP50"],
            "PCK": (report.pck or {}).get("PCK@0.2", float("nan")), "found": len(results),
            "ms": ms, "total": sum(ms.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="dataset folder (annotations/, images/)")
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--split", default="val")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-images", type=int, default=0, help="first N images (0 = all)")
    parser.add_argument("--detector", default=None,
                        help="one-stage or bottom-up checkpoint whose people's boxes the "
                        "top-down models use")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    coco = CocoPoseDataset.from_dir(args.data, args.split, skeleton="coco17")
    if args.detector:  # loaded once, shared by every top-down checkpoint
        detector: Detector = people_detector(args.detector, "cpu")
        boxes = f"{Path(args.detector).parent.name} boxes"
    else:
        detector, boxes = GroundTruthBoxes(coco), "GT boxes"
    records = coco.records[: args.max_images or None]
    people = [sum(1 for p in r.people if p.num_keypoints > 0) for r in records]
    print(f"{args.data} [{args.split}]: {len(records)} images, {sum(people)} people "
          f"({np.mean(people):.1f} per image, max {max(people)}); {args.threads} thread(s)\n")
    print("| model | paradigm | boxes | AP | AP50 | PCK@0.2 | people found | "
          + " | ".join(PHASES) + " | total ms/image |")
    print("|---" * (8 + len(PHASES)) + "|")
    for ckpt in args.checkpoints:
        r = bench_checkpoint(ckpt, coco, detector, boxes, args.max_images)
        cells = [f"{r['ms'][k]:.1f}" if k in r["ms"] else "–" for k in PHASES]
        print(f"| {r['model']} | {r['paradigm']} | {r['boxes']} | {r['AP']:.3f} | "
              f"{r['AP50']:.3f} | {r['PCK']:.3f} | {r['found']} | " + " | ".join(cells)
              + f" | {r['total']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
