"""ViTPose's two distillations (talk §13): a small student learns from a frozen, bigger teacher.

- **Output distillation**: the student's heatmaps also regress the teacher's,
  loss = L_gt(student, targets) + w · MSE(student, teacher).
- **Knowledge-token distillation**: a learnable token is trained with the frozen teacher on the
  ground-truth loss (only the token moves), then frozen and appended to the student's tokens while
  the student trains. The token lives in the teacher's width, so teacher and student must share
  ``embed_dim`` (e.g. a deeper teacher); the student config sets ``num_knowledge_tokens``.

Config: ``model.task: topdown_distill`` and the ``distill`` section (`posekit.config.DistillConfig`)
select the kind; everything else (data, codec, evaluation) is the top-down task's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from posekit.config import ExperimentConfig
from posekit.engine.checkpoint import load_checkpoint
from posekit.engine.topdown_task import TopDownTask
from posekit.models import build_model
from posekit.models.vitpose import ViTPose

__all__ = ["DISTILL_KINDS", "DistillTask", "attach_knowledge_tokens", "freeze",
           "output_distill_loss", "train_knowledge_tokens"]

DISTILL_KINDS = ("output", "token")


def freeze(model: nn.Module) -> nn.Module:
    """Eval mode and no gradients, in place; returns the model."""
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def output_distill_loss(student: Tensor, teacher: Tensor) -> Tensor:
    """Mean squared difference between student and (detached) teacher heatmaps (B, K, h, w)."""
    if student.shape != teacher.shape:
        raise ValueError(f"student heatmaps {tuple(student.shape)} and teacher heatmaps "
                         f"{tuple(teacher.shape)} differ in shape")
    return F.mse_loss(student, teacher.detach())


def train_knowledge_tokens(
    teacher: ViTPose, batches, loss_fn, *, num_tokens: int = 1, steps: int = 200,
    lr: float = 1e-3, device: torch.device | str = "cpu",
) -> Tensor:
    """Learn ``num_tokens`` tokens (T, C) on the frozen teacher with the ground-truth loss.

    ``batches()`` returns an iterable of (images, loss kwargs) pairs and is called again for each
    pass over the data; ``loss_fn(heatmaps, **kwargs)`` is the GT loss. The teacher's own
    parameters never change (it is frozen here).
    """
    freeze(teacher)
    c = teacher.backbone.embed_dim
    token = nn.Parameter(torch.empty(num_tokens, c, device=device))
    nn.init.trunc_normal_(token, std=0.02)
    opt = torch.optim.AdamW([token], lr=lr, weight_decay=0.0)
    step = 0
    while step < steps:
        seen = False
        for images, kwargs in batches():
            seen = True
            heatmaps = teacher.head(teacher.backbone(images.to(device), token))
            loss = loss_fn(heatmaps, **kwargs)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step >= steps:
                break
        if not seen:
            raise ValueError("train_knowledge_tokens: no batches to train on")
    return token.detach()


def attach_knowledge_tokens(student: ViTPose, tokens: Tensor) -> ViTPose:
    """Copy frozen tokens (T, C) into the student's ``knowledge_tokens`` (requires_grad False)."""
    if student.knowledge_tokens is None:
        raise ValueError("token distillation: the student needs model.kwargs.num_knowledge_tokens")
    if student.knowledge_tokens.shape != tokens.shape:
        raise ValueError(
            f"knowledge tokens {tuple(tokens.shape)} do not fit the student's "
            f"{tuple(student.knowledge_tokens.shape)} (teacher and student need the same width)"
        )
    with torch.no_grad():
        student.knowledge_tokens.copy_(tokens)
    student.knowledge_tokens.requires_grad_(False)
    return student


class DistillTask(TopDownTask):
    """Top-down task whose loss adds the teacher's heatmaps (output) or whose student carries a
    frozen knowledge token (token)."""

    def __init__(self, cfg: ExperimentConfig) -> None:
        super().__init__(cfg)
        d = cfg.distill
        if d.kind not in DISTILL_KINDS:
            raise ValueError(f"distill.kind must be one of {DISTILL_KINDS}, got {d.kind!r}")
        if not d.teacher_model:
            raise ValueError("distill.teacher_model must name the teacher's MODELS key")
        self.teacher = build_model(d.teacher_model, num_keypoints=self.skeleton.num_keypoints,
                                   **d.teacher_kwargs)
        if d.teacher_checkpoint:
            state = load_checkpoint(d.teacher_checkpoint)
            self.teacher.load_state_dict(state["model"])
        freeze(self.teacher)

    def _gt_batches(self, device: torch.device | str):
        loader = DataLoader(self.train_dataset(), batch_size=self.cfg.data.batch_size,
                            shuffle=True, num_workers=0, drop_last=False)
        for batch in loader:
            targets = self.codec.encode(batch["keypoints"][:, None])
            yield batch["image"], {"target": targets.heatmaps.to(device),
                                   "weight": targets.weights.to(device)}

    def build_model(self) -> nn.Module:
        student = super().build_model()
        if self.cfg.distill.kind == "token":
            if not isinstance(student, ViTPose):
                raise TypeError("token distillation needs a ViTPose student")
            n = 0 if student.knowledge_tokens is None else student.knowledge_tokens.shape[0]
            tokens = train_knowledge_tokens(
                self.teacher, lambda: self._gt_batches("cpu"),
                lambda hm, target, weight: self.loss_fn(hm, target, weight),
                num_tokens=max(1, n), steps=self.cfg.distill.token_steps,
                lr=self.cfg.distill.token_lr,
            )
            attach_knowledge_tokens(student, tokens)
        return student

    def loss(self, model: nn.Module, batch: dict[str, Tensor], device: torch.device
             ) -> dict[str, Tensor]:
        images = batch["image"].to(device, non_blocking=True)
        targets = self.codec.encode(batch["keypoints"][:, None])
        output = model(images)
        gt = self.loss_fn(output, targets.heatmaps.to(device), targets.weights.to(device))
        if self.cfg.distill.kind != "output":
            return {"loss": gt}
        self.teacher.to(device)
        with torch.no_grad():
            teacher_out = self.teacher(images)
        kd = output_distill_loss(output, teacher_out)
        return {"loss": gt + self.cfg.distill.output_weight * kd, "gt_loss": gt.detach(),
                "kd_loss": kd.detach()}
