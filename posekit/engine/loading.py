"""A trained checkpoint in memory: its config, its task and its model with the trained weights.

Everything that runs a checkpoint (evaluation, the product API, export, benchmarks) loads it
here once and uses the returned task, so a task is built once per checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from posekit.config import ExperimentConfig, apply_overrides, config_from_dict, load_config
from posekit.engine.checkpoint import checkpoint_keypoints, load_checkpoint, load_weights
from posekit.engine.task import Task
from posekit.engine.tasks import build_task

__all__ = ["Trained", "load_trained"]


@dataclass
class Trained:
    """A loaded checkpoint: the resolved config, the task built from it and its model."""

    cfg: ExperimentConfig
    task: Task
    model: nn.Module  # eval mode, on the CPU


def load_trained(
    checkpoint: str | Path, config: str | Path | None = None, *, use_ema: bool = True,
    overrides: Sequence[str] = (),
) -> Trained:
    """Config, task and model (eval mode, EMA weights when present) of a checkpoint.

    Args:
        checkpoint: a posekit checkpoint (``posekit train`` / ``posekit convert``).
        config: a YAML config to use instead of the one stored in the checkpoint.
        use_ema: load the EMA weights when the checkpoint has them.
        overrides: dotted ``key=value`` config overrides (e.g. ``data.workers=0``).
    """
    state = load_checkpoint(checkpoint)
    cfg = load_config(config) if config else config_from_dict(state["config"])
    if overrides:
        cfg = apply_overrides(cfg, list(overrides))
    task = build_task(cfg)
    model = task.build_model()
    weights = state["ema"]["module"] if use_ema and state.get("ema") else state["model"]
    load_weights(model, weights, source=checkpoint, model_name=cfg.model.name,
                 num_keypoints=task.skeleton.num_keypoints,
                 source_keypoints=checkpoint_keypoints(state))
    return Trained(cfg, task, model.eval())
