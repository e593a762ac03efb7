"""Data splits of a config: :func:`load_split` reads its train or val split."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset, json_skeleton

__all__ = ["load_split", "skeleton_from_train_json"]


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


def skeleton_from_train_json(cfg: ExperimentConfig) -> tuple[ExperimentConfig, Path | None]:
    """``cfg`` with ``data.skeleton`` taken from the train json's person category when that
    identifies a built-in skeleton other than the configured one (for configs that leave
    ``data.skeleton`` out, as MMPose's dataset metainfo); returns the json it came from, or None
    when nothing changed."""
    d = cfg.data
    if d.train_ann:
        ann = Path(d.train_ann)
    elif d.root:
        ann = Path(d.root) / "annotations" / f"person_keypoints_{d.train_split}.json"
    else:
        return cfg, None
    if not ann.is_file():
        return cfg, None  # loading the split names the missing file
    found = json_skeleton(ann)
    if found is None or found.name == d.skeleton:
        return cfg, None
    return dataclasses.replace(cfg, data=dataclasses.replace(d, skeleton=found.name)), ann
