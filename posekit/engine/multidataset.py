"""Multi-dataset top-down training (ViTPose, talk §13 "flexible in task"): one backbone, one
decoder head per dataset, every batch mixes people from all datasets and each head is trained
only on its own dataset's people.

Config: ``model.task: topdown_multi``; the first dataset is the usual ``data`` one (skeleton
``data.skeleton``, evaluated on ``data.val_*``, i.e. on the first head); ``data.extra_train_anns``
and ``data.extra_skeletons`` add more (e.g. SynthPose MPII-16 from ``posekit synth --skeleton
mpii``, or real MPII / AIC files). Items carry a ``dataset`` index; keypoints are padded to the
largest K with invisible points so one default collate stacks them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset
from posekit.data.mpii import mpii_to_coco
from posekit.data.topdown import TopDownDataset
from posekit.engine.checkpoint import load_init_checkpoint
from posekit.engine.split import load_split
from posekit.engine.topdown_task import TopDownTask
from posekit.models import build_model
from posekit.skeletons import Skeleton, get_skeleton

__all__ = ["MultiDataset", "MultiDatasetTask"]


class MultiDataset(Dataset):
    """Concatenation of top-down datasets; items gain ``dataset`` (int) and keypoints padded to
    (K_max, 3) with visibility 0."""

    def __init__(self, datasets: list[TopDownDataset], num_keypoints: list[int]) -> None:
        self.datasets = datasets
        self.num_keypoints = num_keypoints
        self.k_max = max(num_keypoints)
        self.offsets = [0]
        for d in datasets:
            self.offsets.append(self.offsets[-1] + len(d))

    def __len__(self) -> int:
        return self.offsets[-1]

    def set_epoch(self, epoch: int) -> None:
        for d in self.datasets:
            d.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        which = next(i for i in range(len(self.datasets)) if index < self.offsets[i + 1])
        item = dict(self.datasets[which][index - self.offsets[which]])
        kpts = torch.as_tensor(item["keypoints"], dtype=torch.float32)  # (K_i, 3)
        padded = torch.zeros(self.k_max, 3)
        padded[: kpts.shape[0]] = kpts
        item["keypoints"] = padded
        item["dataset"] = which
        return item


class MultiDatasetTask(TopDownTask):
    """Top-down task over several datasets with one head each (a ViTPose ``num_keypoints``
    tuple); evaluation and prediction use the first head."""

    def __init__(self, cfg: ExperimentConfig) -> None:
        super().__init__(cfg)
        d = cfg.data
        if len(d.extra_train_anns) != len(d.extra_skeletons):
            raise ValueError(
                f"data.extra_train_anns ({len(d.extra_train_anns)}) and data.extra_skeletons "
                f"({len(d.extra_skeletons)}) must have one entry per extra dataset"
            )
        self.skeletons: list[Skeleton] = [self.skeleton] + [get_skeleton(s)
                                                             for s in d.extra_skeletons]

    def build_model(self) -> nn.Module:
        ks = tuple(s.num_keypoints for s in self.skeletons)
        model = build_model(self.cfg.model.name, num_keypoints=ks, **self.cfg.model.kwargs)
        if self.cfg.model.init_checkpoint:
            load_init_checkpoint(model, self.cfg.model.init_checkpoint)
        return model

    def datasets(self) -> list[CocoPoseDataset]:
        d = self.cfg.data
        images = list(d.extra_train_images) or [str(Path(a).parent) for a in d.extra_train_anns]
        if len(images) != len(d.extra_train_anns):
            raise ValueError(f"data.extra_train_images ({len(images)}) must match "
                             f"data.extra_train_anns ({len(d.extra_train_anns)})")
        extra = []
        for ann, folder, skeleton in zip(d.extra_train_anns, images, self.skeletons[1:],
                                         strict=True):
            source: str | dict = ann
            if json.loads(Path(ann).read_text()).__class__ is list:  # MPII's own list form
                source = mpii_to_coco(ann)
            extra.append(CocoPoseDataset(source, folder, skeleton=skeleton.name))
        return [load_split(self.cfg, "train"), *extra]

    def train_dataset(self) -> MultiDataset:
        parts = [
            TopDownDataset(coco, tuple(self.cfg.codec.input_size), self.augment(),
                           train=self.cfg.augment.enabled, seed=self.cfg.train.seed,
                           min_keypoints=self.cfg.data.min_keypoints)
            for coco in self.datasets()
        ]
        return MultiDataset(parts, [s.num_keypoints for s in self.skeletons])

    def loss(self, model: nn.Module, batch: dict[str, Tensor], device: torch.device
             ) -> dict[str, Tensor]:
        """Sum over heads of each head's loss on its own dataset's people only."""
        images = batch["image"].to(device, non_blocking=True)
        which = torch.as_tensor(batch["dataset"])
        heads = model.forward_heads(images)
        total = images.new_zeros(())
        out: dict[str, Tensor] = {}
        for i, (skeleton, heatmaps) in enumerate(zip(self.skeletons, heads, strict=True)):
            sel = (which == i).nonzero().flatten()
            if len(sel) == 0:  # no people of this dataset in the batch: no loss, no gradient
                out[f"loss_{skeleton.name}"] = images.new_zeros(())
                continue
            kpts = batch["keypoints"][sel, : skeleton.num_keypoints]  # (n, K_i, 3)
            targets = self.codec.encode(kpts[:, None])
            loss = self.loss_fn(heatmaps[sel.to(device)], targets.heatmaps.to(device),
                                targets.weights.to(device))
            total = total + loss
            out[f"loss_{skeleton.name}"] = loss.detach()
        out["loss"] = total
        return out
