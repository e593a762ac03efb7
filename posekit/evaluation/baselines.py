"""Reference predictors that set the floor a learned model must clear.

``MeanPose`` predicts, inside every person box, the average training pose expressed in the
top-down crop frame (same padding and aspect fix as the models), so it knows where people are
and how big they are, but nothing about their pose. A model's AP means something only well
above this baseline's AP on the same boxes.
"""

from __future__ import annotations

import numpy as np

from posekit.data.coco import CocoPoseDataset
from posekit.data.topdown import PersonBox, ground_truth_boxes
from posekit.data.transforms import TopDownAugment, crop_to_image
from posekit.pipelines.topdown import CropPrediction, assemble_people

__all__ = ["MeanPose"]


class MeanPose:
    """The mean training pose placed in each box.

    Args:
        input_size: crop (w, h) whose frame the mean is taken in (use the model's).
    """

    def __init__(self, input_size: tuple[int, int] = (192, 256)) -> None:
        self.input_size = tuple(input_size)
        self.augment = TopDownAugment()
        self.mean_xy: np.ndarray | None = None  # (K, 2) crop pixels
        self.frequency: np.ndarray | None = None  # (K,) fraction of people with the point labelled

    def fit(self, coco: CocoPoseDataset) -> MeanPose:
        """Average the labelled keypoints of every training person in crop coordinates."""
        k = coco.skeleton.num_keypoints
        total, count, people = np.zeros((k, 2)), np.zeros(k), 0
        blank = np.zeros((1, 1, 3), np.uint8)
        for item in ground_truth_boxes(coco):
            person = coco.records[item.record_index].people[item.person_index]
            crop = self.augment(blank, person.keypoints, np.asarray(item.bbox),
                                input_size=self.input_size, train=False)
            labelled = person.keypoints[:, 2] > 0
            total[labelled] += crop.keypoints[labelled, :2]
            count[labelled] += 1
            people += 1
        if people == 0:
            raise ValueError("MeanPose.fit: the dataset has no annotated people")
        self.mean_xy = total / np.maximum(count, 1)[:, None]
        self.frequency = count / people
        return self

    def predict(self, coco: CocoPoseDataset, boxes: list[PersonBox] | None = None) -> list[dict]:
        """COCO results: the mean pose in every box (default: ground-truth boxes)."""
        if self.mean_xy is None or self.frequency is None:
            raise ValueError("MeanPose.predict called before fit")
        boxes = ground_truth_boxes(coco) if boxes is None else boxes
        blank = np.zeros((1, 1, 3), np.uint8)
        by_image: dict[int, list[CropPrediction]] = {}
        for item in boxes:
            record = coco.records[item.record_index]
            crop = self.augment(blank, np.zeros((len(self.frequency), 3), np.float32),
                                np.asarray(item.bbox), input_size=self.input_size, train=False)
            xy = crop_to_image(self.mean_xy, crop.center, crop.scale, 0.0, self.input_size)
            kpts = np.concatenate([xy, self.frequency[:, None]], axis=1).astype(np.float32)
            by_image.setdefault(record.image_id, []).append(
                CropPrediction(record.image_id, kpts, np.asarray(item.bbox, np.float32), item.score)
            )
        return [r for image_id, preds in sorted(by_image.items())
                for r in assemble_people(preds, coco.skeleton).to_coco(image_id)]
