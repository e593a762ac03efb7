"""How good a one-stage checkpoint's keypoints are, apart from its scores: for every ground-truth
person, the OKS of the best-matching detection (any score), overall and by person size, plus the
detection count and score spread. Separates "keypoints are wrong" from "ranking is wrong" when AP
is near 0 (docs/benchmarks.md, RTMO).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python benchmarks/onestage_keypoints.py CKPT DATA_DIR \
        [--split val] [override ...]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from posekit.data.coco import CocoPoseDataset
from posekit.engine.loading import load_trained
from posekit.oks import oks_matrix

SIZE_BINS = ((0, 30), (30, 50), (50, 80), (80, float("inf")))  # √area in pixels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("data", help="dataset folder (annotations/, images/)")
    parser.add_argument("--split", default="val")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. "
                        "'model.kwargs={dcc_decode: argmax}'")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # EMA weights when present; overrides (e.g. another DCC decoding) rebuild the model first
    trained = load_trained(args.checkpoint, overrides=args.overrides)
    cfg, task, model = trained.cfg, trained.task, trained.model
    coco = CocoPoseDataset.from_dir(args.data, args.split, skeleton=cfg.data.skeleton)
    results = task.predict(model, coco)
    sigmas = np.asarray(task.skeleton.sigmas)
    best, sizes = [], []
    for record in coco.records:
        preds = [r for r in results if r["image_id"] == record.image_id]
        people = [p for p in record.people if (p.keypoints[:, 2] > 0).any()]
        if not people:
            continue
        gt = np.stack([p.keypoints for p in people])
        areas = np.array([p.area for p in people])
        if preds:
            kpts = np.array([r["keypoints"] for r in preds]).reshape(len(preds), -1, 3)
            best.extend(oks_matrix(kpts, gt, areas, sigmas).max(0))
        else:
            best.extend([0.0] * len(people))
        sizes.extend(np.sqrt(areas))
    best, sizes = np.array(best), np.array(sizes)
    scores = np.array([r["score"] for r in results]) if results else np.zeros(1)
    print(f"{len(best)} people, {len(results)} detections; best-match OKS mean {best.mean():.3f}, "
          f"quartiles {np.percentile(best, [25, 50, 75]).round(3).tolist()}, "
          f"> 0.5: {(best > 0.5).mean():.2f}, > 0.75: {(best > 0.75).mean():.2f}")
    print(f"detection scores: median {np.median(scores):.3f}, p90 {np.percentile(scores, 90):.3f}"
          f", max {scores.max():.3f}")
    for lo, hi in SIZE_BINS:
        m = (sizes >= lo) & (sizes < hi)
        if m.any():
            print(f"  sqrt(area) {lo}-{hi} px: {m.sum()} people, "
                  f"best-match OKS {best[m].mean():.3f}")


if __name__ == "__main__":
    main()
