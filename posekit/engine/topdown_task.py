"""The top-down task: single-person heatmap models on person crops (SimpleBaseline, CPM,
Hourglass, CPN, ViTPose).

Training crops the annotated people (`posekit.data.topdown.TopDownDataset`) and regresses
heatmaps encoded by the codec; evaluation crops the boxes of a detector (ground truth unless one
is given) and assembles each image's people (`posekit.pipelines.topdown.TopDown`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from posekit.codecs.heatmap import HeatmapCodec
from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset
from posekit.data.topdown import TopDownDataset
from posekit.data.transforms import TopDownAugment
from posekit.engine.checkpoint import load_init_checkpoint
from posekit.engine.distributed import all_gather_objects, get_rank, get_world_size
from posekit.engine.split import load_split
from posekit.engine.task import Task
from posekit.losses import KeypointMSELoss, MultiStageLoss, OHKMLoss
from posekit.models import build_model
from posekit.models.stages import LastStage
from posekit.pipelines.detectors import Detector, GroundTruthBoxes, person_boxes
from posekit.pipelines.topdown import TopDown
from posekit.skeletons import get_skeleton

__all__ = ["TopDownTask"]


class TopDownTask(Task):
    """Single-person heatmap models on person crops (SimpleBaseline, CPM, Hourglass, CPN,
    ViTPose)."""

    paradigm = "topdown"
    needs_detector = True  # pipeline(..., detector=) takes the source of the person boxes

    def __init__(self, cfg: ExperimentConfig) -> None:
        self.cfg = cfg
        self.skeleton = get_skeleton(cfg.data.skeleton)
        c = cfg.codec
        if c.kind != "heatmap":
            raise ValueError(f"codec.kind {c.kind!r} is not a top-down heatmap codec")
        self.codec = HeatmapCodec(
            tuple(c.input_size), tuple(c.heatmap_size), c.sigma, refine=c.refine, udp=c.udp,
            unbiased_encoding=c.unbiased_encoding, background=c.background,
        )
        base = {"mse": KeypointMSELoss(use_target_weight=True),
                "ohkm": OHKMLoss(topk=cfg.model.ohkm_topk, use_target_weight=True)}
        if cfg.model.loss not in base:
            raise ValueError(f"model.loss must be one of {sorted(base)}, got {cfg.model.loss!r}")
        self.loss_fn = MultiStageLoss(base[cfg.model.loss],
                                      weights=cfg.model.stage_weights or None)
        # CPN's GlobalNet: one codec per extra output level, its own σ, plain L2 (talk §9–11)
        self.level_codecs = [
            HeatmapCodec(tuple(c.input_size), tuple(c.heatmap_size), s, refine=c.refine,
                         udp=c.udp, unbiased_encoding=c.unbiased_encoding)
            for s in c.level_sigmas
        ]
        self.level_loss = KeypointMSELoss(use_target_weight=False)

    def build_model(self) -> nn.Module:
        model = build_model(
            self.cfg.model.name, num_keypoints=self.skeleton.num_keypoints, **self.cfg.model.kwargs
        )
        if self.cfg.model.init_checkpoint:
            load_init_checkpoint(model, self.cfg.model.init_checkpoint)
        return model

    def augment(self) -> TopDownAugment:
        a = self.cfg.augment
        return TopDownAugment(
            flip_prob=a.flip_prob, half_body_prob=a.half_body_prob,
            scale_range=tuple(a.scale_range),
            rotate_factor=a.rotate_factor, rotate_prob=a.rotate_prob, shift_factor=a.shift_factor,
            color_jitter=a.color_jitter, udp=self.cfg.codec.udp,
        )

    def train_dataset(self) -> TopDownDataset:
        return TopDownDataset(
            load_split(self.cfg, "train"), tuple(self.cfg.codec.input_size), self.augment(),
            train=True, seed=self.cfg.train.seed, min_keypoints=self.cfg.data.min_keypoints,
        )

    def loss(
        self, model: nn.Module, batch: dict[str, Tensor], device: torch.device
    ) -> dict[str, Tensor]:
        """Heatmap loss of one batch; the codec encodes targets from crop-space keypoints."""
        keypoints = batch["keypoints"][:, None]  # (B, 1 person, K, 3)
        targets = self.codec.encode(keypoints)
        output = model(batch["image"].to(device, non_blocking=True))
        if not self.level_codecs:
            loss = self.loss_fn(output, targets.heatmaps.to(device), targets.weights.to(device))
            return {"loss": loss}
        outputs = list(output) if isinstance(output, list | tuple) else [output]
        if len(outputs) != len(self.level_codecs) + 1:
            raise ValueError(
                f"codec.level_sigmas has {len(self.level_codecs)} entries but the model returns "
                f"{len(outputs)} outputs (need one more than level_sigmas: the last uses sigma)"
            )
        # CPN's GlobalNet loss as the authors' tf-cpn: targets zeroed unless v = 2 and in the crop
        # (every map trained, so occluded points are pushed to an empty map), Σ_levels / (2·levels)
        visible = (keypoints[..., 2] >= 2).to(keypoints.dtype)  # (B, 1, K)
        level = outputs[0].new_zeros(())
        for codec, out in zip(self.level_codecs, outputs[:-1], strict=True):
            t = codec.encode(keypoints)
            keep = (t.weights * visible[:, 0])[:, :, None, None]  # (B, K, 1, 1)
            level = level + self.level_loss(out, (t.heatmaps * keep).to(device))
        level = level / (2 * len(self.level_codecs))
        final = self.loss_fn(outputs[-1], targets.heatmaps.to(device), targets.weights.to(device))
        return {"loss": level + final, "loss_levels": level.detach(),
                "loss_final": final.detach()}

    def check_model(self, model: nn.Module) -> None:
        """The model's heatmaps must have codec.heatmap_size: one forward of the example input
        names the config fields (an input size the backbone's stride does not divide) before a
        run folder is written, instead of a loss shape error at the first batch."""
        device = next(model.parameters()).device
        was_training = model.training
        with torch.no_grad():
            heatmaps = self.inference_model(model)(self.example_input(1).to(device))
        model.train(was_training)
        w, h = self.cfg.codec.heatmap_size
        if tuple(heatmaps.shape[-2:]) != (h, w):
            raise ValueError(
                f"{self.cfg.model.name} outputs {heatmaps.shape[-2]}x{heatmaps.shape[-1]} (h x w) "
                f"heatmaps for codec.input_size {list(self.cfg.codec.input_size)} (w, h), but "
                f"codec.heatmap_size is {list(self.cfg.codec.heatmap_size)} (w, h): set it to "
                f"match, or use an input size the model's stride divides"
            )

    def inference_model(self, model: nn.Module) -> nn.Module:
        """What export and the pipeline run: (B, 3, H, W) normalised crops → (B, K, h, w)
        heatmaps of the last stage (eval mode)."""
        return LastStage(model).eval()

    def example_input(self, batch: int = 1) -> Tensor:
        """A (batch, 3, H, W) normalised-crop-shaped input (seeded noise) for export and bench."""
        w, h = self.cfg.codec.input_size
        return torch.randn(batch, 3, h, w, generator=torch.Generator().manual_seed(0))

    def pipeline(self, network: Callable[[Tensor], Tensor],
                 device: torch.device | str = "cpu", flip_test: bool | None = None,
                 detector: Detector | None = None) -> TopDown:
        """The inference pipeline around ``network``, crops → final heatmaps: the
        :meth:`inference_model` of a model or an onnxruntime runner of its export."""
        t = self.cfg.test
        return TopDown(
            network, self.codec, self.skeleton, detector=detector,
            flip_test=t.flip_test if flip_test is None else flip_test,
            shift_heatmap=t.shift_heatmap, kpt_score_thresh=t.kpt_score_thresh,
            nms_thresh=t.nms_thresh, batch_size=self.cfg.data.val_batch_size, device=device,
        )

    def predict(
        self, model: nn.Module, coco: CocoPoseDataset, device: torch.device | str = "cpu", *,
        detector: Detector | None = None, flip_test: bool | None = None,
        max_images: int = 0,
    ) -> list[dict]:
        """COCO results for a dataset (its first ``max_images`` images when > 0) on the boxes of
        ``detector`` (default: ground truth); crops are sharded over DDP ranks and gathered on
        all."""
        boxes = person_boxes(coco, detector if detector is not None else GroundTruthBoxes(coco))
        if max_images > 0:
            boxes = [b for b in boxes if b.record_index < max_images]
        dataset = TopDownDataset(coco, tuple(self.cfg.codec.input_size), self.augment(),
                                 train=False, boxes=boxes)
        pipe = self.pipeline(self.inference_model(model), device, flip_test)
        mine = range(get_rank(), len(dataset), get_world_size())
        preds = pipe.predict_crops(dataset, num_workers=self.cfg.data.workers, indices=mine)
        gathered = [p for part in all_gather_objects(preds) for p in part]
        return pipe.to_coco_results(gathered)
