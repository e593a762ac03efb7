"""Distillation: frozen knowledge token during student training, output distillation closes the
student–teacher gap, config selection errors."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from posekit.engine.distill import DistillTask, output_distill_loss
from posekit.engine.tasks import build_task
from posekit.engine.train import build_optimizer
from tests.conftest import tiny_topdown_config

STUDENT = "model.kwargs={depth: 1, embed_dim: 32, num_heads: 2, deconv_channels: [16, 16]"
TEACHER = ("distill.teacher_kwargs="
           "{depth: 2, embed_dim: 32, num_heads: 2, deconv_channels: [16, 16]}")


def _cfg(kind: str, *extra: str):
    tokens = ", num_knowledge_tokens: 1}" if kind == "token" else "}"
    return tiny_topdown_config(
        "model.name=vitpose_tiny", "model.task=topdown_distill", STUDENT + tokens,
        f"distill.kind={kind}", "distill.teacher_model=vitpose_tiny", TEACHER,
        "distill.token_steps=9",  # more steps than batches: several passes over the data
        "distill.token_lr=0.05", "augment.flip_prob=0.0", *extra)


def _batch(task):
    return next(iter(DataLoader(task.train_dataset(), batch_size=4, shuffle=False)))


def test_knowledge_token_is_learned_then_frozen_during_student_training():
    torch.manual_seed(0)
    task = build_task(_cfg("token"))
    assert isinstance(task, DistillTask)
    teacher_before = {k: v.clone() for k, v in task.teacher.state_dict().items()}
    student = task.build_model()
    for k, v in task.teacher.state_dict().items():  # token training leaves the teacher alone
        assert torch.equal(v, teacher_before[k]), k
    token = student.knowledge_tokens.detach().clone()
    assert not student.knowledge_tokens.requires_grad
    opt = build_optimizer(student, task.cfg)
    assert all(p is not student.knowledge_tokens for g in opt.param_groups for p in g["params"])
    head_before = student.head.final_layer.weight.detach().clone()
    batch = _batch(task)
    for _ in range(3):
        loss = task.loss(student, batch, torch.device("cpu"))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal(student.knowledge_tokens.detach(), token)
    assert not torch.equal(student.head.final_layer.weight.detach(), head_before)
    # the token takes part in the student's forward: another token changes the features
    x = batch["image"][:1]
    with torch.no_grad():
        feats = student.forward_features(x)
        student.knowledge_tokens.add_(torch.randn_like(student.knowledge_tokens))
        change = (student.forward_features(x) - feats).abs().max()
    assert change > 1e-5 * feats.abs().max()  # ignoring the token gives ~1e-7


def test_output_distillation_lowers_student_teacher_gap():
    torch.manual_seed(0)
    task = build_task(_cfg("output", "distill.output_weight=1000.0", "optim.lr=3e-3"))
    student = task.build_model()
    with torch.no_grad():  # a teacher with a distinct, non-trivial output
        for p in task.teacher.head.parameters():
            p.add_(0.05 * torch.randn_like(p))
    batch = _batch(task)
    images = batch["image"]

    def gap() -> float:
        student.eval()
        with torch.no_grad():
            return output_distill_loss(student(images), task.teacher(images)).item()

    before = gap()
    opt = build_optimizer(student, task.cfg)
    for _ in range(5):
        student.train()
        losses = task.loss(student, batch, torch.device("cpu"))
        assert set(losses) == {"loss", "gt_loss", "kd_loss"}
        torch.testing.assert_close(
            losses["loss"].detach(), losses["gt_loss"] + 1000.0 * losses["kd_loss"])
        opt.zero_grad()
        losses["loss"].backward()
        opt.step()
    assert gap() < 0.8 * before


def test_distill_config_errors():
    with pytest.raises(ValueError, match="distill.kind"):
        build_task(_cfg("feature"))
    with pytest.raises(ValueError, match="teacher_model"):
        build_task(_cfg("output", "distill.teacher_model=''"))
    with pytest.raises(ValueError, match="differ in shape"):
        output_distill_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 4, 4))
