"""Top-down pipeline: person detector → crop each box → single-person heatmap model → people.

Cost grows linearly with the number of people (one crop each, talk §3); crops are batched.
Predictions are mapped back to image pixels with the exact inverse of the crop transform, then
rescored (box score × mean confidence of keypoints above a threshold, MMPose's ``bbox_keypoint``
mode) and de-duplicated with OKS NMS.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from posekit.codecs.heatmap import HeatmapCodec
from posekit.data.topdown import TopDownDataset, box_xywh, image_to_tensor
from posekit.data.transforms import TopDownAugment, crop_to_image, upper_lower_ids
from posekit.pipelines.detectors import Detector, PersonBox
from posekit.pipelines.nms import oks_nms
from posekit.skeletons import Skeleton
from posekit.structures import Keypoints, PoseInstances

__all__ = ["TopDown", "CropPrediction", "flip_heatmaps", "assemble_people"]


def flip_heatmaps(heatmaps: Tensor, flip_indices: list[int], shift: bool) -> Tensor:
    """Un-flip heatmaps predicted on a mirrored crop: mirror x and swap left/right channels.

    ``shift`` moves the result one heatmap pixel right, MMPose's compensation for the ~0.75 px
    misalignment of biased (non-UDP) coordinate mapping; with UDP the flip is exact.
    """
    extra = list(range(len(flip_indices), heatmaps.shape[1]))  # e.g. CPM's background map
    out = heatmaps.flip(-1)[:, list(flip_indices) + extra]  # (B, K[+1], h, w)
    if shift:
        out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)
    return out


@dataclass
class CropPrediction:
    """One crop's result in image pixels, before rescoring and NMS."""

    image_id: int
    keypoints: np.ndarray  # (K, 3) x, y, score
    bbox: np.ndarray  # (4,) x1, y1, x2, y2
    box_score: float


def assemble_people(
    preds: list[CropPrediction], skeleton: Skeleton, kpt_score_thresh: float = 0.2,
    nms_thresh: float = 0.9,
) -> PoseInstances:
    """People of ONE image from its crop predictions: rescore, then OKS NMS.

    Person score = box score × mean confidence of the keypoints above ``kpt_score_thresh``
    (MMPose's ``bbox_keypoint`` mode; 0 when none is above). ``nms_thresh >= 1`` disables NMS.
    """
    if not preds:
        return PoseInstances.empty(skeleton.num_keypoints)
    kpts = np.stack([p.keypoints for p in preds])  # (N, K, 3)
    boxes = np.stack([p.bbox for p in preds])  # (N, 4) x1, y1, x2, y2
    box_scores = np.array([p.box_score for p in preds], dtype=np.float32)
    valid = kpts[:, :, 2] > kpt_score_thresh
    mean_conf = np.where(valid, kpts[:, :, 2], 0).sum(1) / np.maximum(valid.sum(1), 1)
    scores = (box_scores * mean_conf).astype(np.float32)
    if nms_thresh < 1.0 and len(preds) > 1:
        areas = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).astype(np.float32)
        keep = oks_nms(kpts, scores, areas, skeleton.oks_sigmas(), nms_thresh)
        kpts, boxes, scores = kpts[keep], boxes[keep], scores[keep]
    return PoseInstances(
        torch.from_numpy(boxes.astype(np.float32)), Keypoints(torch.from_numpy(kpts)),
        torch.from_numpy(scores),
    )


