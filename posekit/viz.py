"""``posekit show``: a contact sheet of a COCO-format dataset's ground truth (and predictions).

The drawing itself is :mod:`posekit.draw`; this module adds the dataset and results files.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from posekit.data.coco import CocoPoseDataset
from posekit.data.records import ImageRecord
from posekit.draw import contact_sheet, draw_people, save_image
from posekit.evaluation.results import load_results
from posekit.skeletons import Skeleton
from posekit.structures import PoseInstances

__all__ = ["show_dataset"]




def _record_people(record: ImageRecord, num_keypoints: int) -> PoseInstances:
    """Non-crowd ground-truth people of an ImageRecord; boxes from COCO (x, y, w, h)."""
    people = [p for p in record.people if not p.iscrowd]
    if not people:
        return PoseInstances.empty(num_keypoints)
    kpts = np.stack([np.asarray(p.keypoints, dtype=np.float32) for p in people])  # (N, K, 3)
    xywh = np.stack([np.asarray(p.bbox, dtype=np.float32) for p in people])  # (N, 4)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)  # (N, 4) xyxy
    return PoseInstances(boxes, kpts, np.ones(len(people), dtype=np.float32))


def show_dataset(
    dataset_dir: str | Path,
    split: str = "val",
    out: str | Path = "sheet.png",
    pred: str | Path | None = None,
    num: int = 16,
    skeleton: Skeleton | str | None = None,
    seed: int = 0,
    *,
    images: str | Path | None = None,
    score_thresh: float = 0.3,
    cell: int = 320,
) -> Path:
    """Draw ``num`` images of a COCO-format dataset (ground truth, and predictions beside it
    when ``pred`` names a COCO results json) into a contact sheet PNG; returns its path.

    ``dataset_dir`` is a folder in the ``images/<split>`` + ``annotations/`` layout, or a COCO
    keypoint json with its images in ``images`` (default: the json's folder), as ``eval`` takes
    them. Images are a seeded random sample, shown in dataset order. Predicted people with score
    below ``score_thresh`` are left out; keypoints use :func:`draw_people`'s 0.3 threshold.
    """
    if num < 1:
        raise ValueError(f"num must be positive, got {num}")
    source = Path(dataset_dir)
    if source.is_file():
        dataset = CocoPoseDataset(source, images or source.parent, skeleton)
    else:
        if images is not None:
            raise ValueError(f"--images goes with an annotation json; {source} is a folder "
                             "(images/<split>, annotations/)")
        dataset = CocoPoseDataset.from_dir(source, split, skeleton)
    if len(dataset) == 0:
        raise ValueError(f"dataset {dataset_dir} split {split!r} has no images")
    sk = dataset.skeleton
    k = sk.num_keypoints
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(dataset), size=min(num, len(dataset)), replace=False))

    by_image: dict[int, list[dict]] = defaultdict(list)
    if pred is not None:
        known = {r.image_id for r in dataset.records}
        for res in load_results(pred, num_keypoints=k, image_ids=known):
            by_image[int(res["image_id"])].append(res)

    tiles: list[np.ndarray] = []
    labels: list[str] = []
    for idx in picked:
        record = dataset.records[int(idx)]
        image = dataset.load_image(record)
        gt = _record_people(record, k)
        tiles.append(draw_people(image, gt, sk, style="gt"))
        labels.append(f"{record.image_id} gt: {len(gt)}")
        if pred is not None:
            kept = PoseInstances.from_coco(
                [r for r in by_image.get(record.image_id, []) if r["score"] >= score_thresh], k
            )
            tiles.append(draw_people(image, kept, sk, style="pred", draw_scores=True))
            labels.append(f"{record.image_id} pred: {len(kept)} (score>={score_thresh:g})")
    # Ground truth and prediction of one image sit in adjacent cells of the same row.
    pairs = 2 if pred is not None else 1
    ncols = pairs * math.ceil(math.sqrt(len(tiles)) / pairs)
    sheet = contact_sheet(tiles, ncols=ncols, labels=labels, cell=cell)
    return save_image(out, sheet)
