"""The one-stage task (RTMO): full images, dynamic assignment, the RTMO losses, its own boxes.

Training items are whole images fitted into ``codec.input_size`` (centred, as at inference;
``onestage.fit``) with a random affine (scale, rotation, shift from ``augment``) and horizontal
flip; each carries its variable number of people, so the task has a ``collate_fn``. The loss is
`posekit.models.rtmo_criterion`'s `RTMOCriterion` (SimOTA assignment, the weighted loss sum and
its two phases), configured by the ``onestage`` section (`posekit.config.OneStageConfig`).
Evaluation uses no GT boxes: the network is its own detector. ``test.det_score_thresh`` is the
score threshold and ``test.nms_thresh`` the box-NMS IoU threshold (0.1 / 0.65 for RTMO).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from pycocotools import mask as coco_mask
from torch import Tensor, nn
from torch.utils.data import Dataset

from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset
from posekit.data.transforms import WholeImageAffine, apply_affine, flip_keypoints, warp_image
from posekit.engine.checkpoint import load_init_checkpoint
from posekit.engine.distributed import predict_whole_images
from posekit.engine.split import load_split
from posekit.engine.task import Task
from posekit.models import build_model
from posekit.models.rtmo import RTMOInference
from posekit.models.rtmo_criterion import RTMOCriterion
from posekit.pipelines.detectors import Detector
from posekit.pipelines.onestage import LETTERBOX_PAD, OneStage
from posekit.skeletons import Skeleton, get_skeleton

__all__ = ["OneStageDataset", "OneStageTask", "collate_onestage"]

class OneStageDataset(Dataset):
    """Whole images → {"image": (3, H, W) raw pixels, "keypoints": (P, K, 3), "boxes": (P, 4)
    xyxy, "areas": (P,), "invalid": (H, W) mask of the unlabelled people} in input pixels; crowd
    people and people without keypoints are not trained on, only masked.

    Training adds, in MMPose's order for RTMO: a 2×2 mosaic with probability ``mosaic_prob``
    (YOLOX's: four images fitted into the quadrants around a random centre of a 2W×2H canvas), a
    random scale / rotation / shift (of a W×H window of the mosaic, as MMPose's RTMO), then flip."""

    def __init__(self, coco: CocoPoseDataset, input_size: tuple[int, int], skeleton: Skeleton, *,
                 train: bool, flip_prob: float = 0.5, scale_range: tuple[float, float] = (0.75,
                                                                                        1.25),
                 rotate_deg: float = 10.0, shift: float = 0.1, mosaic_prob: float = 0.0,
                 seed: int = 0, align: str = "top_left") -> None:
        self.coco = coco
        self.input_size = input_size
        self.skeleton = skeleton
        self.train = train
        self.flip_prob = flip_prob
        self.affine = WholeImageAffine(input_size, scale_range=scale_range, rotate_deg=rotate_deg,
                                       rotation="uniform", shift=shift, align=align)
        self.mosaic_prob = mosaic_prob
        self.seed = seed
        self.epoch = 0
        self.segmentation = {a["id"]: a.get("segmentation") for a in coco.gt_dict["annotations"]}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.coco)

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(image, keypoints (P, K, 3), boxes (P, 4) xyxy, areas (P,)) in image pixels; boxes
        clipped to the pixel centres [0, W − 1] × [0, H − 1], as MMPose's COCO datasets do."""
        record = self.coco[index]
        image = self.coco.load_image(record)
        people = [p for p in record.people if not p.iscrowd and p.num_keypoints > 0]
        kpts = np.stack([p.keypoints for p in people]).astype(np.float32) if people else \
            np.zeros((0, self.skeleton.num_keypoints, 3), np.float32)
        boxes = np.array([p.bbox for p in people], np.float32).reshape(-1, 4)
        areas = np.array([p.area for p in people], np.float32)
        boxes[:, 2:] += boxes[:, :2]  # xywh → xyxy
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, image.shape[1] - 1)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, image.shape[0] - 1)
        return image, kpts, boxes, areas

    def _mosaic(self, index: int, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Image ``index`` and three random others, each fitted into W×H, meeting at a centre
        drawn uniformly in [W/2, 3W/2] × [H/2, 3H/2] of a 2W×2H canvas (YOLOX's Mosaic)."""
        w, h = self.input_size
        cx, cy = rng.uniform(0.5 * w, 1.5 * w), rng.uniform(0.5 * h, 1.5 * h)
        canvas = np.full((2 * h, 2 * w, 3), LETTERBOX_PAD, np.uint8)
        indices = [index, *rng.integers(0, len(self), 3).tolist()]
        all_k, all_b, all_a = [], [], []
        for quadrant, i in enumerate(indices):
            image, kpts, boxes, areas = self._load(i)
            s = min(w / image.shape[1], h / image.shape[0])
            iw, ih = round(image.shape[1] * s), round(image.shape[0] * s)
            image = cv2.resize(image, (iw, ih), interpolation=cv2.INTER_LINEAR)
            # the quadrant's corner at the centre: top-left, top-right, bottom-left, bottom-right
            x0 = int(cx) - iw if quadrant in (0, 2) else int(cx)
            y0 = int(cy) - ih if quadrant in (0, 1) else int(cy)
            x1, y1 = max(x0, 0), max(y0, 0)
            x2, y2 = min(x0 + iw, 2 * w), min(y0 + ih, 2 * h)
            canvas[y1:y2, x1:x2] = image[y1 - y0:y2 - y0, x1 - x0:x2 - x0]
            kpts[..., :2] = kpts[..., :2] * s + (x0, y0)  # _load's arrays are fresh
            inside = ((kpts[..., 0] >= x1) & (kpts[..., 0] < x2) & (kpts[..., 1] >= y1)
                      & (kpts[..., 1] < y2))
            kpts[..., 2] = np.where(inside, kpts[..., 2], 0)
            boxes = boxes * s + (x0, y0, x0, y0)
            boxes[:, 0::2] = boxes[:, 0::2].clip(x1, x2)
            boxes[:, 1::2] = boxes[:, 1::2].clip(y1, y2)
            all_k.append(kpts)
            all_b.append(boxes)
            all_a.append(areas * s * s)
        return canvas, np.concatenate(all_k), np.concatenate(all_b), np.concatenate(all_a)

    def __getitem__(self, index: int) -> dict:
        w, h = self.input_size
        rng = np.random.default_rng((self.seed, self.epoch, index))
        mosaic = self.train and self.mosaic_prob > 0 and rng.random() < self.mosaic_prob
        if mosaic:
            image, kpts, boxes, areas = self._mosaic(index, rng)
            invalid = np.zeros(image.shape[:2], np.float32)  # not tracked through the mosaic
        else:
            image, kpts, boxes, areas = self._load(index)
            invalid = self._unlabelled_mask(index, image.shape[:2])
        ih, iw = image.shape[:2]
        flip = self.train and rng.random() < self.flip_prob
        if flip and not mosaic:
            image = image[:, ::-1].copy()
            invalid = invalid[:, ::-1].copy()
            kpts = flip_keypoints(kpts, iw, self.skeleton.flip_indices)
            boxes = np.stack([iw - boxes[:, 2], boxes[:, 1], iw - boxes[:, 0], boxes[:, 3]], 1)
        # MMPose's RTMO warps the 2W×2H mosaic at scale 1 about canvas point (W/2, H/2) (its
        # perspective BottomupRandomAffine centres on the input size), so the input shows a
        # W×H window of the canvas, not the whole canvas halved; it flips after that warp.
        m = self.affine.matrix((w, h) if mosaic else (iw, ih), rng if self.train else None)
        img = warp_image(image, m, (w, h), border_value=LETTERBOX_PAD)
        # binarised after the bilinear warp, as MMPose's BottomupGetHeatmapMask (> 0.5)
        invalid = (warp_image(invalid, m, (w, h)) > 0.5).astype(np.float32)
        det = abs(np.linalg.det(m[:, :2]))
        out_k = kpts.copy()
        if len(kpts):
            out_k[..., :2] = apply_affine(kpts[..., :2], m)
            inside = ((out_k[..., 0] >= 0) & (out_k[..., 0] < w) & (out_k[..., 1] >= 0)
                      & (out_k[..., 1] < h))
            out_k[..., 2] = np.where(inside, out_k[..., 2], 0)
            corners = apply_affine(np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]],
                                             boxes[:, [2, 3]]], 1), m)  # (P, 4, 2)
            boxes = np.concatenate([corners.min(1), corners.max(1)], 1)
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
            areas = areas * det
            ok = ((out_k[..., 2] > 0).any(1) & (boxes[:, 2] - boxes[:, 0] > 1)
                  & (boxes[:, 3] - boxes[:, 1] > 1))
            out_k, boxes, areas = out_k[ok], boxes[ok], areas[ok]
        if flip and mosaic:
            img = img[:, ::-1].copy()
            out_k = flip_keypoints(out_k, w, self.skeleton.flip_indices)
            boxes = np.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
        return {"image": torch.from_numpy(img).permute(2, 0, 1).float(),
                "keypoints": torch.from_numpy(out_k).float(),
                "boxes": torch.from_numpy(boxes).float(),
                "areas": torch.from_numpy(np.asarray(areas)).float(),
                "invalid": torch.from_numpy(invalid)}

    def _unlabelled_mask(self, index: int, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) float32 1 on the polygons of the image's unlabelled people (crowds, people
        without keypoints), as MMPose's BottomupGetHeatmapMask(get_invalid=True): run-length
        (crowd) segmentations are not drawn, as there."""
        polygons = [self.segmentation.get(p.id) for p in self.coco[index].people
                    if p.iscrowd or p.num_keypoints == 0]
        rles = []
        for seg in polygons:
            if isinstance(seg, list | tuple) and seg:
                rle = coco_mask.frPyObjects(seg, shape[0], shape[1])
                rles.extend(rle if isinstance(rle, list) else [rle])
        if not rles:
            return np.zeros(shape, np.float32)
        return coco_mask.decode(coco_mask.merge(rles)).astype(np.float32)


def collate_onestage(items: list[dict]) -> dict:
    """Stack images and unlabelled-people masks; keep per-image people as lists."""
    return {"image": torch.stack([it["image"] for it in items]),
            "invalid": torch.stack([it["invalid"] for it in items]),
            "keypoints": [it["keypoints"] for it in items],
            "boxes": [it["boxes"] for it in items],
            "areas": [it["areas"] for it in items]}


class OneStageTask(Task):
    """RTMO-style one-stage models: people from whole images, no boxes needed."""

    paradigm = "onestage"
    needs_detector = False  # the network is its own detector

    def __init__(self, cfg: ExperimentConfig) -> None:
        self.cfg = cfg
        self.skeleton = get_skeleton(cfg.data.skeleton)
        if cfg.codec.kind != "dcc":
            raise ValueError(f"codec.kind {cfg.codec.kind!r}: the one-stage task needs 'dcc'")
        if self.skeleton.sigmas is None:
            raise ValueError(f"skeleton {self.skeleton.name} has no OKS sigmas (needed by the "
                             "one-stage losses and assignment)")
        o = cfg.onestage
        self.criterion = RTMOCriterion(
            torch.tensor(self.skeleton.sigmas, dtype=torch.float32),
            loss_weights=o.loss_weights, stage2_loss_weights=o.stage2_loss_weights,
            stage2_epoch=o.stage2_epoch, overlaps_power=o.overlaps_power,
            stage2_overlaps_power=o.stage2_overlaps_power,
            keypoints_for_center=o.keypoints_for_center,
            aux_epoch=o.aux_epoch)

    def collate_fn(self, items: list[dict]) -> dict:
        """Images stacked, people kept per image (`collate_onestage`)."""
        return collate_onestage(items)

    def set_epoch(self, epoch: int) -> None:
        """Select the loss phase: the second (proxy_target_cc) from ``onestage.stage2_epoch``."""
        self.criterion.set_epoch(epoch)

    def build_model(self) -> nn.Module:
        model = build_model(self.cfg.model.name, num_keypoints=self.skeleton.num_keypoints,
                            **self.cfg.model.kwargs)
        if self.cfg.model.init_checkpoint:
            load_init_checkpoint(model, self.cfg.model.init_checkpoint)
        return model

    def train_dataset(self) -> Dataset:
        a = self.cfg.augment
        lo, hi = a.scale_range
        return OneStageDataset(load_split(self.cfg, "train"), tuple(self.cfg.codec.input_size),
                               self.skeleton, train=a.enabled, flip_prob=a.flip_prob,
                               scale_range=(lo, hi), rotate_deg=a.rotate_factor,
                               shift=a.shift_factor, mosaic_prob=a.mosaic_prob,
                               seed=self.cfg.train.seed, align=self._align())

    def _align(self) -> str:
        """`WholeImageAffine`'s align for ``onestage.fit``."""
        fits = {"letterbox": "top_left", "mmpose": "mmpose"}
        if self.cfg.onestage.fit not in fits:
            raise ValueError(f"onestage.fit must be letterbox or mmpose, got "
                             f"{self.cfg.onestage.fit!r}")
        return fits[self.cfg.onestage.fit]

    def loss(self, model: nn.Module, batch: dict, device: torch.device) -> dict[str, Tensor]:
        out = model(batch["image"].to(device, non_blocking=True))
        return self.criterion(model, out, [k.to(device) for k in batch["keypoints"]],
                              [b.to(device) for b in batch["boxes"]],
                              [a.to(device) for a in batch["areas"]],
                              batch["invalid"].to(device) if "invalid" in batch else None)

    def inference_model(self, model: nn.Module) -> nn.Module:
        """(B, 3, H, W) raw-pixel images → the candidates above ``test.det_score_thresh`` with
        their DCC keypoints, in input pixels (`posekit.models.rtmo.RTMOInference`, eval mode)."""
        return RTMOInference(model, self.cfg.test.det_score_thresh).eval()

    def example_input(self, batch: int = 1) -> Tensor:
        w, h = self.cfg.codec.input_size
        g = torch.Generator().manual_seed(0)
        return torch.rand(batch, 3, h, w, generator=g) * 255

    def pipeline(self, network: Callable[[Tensor], tuple[Tensor, ...]],
                 device: torch.device | str = "cpu", flip_test: bool | None = None,
                 detector: Detector | None = None) -> OneStage:
        """The one-stage pipeline around ``network``: the :meth:`inference_model` of an RTMO
        model or an onnxruntime runner of its export. ``flip_test`` is not supported and
        ``detector`` is not used."""
        if flip_test:
            raise ValueError("the one-stage pipeline has no flip test")
        t = self.cfg.test
        return OneStage(network, tuple(self.cfg.codec.input_size),
                        score_thresh=t.det_score_thresh, nms_thresh=t.nms_thresh, device=device)

    def predict(self, model: nn.Module, coco: CocoPoseDataset, device: torch.device | str = "cpu",
                *, detector: Detector | None = None, flip_test: bool | None = None,
                max_images: int = 0) -> list[dict]:
        """COCO results of the first ``max_images`` images (all when 0); no boxes are used."""
        if detector is not None:
            raise ValueError("a one-stage model finds its own people; detector= is not used")
        pipe = self.pipeline(self.inference_model(model), device)
        return predict_whole_images(pipe, coco, max_images)
