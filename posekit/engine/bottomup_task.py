"""The bottom-up paradigm for the engine: OpenPose on full images (talk §14–§21).

:class:`BottomUpDataset` yields whole images (augmented by scale, rotation and flip) with their
targets from :class:`posekit.codecs.paf.PafCodec`: OpenPose-18 confidence maps (+ background), PAFs
in CMU's channel order and the loss mask W (0 over crowd regions and people without keypoints).
Flipping mirrors the keypoints and swaps left/right parts, so the PAF targets, drawn from the
flipped people, swap their limbs too. :class:`BottomUpTask` is the ``TASKS["bottomup"]`` entry.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from posekit.codecs.paf import PafCodec
from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset
from posekit.data.topdown import image_to_tensor
from posekit.data.transforms import WholeImageAffine, apply_affine, warp_image
from posekit.engine.distributed import predict_whole_images
from posekit.engine.split import load_split
from posekit.engine.task import Task
from posekit.grouping import GroupingConfig
from posekit.losses import masked_l2_loss
from posekit.models import build_model
from posekit.models.stages import LastStage
from posekit.pipelines.bottomup import BottomUp
from posekit.pipelines.detectors import Detector
from posekit.skeletons import COCO17, OPENPOSE18, convert_keypoints

__all__ = ["BottomUpDataset", "BottomUpTask"]


class BottomUpDataset(Dataset):
    """Full images resized (and augmented) to ``input_size`` = (w, h) with OpenPose targets."""

    def __init__(
        self, coco: CocoPoseDataset, input_size: tuple[int, int], codec: PafCodec, *,
        train: bool = True, scale_range: tuple[float, float] = (0.75, 1.25),
        rotate_factor: float = 30.0, flip_prob: float = 0.5, seed: int = 0,
    ) -> None:
        self.coco = coco
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.codec = codec
        self.train = train
        self.affine = WholeImageAffine(self.input_size, scale_range=scale_range,
                                       rotate_deg=rotate_factor, rotation="normal")
        self.flip_prob = flip_prob
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.coco)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        record = self.coco.records[index]
        image = self.coco.load_image(record)
        people = [p for p in record.people if not p.iscrowd and p.num_keypoints > 0]
        ignore_boxes = [p.bbox for p in record.people if p.iscrowd or p.num_keypoints == 0]
        kpts = (np.stack([p.keypoints for p in people]).astype(np.float64) if people
                else np.zeros((0, 17, 3)))
        if kpts.shape[1] != 17:
            raise ValueError(f"{record.file_name}: bottom-up training reads COCO-17 keypoints, "
                             f"got {kpts.shape[1]} per person")
        rng = np.random.default_rng((self.seed, self.epoch, index))
        h, w = image.shape[:2]
        ow, oh = self.input_size
        mat = self.affine.matrix((w, h), rng if self.train else None)
        flip = self.train and rng.random() < self.flip_prob
        if flip:  # x → (ow − 1) − x after the affine map
            mat = np.array([[-1, 0, ow - 1], [0, 1, 0]], np.float64) @ np.vstack([mat, [0, 0, 1]])
        warped = warp_image(image, mat, (ow, oh), border_value=128)
        ignore = np.zeros((h, w), np.uint8)
        for x, y, bw, bh in ignore_boxes:
            ignore[int(y):int(np.ceil(y + bh)), int(x):int(np.ceil(x + bw))] = 1
        ignore = cv2.warpAffine(ignore, mat, (ow, oh), flags=cv2.INTER_NEAREST) > 0
        if len(kpts):
            kpts = np.concatenate([apply_affine(kpts[..., :2], mat), kpts[..., 2:]], axis=-1)
            if flip:
                kpts = kpts[:, COCO17.flip_indices]
        op18 = convert_keypoints(kpts.astype(np.float32), COCO17, OPENPOSE18)
        targets = self.codec.encode(op18, ignore)
        return {
            "image": image_to_tensor(warped),
            "heatmaps": torch.from_numpy(targets.heatmaps),
            "pafs": torch.from_numpy(targets.pafs),
            "mask": torch.from_numpy(targets.mask),
        }


class BottomUpTask(Task):
    """OpenPose (confidence maps + PAFs) trained on full images; people in COCO-17."""

    paradigm = "bottomup"
    needs_detector = False  # one pass finds every person; fixed-size targets: default collate
    MAX_PEAKS = 64  # per part: caps grouping cost on an untrained model's noisy maps

    def __init__(self, cfg: ExperimentConfig) -> None:
        self.cfg = cfg
        self.skeleton = COCO17
        c = cfg.codec
        if c.kind != "paf":
            raise ValueError(f"codec.kind must be 'paf' for model.task bottomup, got {c.kind!r}")
        if cfg.data.skeleton not in ("coco17", "coco"):
            raise ValueError(f"data.skeleton must be coco17 for bottom-up, got "
                             f"{cfg.data.skeleton!r}")
        iw, ih = c.input_size
        hw, hh = c.heatmap_size
        if iw % hw or ih % hh or iw // hw != ih // hh:
            raise ValueError(f"codec.input_size {c.input_size} must be one stride times "
                             f"codec.heatmap_size {c.heatmap_size}")
        self.stride = iw // hw
        self.codec = PafCodec((hw, hh), stride=self.stride, sigma=c.sigma,
                              limb_width=c.limb_width, skeleton=OPENPOSE18, background=True)

    def build_model(self) -> nn.Module:
        return build_model(self.cfg.model.name, **self.cfg.model.kwargs)

    def train_dataset(self) -> Dataset:
        a = self.cfg.augment
        return BottomUpDataset(
            load_split(self.cfg, "train"), tuple(self.cfg.codec.input_size), self.codec,
            train=True, scale_range=tuple(a.scale_range), rotate_factor=a.rotate_factor,
            flip_prob=a.flip_prob, seed=self.cfg.train.seed,
        )

    def loss(self, model: nn.Module, batch: dict[str, Tensor], device: torch.device
             ) -> dict[str, Tensor]:
        out = model(batch["image"].to(device, non_blocking=True))
        loss = masked_l2_loss(out, batch["pafs"].to(device), batch["heatmaps"].to(device),
                              batch["mask"].to(device))
        return {"loss": loss}

    def inference_model(self, model: nn.Module) -> nn.Module:
        """forward(x) → (heatmaps, pafs) of the last stages: what the pipeline consumes (OpenPose
        returns (PAF stages, heatmap stages))."""
        return LastStage(model, order=(1, 0)).eval()

    def input_multiple(self) -> int:
        """Any image's aspect ratio and scale: inputs padded to the stride (BottomUp)."""
        return self.stride

    def example_input(self, batch: int = 1) -> Tensor:
        w, h = self.cfg.codec.input_size
        return torch.zeros(batch, 3, h, w)

    def pipeline(self, network, device: torch.device | str = "cpu",
                 flip_test: bool | None = None, detector: Detector | None = None) -> BottomUp:
        """``network``: x → (heatmaps, pafs), the :meth:`inference_model` of an OpenPose model or
        an onnxruntime runner of its export; ``detector`` is not used."""
        cmu = "cmu" in self.cfg.model.name  # CMU's weights: pytorch-openpose's preset, no caps
        return BottomUp(
            network, OPENPOSE18, input_height=self.cfg.codec.input_size[1], stride=self.stride,
            scales=self.cfg.test.scales,
            flip_test=self.cfg.test.flip_test if flip_test is None else flip_test,
            preprocess="cmu" if cmu else "imagenet", device=device,
            grouping=GroupingConfig.cmu() if cmu else GroupingConfig(max_peaks=self.MAX_PEAKS),
        )

    def predict(self, model, coco: CocoPoseDataset, device: torch.device | str = "cpu", *,
                detector: Detector | None = None, flip_test: bool | None = None,
                max_images: int = 0) -> list[dict]:
        """COCO results for the first ``max_images`` images (all when 0); ``detector`` is
        ignored (bottom-up needs no boxes). Images are sharded over DDP ranks."""
        pipe = self.pipeline(self.inference_model(model), device, flip_test)
        return predict_whole_images(pipe, coco, max_images)
