"""Equal-wall-clock training budgets for the benchmark scripts: probe a run's speed on a few
images, then set its epoch count so that the whole LR schedule fits the budget (a run cut off by
``train.max_minutes`` mid-schedule would be compared at a higher learning rate)."""

from __future__ import annotations

import json
from pathlib import Path

from posekit.config import ExperimentConfig, apply_overrides
from posekit.engine.split import load_split
from posekit.engine.tasks import build_task
from posekit.engine.train import main as train

__all__ = ["first_images", "budget_config"]


def first_images(coco: dict, n: int) -> dict:
    """The COCO dict restricted to its first ``n`` images and their annotations."""
    keep = {im["id"] for im in coco["images"][:n]}
    return {**coco, "images": [im for im in coco["images"] if im["id"] in keep],
            "annotations": [a for a in coco["annotations"] if a["image_id"] in keep]}


def budget_config(cfg: ExperimentConfig, minutes: float, out: Path,
                  probe_images: int = 64) -> tuple[ExperimentConfig, float]:
    """``cfg`` with ``schedule.epochs`` set so that ``minutes`` of training at the speed measured
    on a one-epoch probe (its first ``probe_images`` training images) covers the schedule, and a
    25% safety cap on wall time. Returns (config, probed images/s)."""
    train_split = load_split(cfg, "train")  # the config's own rule for where the data is
    probe = out / f"probe_first{probe_images}.json"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text(json.dumps(first_images(train_split.gt_dict, probe_images)))
    common = [f"data.train_ann={probe}", f"data.train_images={train_split.image_root}",
              "schedule.epochs=1", "train.max_minutes=0", "train.val_interval=1000"]
    speed = train(apply_overrides(cfg, common), out / "probe", progress=False,
                  exist_ok=True).stats["images_per_s"]
    samples = len(build_task(cfg).train_dataset())
    epochs = max(1, int(minutes * 60 * speed / samples))
    return apply_overrides(cfg, [f"schedule.epochs={epochs}",
                                 f"train.max_minutes={1.25 * minutes}"]), speed
