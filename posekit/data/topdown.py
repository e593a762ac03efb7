"""Top-down samples: one person crop per item, with its keypoints in crop pixels.

Augmentation randomness is a pure function of ``(seed, epoch, index)``, so a run is reproducible
whatever the number of loader workers, and a resumed run sees exactly the batches it would have
seen without the interruption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from posekit.data.coco import CocoPoseDataset
from posekit.data.transforms import TopDownAugment, upper_lower_ids

__all__ = [
    "TopDownDataset", "PersonCrop", "box_xywh", "ground_truth_boxes", "image_to_tensor",
    "IMAGENET_MEAN", "IMAGENET_STD",
]

# ImageNet statistics in RGB order, on the 0–255 scale (every backbone here is trained with them).
IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)


def image_to_tensor(image_bgr: np.ndarray) -> torch.Tensor:
    """(H, W, 3) BGR uint8 → (3, H, W) float32 RGB, ImageNet-normalised."""
    rgb = image_bgr[..., ::-1].astype(np.float32)
    rgb = (rgb - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def box_xywh(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) → (x, y, w, h), the form the crop transform takes (MMPose's)."""
    x1, y1, x2, y2 = box
    return x1, y1, x2 - x1, y2 - y1


@dataclass(frozen=True)
class PersonCrop:
    """One crop of a dataset: which image (record index), which box (x1, y1, x2, y2) in image
    pixels with its score and, for annotated people, which person."""

    record_index: int
    box: tuple[float, float, float, float]
    score: float = 1.0
    person_index: int = -1  # index into record.people; -1 for a detection without annotation


def ground_truth_boxes(coco: CocoPoseDataset, min_keypoints: int = 1) -> list[PersonCrop]:
    """Ground-truth crops: non-crowd people with enough labelled keypoints and a box over 1 px.

    COCO's x, y, w, h boxes become x1, y1, x2, y2, clipped to the image's pixel centres
    [0, W − 1] × [0, H − 1] when the json gives its size, as MMPose's COCO datasets do.
    """
    items = []
    for r, record in enumerate(coco.records):
        for p, person in enumerate(record.people):
            if person.iscrowd or person.num_keypoints < min_keypoints:
                continue
            x, y, w, h = (float(v) for v in person.bbox)
            x1, y1, x2, y2 = x, y, x + w, y + h
            if record.width and record.height:
                x1, x2 = (min(max(v, 0.0), record.width - 1.0) for v in (x1, x2))
                y1, y2 = (min(max(v, 0.0), record.height - 1.0) for v in (y1, y2))
            if x2 - x1 <= 1 or y2 - y1 <= 1:
                continue
            items.append(PersonCrop(r, (x1, y1, x2, y2), 1.0, p))
    return items


class TopDownDataset(Dataset):
    """Person crops of a :class:`CocoPoseDataset` for top-down training and evaluation.

    Args:
        coco: the images and annotations.
        input_size: model input (w, h).
        augment: the crop/augmentation recipe (its ``train`` randomness is used when ``train``).
        train: random augmentation on; only people with >= ``min_keypoints`` labelled points.
        boxes: crops to make instead of the ground-truth boxes (e.g. from a detector).
        seed: base seed of the per-sample random generators.
        min_keypoints: people with fewer labelled keypoints are skipped (COCO protocol: 1).
    """

    def __init__(
        self,
        coco: CocoPoseDataset,
        input_size: tuple[int, int],
        augment: TopDownAugment,
        *,
        train: bool,
        boxes: list[PersonCrop] | None = None,
        seed: int = 0,
        min_keypoints: int = 1,
    ) -> None:
        self.coco = coco
        self.input_size = tuple(input_size)
        self.augment = augment
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.flip_indices = coco.skeleton.flip_indices
        self.upper_ids, self.lower_ids = upper_lower_ids(coco.skeleton)
        self.items = boxes if boxes is not None else ground_truth_boxes(coco, min_keypoints)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch's augmentation stream (call before building the epoch's iterator)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = self.items[index]
        record = self.coco.records[item.record_index]
        image = self.coco.load_image(record)
        k = self.coco.skeleton.num_keypoints
        if item.person_index >= 0:
            keypoints = record.people[item.person_index].keypoints.astype(np.float32)
        else:
            keypoints = np.zeros((k, 3), dtype=np.float32)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        sample = self.augment(
            image, keypoints, np.asarray(box_xywh(item.box), dtype=np.float32),
            input_size=self.input_size, flip_indices=self.flip_indices,
            upper_ids=self.upper_ids, lower_ids=self.lower_ids, rng=rng, train=self.train,
        )
        return {
            "image": image_to_tensor(sample.image),
            "keypoints": torch.from_numpy(sample.keypoints.astype(np.float32)),  # (K, 3) crop px
            "center": torch.as_tensor(sample.center, dtype=torch.float32),
            "scale": torch.as_tensor(sample.scale, dtype=torch.float32),
            "rotation": torch.tensor(float(sample.rotation)),
            "image_id": torch.tensor(record.image_id),
            "box_score": torch.tensor(item.score, dtype=torch.float32),
            "box": torch.as_tensor(item.box, dtype=torch.float64),  # (4,) x1, y1, x2, y2
            "index": torch.tensor(index),
        }
