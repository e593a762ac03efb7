"""The one table from ``model.task`` names to task classes, and :func:`build_task`.

Each task lives in its own module (`posekit.engine.task.Task` is their interface): top-down
(`topdown_task`, with its ViTPose variants `distill` and `multidataset`), bottom-up
(`bottomup_task`) and one-stage (`onestage_task`).
"""

from __future__ import annotations

from posekit.config import ExperimentConfig
from posekit.engine.bottomup_task import BottomUpTask
from posekit.engine.distill import DistillTask
from posekit.engine.multidataset import MultiDatasetTask
from posekit.engine.onestage_task import OneStageTask
from posekit.engine.task import Task
from posekit.engine.topdown_task import TopDownTask

__all__ = ["TASKS", "build_task"]

TASKS: dict[str, type[Task]] = {
    "topdown": TopDownTask,
    "topdown_distill": DistillTask,
    "topdown_multi": MultiDatasetTask,
    "onestage": OneStageTask,
    "bottomup": BottomUpTask,
}


def build_task(cfg: ExperimentConfig) -> Task:
    """The task of ``cfg.model.task``; ValueError naming the known tasks otherwise."""
    if cfg.model.task not in TASKS:
        raise ValueError(f"model.task must be one of {sorted(TASKS)}, got {cfg.model.task!r}")
    return TASKS[cfg.model.task](cfg)
