"""Data splits of a config and the validation that every task shares.

:func:`load_split` reads a config's train or val split; :class:`ValSplitTask` gives a task its
cached validation split and COCO evaluation on it, so the top-down, bottom-up and one-stage tasks
differ only in how they predict.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset
from posekit.evaluation import EvalReport, evaluate_coco
from posekit.skeletons import Skeleton

__all__ = ["ValSplitTask", "load_split"]


def load_split(cfg: ExperimentConfig, split: str) -> CocoPoseDataset:
    """The train or val dataset of a config: explicit json + images, else ``data.root`` layout."""
    d = cfg.data
    ann, images = (d.train_ann, d.train_images) if split == "train" else (d.val_ann, d.val_images)
    if ann:
        return CocoPoseDataset(ann, images or Path(ann).parent, skeleton=d.skeleton)
    if not d.root:
        raise ValueError(
            f"config has no data for split {split!r}: set data.root or data.{split}_ann"
        )
    name = d.train_split if split == "train" else d.val_split
    return CocoPoseDataset.from_dir(d.root, name, skeleton=d.skeleton)


class ValSplitTask:
    """Validation shared by the tasks: subclasses set ``cfg`` and ``skeleton`` and define
    ``predict(model, coco, device, max_images=)`` → COCO results."""

    cfg: ExperimentConfig
    skeleton: Skeleton
    _val: CocoPoseDataset | None = None

    def check_model(self, model: nn.Module) -> None:
        """Check a built model against the config before training writes anything (raise
        ValueError naming the config fields); the default checks nothing."""

    def val_coco(self) -> CocoPoseDataset:
        """The validation split, read once."""
        if self._val is None:
            self._val = load_split(self.cfg, "val")
        return self._val

    def evaluate(self, model: nn.Module, device: torch.device | str = "cpu") -> EvalReport:
        """COCO AP on the validation split (its first ``data.max_val_images`` images when > 0),
        with the model in eval mode (its mode is restored after)."""
        coco = self.val_coco()
        cap = self.cfg.data.max_val_images
        was_training = model.training
        model.eval()
        try:
            results = self.predict(model, coco, device, max_images=cap)
        finally:
            model.train(was_training)
        image_ids = [r.image_id for r in coco.records][: cap or None]
        return evaluate_coco(coco.gt_dict, results, skeleton=self.skeleton, image_ids=image_ids)
