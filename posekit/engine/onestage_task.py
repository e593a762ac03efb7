"""The one-stage task (RTMO): full images, dynamic assignment, the RTMO losses, its own boxes.

Training items are whole images letterboxed to ``codec.input_size`` with a random affine
(scale, rotation, shift from ``augment``) and horizontal flip; each carries its variable number
of people, so the task has a ``collate_fn``. The loss assigns anchors to people with
`posekit.engine.assign.SimOTAAssigner` and sums, with the weights of MMPose's released RTMO
configs (``onestage`` section, `posekit.config.OneStageConfig`): varifocal classification with
OKS-aware targets OKS^0.5 (1), IoU (5), OKS on the proxy keypoints (30), visibility BCE (1), MLE
on the DCC (1; mean over instances × K) and L1 on the box deltas (1), the sums normalised by
#positives. From ``onestage.stage2_epoch`` on (MMPose: epoch 280 of 600) the second phase
("proxy_target_cc") trains the proxy keypoints towards the DCC's where the DCC is closer to the
GT, takes the classification target from the DCC keypoints' OKS, and reweights MLE 5 / OKS 10.
Evaluation uses no GT boxes: the network is its own detector. ``test.det_score_thresh`` is the
score threshold and ``test.nms_thresh`` the box-NMS IoU threshold (0.1 / 0.65 for RTMO).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset
from posekit.data.transforms import flip_keypoints
from posekit.engine.assign import SimOTAAssigner
from posekit.engine.distributed import predict_whole_images
from posekit.engine.split import ValSplitTask, load_split
from posekit.losses import (
    iou_loss,
    keypoint_oks,
    mle_coordinate_loss,
    oks_loss,
    varifocal_loss,
    visibility_bce_loss,
)
from posekit.models import build_model
from posekit.pipelines.onestage import LETTERBOX_PAD, OneStage
from posekit.skeletons import Skeleton, get_skeleton

__all__ = ["OneStageDataset", "OneStageTask", "collate_onestage"]

LOSS_NAMES = ("cls", "iou", "oks", "vis", "mle", "l1")


class OneStageDataset(Dataset):
    """Whole images → {"image": (3, H, W) raw pixels, "keypoints": (P, K, 3), "boxes": (P, 4)
    xyxy, "areas": (P,)} in input pixels; crowd people and people without keypoints dropped.

    Training adds, in MMPose's order for RTMO: a 2×2 mosaic with probability ``mosaic_prob``
    (YOLOX's: four images fitted into the quadrants around a random centre of a 2W×2H canvas,
    which the letterbox then halves), flip, then a random scale / rotation / shift."""

    def __init__(self, coco: CocoPoseDataset, input_size: tuple[int, int], skeleton: Skeleton, *,
                 train: bool, flip_prob: float = 0.5, scale_range: tuple[float, float] = (0.75,
                                                                                        1.25),
                 rotate_deg: float = 10.0, shift: float = 0.1, mosaic_prob: float = 0.0,
                 seed: int = 0) -> None:
        self.coco = coco
        self.input_size = input_size
        self.skeleton = skeleton
        self.train = train
        self.flip_prob = flip_prob
        self.scale_range = scale_range
        self.rotate_deg = rotate_deg
        self.shift = shift
        self.mosaic_prob = mosaic_prob
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.coco)

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(image, keypoints (P, K, 3), boxes (P, 4) xyxy, areas (P,)) in image pixels."""
        record = self.coco[index]
        image = self.coco.load_image(record)
        people = [p for p in record.people if not p.iscrowd and p.num_keypoints > 0]
        kpts = np.stack([p.keypoints for p in people]).astype(np.float32) if people else \
            np.zeros((0, self.skeleton.num_keypoints, 3), np.float32)
        boxes = np.array([p.bbox for p in people], np.float32).reshape(-1, 4)
        areas = np.array([p.area for p in people], np.float32)
        boxes[:, 2:] += boxes[:, :2]  # xywh → xyxy
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
        if self.train and self.mosaic_prob > 0 and rng.random() < self.mosaic_prob:
            image, kpts, boxes, areas = self._mosaic(index, rng)
        else:
            image, kpts, boxes, areas = self._load(index)
        ih, iw = image.shape[:2]
        if self.train and rng.random() < self.flip_prob:
            image = image[:, ::-1].copy()
            kpts = flip_keypoints(kpts, iw, self.skeleton.flip_indices)
            boxes = np.stack([iw - boxes[:, 2], boxes[:, 1], iw - boxes[:, 0], boxes[:, 3]], 1)
        s = min(w / iw, h / ih)
        m = np.array([[s, 0, 0], [0, s, 0]], np.float64)  # letterbox (top-left)
        if self.train:
            f = rng.uniform(*self.scale_range)
            r = rng.uniform(-self.rotate_deg, self.rotate_deg)
            c = (w / 2, h / 2)
            a = cv2.getRotationMatrix2D(c, r, f)
            a[:, 2] += rng.uniform(-self.shift, self.shift, 2) * (w, h)
            m = a @ np.vstack([m, [0, 0, 1]])
        img = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR,
                             borderValue=(LETTERBOX_PAD,) * 3)
        det = abs(np.linalg.det(m[:, :2]))
        out_k = kpts.copy()
        if len(kpts):
            out_k[..., :2] = kpts[..., :2] @ m[:, :2].T + m[:, 2]
            inside = ((out_k[..., 0] >= 0) & (out_k[..., 0] < w) & (out_k[..., 1] >= 0)
                      & (out_k[..., 1] < h))
            out_k[..., 2] = np.where(inside, out_k[..., 2], 0)
            corners = np.stack([boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]],
                                boxes[:, [2, 3]]], 1) @ m[:, :2].T + m[:, 2]  # (P, 4, 2)
            boxes = np.concatenate([corners.min(1), corners.max(1)], 1)
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
            areas = areas * det
            ok = ((out_k[..., 2] > 0).any(1) & (boxes[:, 2] - boxes[:, 0] > 1)
                  & (boxes[:, 3] - boxes[:, 1] > 1))
            out_k, boxes, areas = out_k[ok], boxes[ok], areas[ok]
        return {"image": torch.from_numpy(img).permute(2, 0, 1).float(),
                "keypoints": torch.from_numpy(out_k).float(),
                "boxes": torch.from_numpy(boxes).float(),
                "areas": torch.from_numpy(np.asarray(areas)).float()}