class TopDown:
    """Multi-person pose from a detector and a single-person heatmap model.

    After each :meth:`__call__`, ``timing`` holds that call's seconds per phase: ``detector``,
    ``preprocess`` (cropping, normalising), ``network`` (forward passes, flip test included) and
    ``decode`` (heatmaps → image pixels, rescoring, NMS).

    Args:
        model: maps (B, 3, H, W) crops to (B, K, h, w) heatmaps of the final stage (a task's
            ``inference_model``); any callable of a tensor works (an onnxruntime runner).
        codec: decodes heatmaps to crop pixels; its input size is the crop size.
        skeleton: keypoint set (flip pairs for flip test, sigmas for OKS NMS).
        detector: person boxes for :meth:`__call__` on raw images.
        flip_test: average with the prediction on the mirrored crop.
        shift_heatmap: MMPose's flipped-heatmap shift (ignored with UDP, where flips are exact).
        kpt_score_thresh: keypoints above it count in the person rescoring.
        nms_thresh: OKS NMS threshold; 1.0 or more disables NMS.
        batch_size: crops per forward pass.
    """

    def __init__(
        self,
        model: nn.Module | Callable[[Tensor], Tensor],
        codec: HeatmapCodec,
        skeleton: Skeleton,
        *,
        detector: Detector | None = None,
        flip_test: bool = True,
        shift_heatmap: bool = True,
        kpt_score_thresh: float = 0.2,
        nms_thresh: float = 0.9,
        batch_size: int = 32,
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.eval() if isinstance(model, nn.Module) else model
        self.codec = codec
        self.skeleton = skeleton
        self.detector = detector
        self.flip_test = flip_test
        self.shift_heatmap = shift_heatmap and not codec.udp
        self.kpt_score_thresh = kpt_score_thresh
        self.nms_thresh = nms_thresh
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.input_size = tuple(codec.input_size)
        self.augment = TopDownAugment(udp=codec.udp)
        self.upper_ids, self.lower_ids = upper_lower_ids(skeleton)
        self.timing: dict[str, float] = {}

    @torch.inference_mode()
    def heatmaps(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) normalised crops → (B, K, h, w) heatmaps (flip-averaged if enabled)."""
        out = self.model(images.to(self.device))
        if self.flip_test:
            flipped = self.model(images.flip(-1).to(self.device))
            out = (out + flip_heatmaps(flipped, self.skeleton.flip_indices, self.shift_heatmap)) / 2
        return out.float().cpu()

    def predict_batch(self, batch: dict[str, Tensor]) -> list[CropPrediction]:
        """Predict a batch from :class:`TopDownDataset` and map it back to image pixels."""
        return self.decode_batch(self.heatmaps(batch["image"]), batch)

    def decode_batch(self, heatmaps: Tensor, batch: dict[str, Tensor]) -> list[CropPrediction]:
        """(B, K, h, w) heatmaps of a batch's crops → crop predictions in image pixels."""
        xy, scores = self.codec.decode(heatmaps)  # (B, K, 2), (B, K)
        xy, scores = xy.numpy(), scores.numpy()
        preds = []
        for i in range(xy.shape[0]):
            img_xy = crop_to_image(
                xy[i], batch["center"][i].numpy(), batch["scale"][i].numpy(),
                float(batch["rotation"][i]), self.input_size, udp=self.codec.udp,
            )
            preds.append(CropPrediction(
                int(batch["image_id"][i]),
                np.concatenate([img_xy, scores[i][:, None]], axis=1).astype(np.float32),
                batch["box"][i].numpy(), float(batch["box_score"][i]),
            ))
        return preds

    def predict_crops(self, dataset: TopDownDataset, *, num_workers: int = 0,
                      indices: Iterable[int] | None = None) -> list[CropPrediction]:
        """Every crop of a dataset (or the given subset of its indices), batched."""
        subset = dataset if indices is None else torch.utils.data.Subset(dataset, list(indices))
        loader = DataLoader(subset, batch_size=self.batch_size, shuffle=False,
                            num_workers=num_workers)
        preds: list[CropPrediction] = []
        for batch in loader:
            preds.extend(self.predict_batch(batch))
        return preds

    def assemble(self, preds: list[CropPrediction]) -> PoseInstances:
        """Rescore and OKS-NMS the crops of ONE image into people."""
        return assemble_people(preds, self.skeleton, self.kpt_score_thresh, self.nms_thresh)

    def to_coco_results(self, preds: list[CropPrediction]) -> list[dict]:
        """Group crops by image, assemble people, and emit COCO results dicts."""
        by_image: dict[int, list[CropPrediction]] = defaultdict(list)
        for p in preds:
            by_image[p.image_id].append(p)
        return [r for image_id in sorted(by_image)
                for r in self.assemble(by_image[image_id]).to_coco(image_id)]

    def __call__(
        self, image: np.ndarray, image_id: int | None = None,
        boxes: list[PersonBox] | None = None,
    ) -> PoseInstances:
        """People in one BGR image, from ``boxes`` or else the pipeline's detector."""
        timing = dict.fromkeys(("detector", "preprocess", "network", "decode"), 0.0)
        self.timing = timing
        start = time.perf_counter()
        if boxes is None:
            if self.detector is None:
                raise ValueError("TopDown needs person boxes: pass boxes= or give it a detector")
            boxes = self.detector(image, image_id)
        timing["detector"] = time.perf_counter() - start
        if not boxes:
            return PoseInstances.empty(self.skeleton.num_keypoints)
        start = time.perf_counter()
        k = self.skeleton.num_keypoints
        crops, metas = [], []
        for box in boxes:
            sample = self.augment(
                image, np.zeros((k, 3), np.float32), np.asarray(box_xywh(box.box), np.float32),
                input_size=self.input_size, flip_indices=self.skeleton.flip_indices,
                upper_ids=self.upper_ids, lower_ids=self.lower_ids,
                rng=np.random.default_rng(0), train=False,
            )
            crops.append(image_to_tensor(sample.image))
            metas.append(sample)
        timing["preprocess"] = time.perf_counter() - start
        preds = []
        for begin in range(0, len(crops), self.batch_size):
            start = time.perf_counter()
            chunk = slice(begin, begin + self.batch_size)
            batch = {
                "image": torch.stack(crops[chunk]),
                "center": torch.tensor(np.stack([m.center for m in metas[chunk]])),
                "scale": torch.tensor(np.stack([m.scale for m in metas[chunk]])),
                "rotation": torch.tensor([float(m.rotation) for m in metas[chunk]]),
                "image_id": torch.full((len(crops[chunk]),), -1 if image_id is None else image_id),
                "box": torch.tensor([b.box for b in boxes[chunk]], dtype=torch.float64),
                "box_score": torch.tensor([b.score for b in boxes[chunk]]),
            }
            middle = time.perf_counter()
            heatmaps = self.heatmaps(batch["image"])
            end = time.perf_counter()
            preds.extend(self.decode_batch(heatmaps, batch))
            timing["preprocess"] += middle - start
            timing["network"] += end - middle
            timing["decode"] += time.perf_counter() - end
        start = time.perf_counter()
        people = self.assemble(preds)
        timing["decode"] += time.perf_counter() - start
        return people
