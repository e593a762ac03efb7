"""Reference predictors that set the floor a learned model must clear.

``MeanPose`` predicts, inside every person box, the average training pose expressed in the
top-down crop frame (same padding and aspect fix as the models), so it knows where people are
and how big they are, but nothing about their pose. A model's AP means something only well
above this baseline's AP on the same boxes.
"""

from __future__ import annotations

import numpy as np

from posekit.data.coco import CocoPoseDataset
from posekit.data.topdown import PersonCrop, box_xywh, ground_truth_boxes
from posekit.data.transforms import (
    apply_affine,
    box_to_center_scale,
    crop_to_image,
    fix_aspect_ratio,
    get_affine_matrix,
)
from posekit.pipelines.topdown import CropPrediction, assemble_people

__all__ = ["MeanPose"]


class MeanPose:
    """The mean training pose placed in each box.

    Args:
        input_size: crop (w, h) whose frame the mean is taken in (use the model's).
    """

    def __init__(self, input_size: tuple[int, int] = (192, 256)) -> None:
        self.input_size = tuple(input_size)
        self.mean_xy: np.ndarray | None = None  # (K, 2) crop pixels
        self.frequency: np.ndarray | None = None  # (K,) fraction of people with the point labelled

    def _crop_frame(self, box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Centre and aspect-fixed scale of an (x1, y1, x2, y2) box's crop, exactly as the models'
        test-time crop (padding 1.25, no rotation); only the geometry, no pixels are warped."""
        center, scale = box_to_center_scale(box_xywh(box))
        return center, fix_aspect_ratio(scale, self.input_size[0] / self.input_size[1])

    def fit(self, coco: CocoPoseDataset) -> MeanPose:
        """Average the labelled keypoints of every training person in crop coordinates."""
        k = coco.skeleton.num_keypoints
        total, count, people = np.zeros((k, 2)), np.zeros(k), 0
        for item in ground_truth_boxes(coco):
            person = coco.records[item.record_index].people[item.person_index]
            center, scale = self._crop_frame(item.box)
            to_crop = get_affine_matrix(center, scale, 0.0, self.input_size)
            labelled = person.keypoints[:, 2] > 0
            total[labelled] += apply_affine(person.keypoints[labelled, :2], to_crop)
            count[labelled] += 1
            people += 1
        if people == 0:
            raise ValueError("MeanPose.fit: the dataset has no annotated people")
        self.mean_xy = total / np.maximum(count, 1)[:, None]
        self.frequency = count / people
        return self

    def predict(self, coco: CocoPoseDataset, boxes: list[PersonCrop] | None = None) -> list[dict]:
        """COCO results: the mean pose in every box (default: ground-truth boxes)."""
        if self.mean_xy is None or self.frequency is None:
            raise ValueError("MeanPose.predict called before fit")
        boxes = ground_truth_boxes(coco) if boxes is None else boxes
        by_image: dict[int, list[CropPrediction]] = {}
        for item in boxes:
            record = coco.records[item.record_index]
            center, scale = self._crop_frame(item.box)
            xy = crop_to_image(self.mean_xy, center, scale, 0.0, self.input_size)
            kpts = np.concatenate([xy, self.frequency[:, None]], axis=1).astype(np.float32)
            by_image.setdefault(record.image_id, []).append(
                CropPrediction(record.image_id, kpts, np.asarray(item.box), item.score)
            )
        return [r for image_id, preds in sorted(by_image.items())
                for r in assemble_people(preds, coco.skeleton).to_coco(image_id)]