def collate_onestage(items: list[dict]) -> dict:
    """Stack images; keep per-image people as lists."""
    return {"image": torch.stack([it["image"] for it in items]),
            "keypoints": [it["keypoints"] for it in items],
            "boxes": [it["boxes"] for it in items],
            "areas": [it["areas"] for it in items]}


def _encode_boxes(boxes: Tensor, priors: Tensor) -> Tensor:
    """Inverse of `RTMO.decode_boxes` for paired boxes (M, 4) and priors (M, 3)."""
    s = priors[:, 2:3]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-3)
    return torch.cat(((centre - priors[:, :2]) / s, torch.log(size / s)), dim=1)


class OneStageTask(ValSplitTask):
    """RTMO-style one-stage models: people from whole images, no boxes needed."""

    paradigm = "onestage"
    needs_detector = False

    def __init__(self, cfg: ExperimentConfig) -> None:
        self.cfg = cfg
        self.skeleton = get_skeleton(cfg.data.skeleton)
        if cfg.codec.kind != "dcc":
            raise ValueError(f"codec.kind {cfg.codec.kind!r}: the one-stage task needs 'dcc'")
        if self.skeleton.sigmas is None:
            raise ValueError(f"skeleton {self.skeleton.name} has no OKS sigmas (needed by the "
                             "one-stage losses and assignment)")
        self.sigmas = torch.tensor(self.skeleton.sigmas, dtype=torch.float32)
        self.assigner = SimOTAAssigner(self.sigmas)
        self.collate_fn = collate_onestage
        o = cfg.onestage
        for name, weights in (("loss_weights", o.loss_weights),
                              ("stage2_loss_weights", o.stage2_loss_weights)):
            unknown = set(weights) - set(LOSS_NAMES)
            if unknown:
                raise ValueError(f"onestage.{name}: unknown loss {sorted(unknown)}; "
                                 f"known: {', '.join(LOSS_NAMES)}")
        missing = set(LOSS_NAMES) - set(o.loss_weights)
        if missing:
            raise ValueError(f"onestage.loss_weights: missing {sorted(missing)}")
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Select the loss phase: the second (proxy_target_cc) from ``onestage.stage2_epoch``."""
        o = self.cfg.onestage
        self.stage2 = 0 <= o.stage2_epoch <= epoch
        self.loss_weights = {**o.loss_weights, **(o.stage2_loss_weights if self.stage2 else {})}

    def build_model(self) -> nn.Module:
        return build_model(self.cfg.model.name, num_keypoints=self.skeleton.num_keypoints,
                           **self.cfg.model.kwargs)

    def train_dataset(self) -> Dataset:
        a = self.cfg.augment
        lo, hi = a.scale_range
        return OneStageDataset(load_split(self.cfg, "train"), tuple(self.cfg.codec.input_size),
                               self.skeleton, train=True, flip_prob=a.flip_prob,
                               scale_range=(lo, hi), rotate_deg=a.rotate_factor,
                               shift=a.shift_factor, mosaic_prob=a.mosaic_prob,
                               seed=self.cfg.train.seed)

    def loss(self, model: nn.Module, batch: dict, device: torch.device) -> dict[str, Tensor]:
        images = batch["image"].to(device, non_blocking=True)
        out = model(images)
        priors = out.priors
        boxes = model.decode_boxes(out.box_deltas, priors)  # (B, N, 4)
        proxy = model.decode_kpt_offsets(out.kpt_offsets, priors)  # (B, N, K, 2)
        scores = out.cls_logits.sigmoid()
        sigmas = self.sigmas.to(device)
        cls_targets = torch.zeros_like(out.cls_logits)
        pos_b, pos_n, gt_k, gt_b, gt_a = [], [], [], [], []
        for b in range(images.shape[0]):
            gk = batch["keypoints"][b].to(device)
            gb = batch["boxes"][b].to(device)
            ga = batch["areas"][b].to(device)
            assigned = self.assigner.assign(priors, scores[b].detach(), boxes[b].detach(),
                                            proxy[b].detach(), gb, gk, ga)
            pos = (assigned >= 0).nonzero().squeeze(1)
            pos_b.append(torch.full_like(pos, b))
            pos_n.append(pos)
            gt_k.append(gk[assigned[pos]])
            gt_b.append(gb[assigned[pos]])
            gt_a.append(ga[assigned[pos]])
        pb, pn = torch.cat(pos_b), torch.cat(pos_n)
        tk, tb, ta = torch.cat(gt_k), torch.cat(gt_b), torch.cat(gt_a)
        num_pos = max(int(pn.numel()), 1)
        weight = (tk[..., 2] > 0).float()
        p_kpts = proxy[pb, pn]
        pos_boxes = boxes[pb, pn]
        losses = {
            "iou": iou_loss(pos_boxes, tb) / num_pos,
            "vis": visibility_bce_loss(out.vis_logits[pb, pn], weight),
            "l1": (out.box_deltas[pb, pn] - _encode_boxes(tb, priors[pn])).abs().sum() / num_pos,
        }
        if pn.numel():
            # The DCC on the predicted (not detached) boxes, as MMPose: MLE also trains the box.
            dcc = model.dcc(out.pose_vecs[pb, pn], pos_boxes, priors[pn, :2])
            losses["mle"] = mle_coordinate_loss(dcc.prob_x, dcc.prob_y, dcc.bins_x, dcc.bins_y,
                                                dcc.sigmas, tk[..., :2], weight, ta)
        else:
            dcc = None
            losses["mle"] = out.pose_vecs.sum() * 0
        if self.stage2 and dcc is not None:
            # proxy_target_cc: proxies regress the DCC keypoints where those are closer to the GT,
            # and the classification target is the OKS of the DCC keypoints.
            cc = dcc.keypoints.detach()
            closer = ((p_kpts.detach() - tk[..., :2]).norm(dim=-1)
                      > (cc - tk[..., :2]).norm(dim=-1)).float()
            losses["oks"] = oks_loss(p_kpts, cc, weight * closer, ta, sigmas) / num_pos
            oks = keypoint_oks(cc, tk[..., :2], weight, ta, sigmas)
        else:
            losses["oks"] = oks_loss(p_kpts, tk[..., :2], weight, ta, sigmas) / num_pos
            oks = keypoint_oks(p_kpts.detach(), tk[..., :2], weight, ta, sigmas)
        # OKS-aware classification target OKS^power (MMPose's overlaps_power 0.5).
        power = self.cfg.onestage.overlaps_power
        cls_targets[pb, pn] = oks.clamp(min=1e-3).pow(power)
        losses["cls"] = varifocal_loss(out.cls_logits, cls_targets) / num_pos
        total = sum(self.loss_weights[k] * v for k, v in losses.items())
        result = {"loss": total}
        result.update({f"loss_{k}": v.detach() for k, v in losses.items()})
        return result

    def inference_model(self, model: nn.Module) -> nn.Module:
        """(B, 3, H, W) raw-pixel letterboxed images → dense (scores, boxes, keypoints, keypoint
        scores) in input pixels (`posekit.models.rtmo.RTMOInference`, eval mode)."""
        from posekit.models.rtmo import RTMOInference

        return RTMOInference(model).eval()

    def example_input(self, batch: int = 1) -> Tensor:
        w, h = self.cfg.codec.input_size
        g = torch.Generator().manual_seed(0)
        return torch.rand(batch, 3, h, w, generator=g) * 255

    def pipeline(self, model: nn.Module | Callable[[Tensor], tuple[Tensor, ...]],
                 device: torch.device | str = "cpu", flip_test: bool | None = None,
                 detector: Callable | None = None) -> OneStage:
        """The one-stage pipeline around an RTMO module (wrapped in `inference_model`) or a
        callable with its outputs (an onnxruntime runner). ``flip_test`` is not supported."""
        if flip_test:
            raise ValueError("the one-stage pipeline has no flip test")
        network = self.inference_model(model) if isinstance(model, nn.Module) and hasattr(
            model, "dcc") else model
        t = self.cfg.test
        return OneStage(network, tuple(self.cfg.codec.input_size),
                        score_thresh=t.det_score_thresh, nms_thresh=t.nms_thresh, device=device)

    def predict(self, model: nn.Module, coco: CocoPoseDataset, device: torch.device | str = "cpu",
                *, detections: str | None = None, flip_test: bool | None = None,
                max_images: int = 0) -> list[dict]:
        """COCO results of the first ``max_images`` images (all when 0); no boxes are used."""
        if detections:
            raise ValueError("a one-stage model finds its own people; detections= is not used")
        return predict_whole_images(self.pipeline(model, device), coco, max_images)
