"""RTMO on SynthPose: val AP without GT boxes, forward ms and post-processing ms per image.

    PYTHONPATH=$PWD python benchmarks/rtmo_synthpose.py CKPT DATA_DIR [--split val] [--threads 1]

Prints COCO AP/AP50 of the one-stage pipeline (its own boxes) and the mean per-image
"preprocess", "network" (forward, all locations decoded by the DCC) and "decode" (score filter,
box NMS, mapping to image pixels) times of ``pipe.timing``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from posekit.data.coco import CocoPoseDataset
from posekit.engine.evaluate import load_trained
from posekit.engine.tasks import build_task
from posekit.evaluation import evaluate_coco


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("data")
    ap.add_argument("--split", default="val")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, model = load_trained(args.checkpoint)
    task = build_task(cfg)
    coco = CocoPoseDataset.from_dir(args.data, args.split, skeleton=cfg.data.skeleton)
    pipe = task.pipeline(model)
    results, times = [], []
    pipe(coco.load_image(coco[0]))  # warm-up
    for record in coco.records:
        people = pipe(coco.load_image(record), record.image_id)
        results.extend(people.to_coco(record.image_id))
        times.append(pipe.timing)
    report = evaluate_coco(coco.gt_dict, results, skeleton=coco.skeleton)
    print(report.format())
    for key in ("preprocess", "network", "decode"):
        print(f"{key}: {1000 * np.mean([t[key] for t in times]):.2f} ms/image "
              f"(median {1000 * np.median([t[key] for t in times]):.2f})")
    print(f"images: {len(coco)}, people found: {len(results)}, "
          f"GT people: {sum(len(r.people) for r in coco.records)}")


if __name__ == "__main__":
    main()
