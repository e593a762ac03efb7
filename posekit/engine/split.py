"""Data splits of a config: :func:`load_split` reads its train or val split."""

from __future__ import annotations

from pathlib import Path

from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset

__all__ = ["load_split"]


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
