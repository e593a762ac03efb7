"""The interface every paradigm's task implements, and the validation they share.

A task turns a config into a model, a training dataset, a loss on a batch and a COCO evaluation,
so the training loop (:mod:`posekit.engine.train`), evaluation, export and the product API never
ask which paradigm they hold. :class:`Task` names every method they call; the top-down,
bottom-up and one-stage tasks differ only in how they build, train and predict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import default_collate

from posekit.config import ExperimentConfig
from posekit.data.coco import CocoPoseDataset
from posekit.engine.split import load_split
from posekit.evaluation import EvalReport, evaluate_coco
from posekit.pipelines.detectors import Detector
from posekit.skeletons import Skeleton
from posekit.structures import PoseInstances

__all__ = ["Pipeline", "Task", "TrainDataset"]


class TrainDataset(Protocol):
    """A training dataset whose augmentation stream is selected per epoch (resumable runs)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

    def set_epoch(self, epoch: int) -> None: ...


class Pipeline(Protocol):
    """What a task's :meth:`Task.pipeline` returns: people in one BGR image, and the seconds per
    phase of the last call in ``timing``."""

    timing: dict[str, float]

    def __call__(self, image: np.ndarray, image_id: int | None = None) -> PoseInstances: ...


class Task(ABC):
    """One paradigm's model, data, loss and evaluation, built from a config.

    Subclasses set ``paradigm``, ``needs_detector``, ``cfg`` and ``skeleton`` and define the
    abstract methods; the hooks (:meth:`collate_fn`, :meth:`set_epoch`, :meth:`check_model`)
    default to what most tasks need.
    """

    paradigm: str
    needs_detector: bool = False  # True: the pipeline crops person boxes from a detector
    cfg: ExperimentConfig
    skeleton: Skeleton
    _val: CocoPoseDataset | None = None

    def input_multiple(self) -> int:
        """0: the network takes :meth:`example_input`'s height and width only; n > 0: any height
        and width that are multiples of n (a fully convolutional network, exported so)."""
        return 0

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A fresh model of ``cfg.model`` (random weights, or ``model.init_checkpoint``'s)."""

    @abstractmethod
    def train_dataset(self) -> TrainDataset:
        """The training split, augmented as the config says."""

    @abstractmethod
    def loss(self, model: nn.Module, batch: dict[str, Any], device: torch.device
             ) -> dict[str, Tensor]:
        """Losses of one batch: ``"loss"`` (what is minimised) and detached parts for the log."""

    @abstractmethod
    def inference_model(self, model: nn.Module) -> nn.Module:
        """What export and the pipeline run (eval mode): the network's final outputs as plain
        tensors, stage lists reduced to their last stage."""

    @abstractmethod
    def example_input(self, batch: int = 1) -> Tensor:
        """A (batch, 3, H, W) input of the network's size (seeded) for export and checks."""

    @abstractmethod
    def pipeline(self, network: Any, device: torch.device | str = "cpu",
                 flip_test: bool | None = None, detector: Detector | None = None) -> Pipeline:
        """The inference pipeline around ``network``: :meth:`inference_model` of a model, or any
        callable with its outputs (an onnxruntime runner). ``detector`` gives the person boxes
        of a task that ``needs_detector``."""

    @abstractmethod
    def predict(self, model: nn.Module, coco: CocoPoseDataset, device: torch.device | str = "cpu",
                *, detector: Detector | None = None, flip_test: bool | None = None,
                max_images: int = 0) -> list[dict]:
        """COCO results of ``model`` on a dataset (its first ``max_images`` images when > 0);
        ``detector`` (top-down only; default ground-truth boxes) gives the person boxes."""

    def collate_fn(self, items: list[dict[str, Any]]) -> dict[str, Any]:
        """Batch training items; the default stacks fixed-size tensors."""
        return default_collate(items)

    def set_epoch(self, epoch: int) -> None:  # noqa: B027 - an optional hook
        """Called before each training epoch (a loss that changes by phase); default: nothing."""

    def check_model(self, model: nn.Module) -> None:  # noqa: B027 - an optional hook
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
