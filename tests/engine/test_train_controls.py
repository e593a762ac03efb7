"""Training controls: train.max_iters, data.shuffle, augment.enabled, RUN/scalars.jsonl and the
warm-up shapes (MMEngine's linear, MMPose's quadratic, in epochs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from posekit.config import ExperimentConfig, apply_overrides
from posekit.data.topdown import TopDownDataset
from posekit.engine import train as engine
from posekit.engine.tasks import build_task
from tests.conftest import REAL_COCO_JSON


def test_max_iters_stops_mid_schedule_and_scalars_jsonl(tiny_cfg, tmp_path):
    # 12 people at batch 4: 3 iterations per epoch; stop after 5 of the 4-epoch schedule
    cfg = apply_overrides(tiny_cfg, ["schedule.epochs=4", "train.max_iters=5",
                                     "train.log_interval=2", "schedule.warmup_iters=6",
                                     "data.shuffle=false", "train.val_interval=100",
                                     "data.max_val_images=1"])
    result = engine.main(cfg, tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "scalars.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in rows] == [2, 4]  # every log_interval iterations of the run
    assert [r["epoch"] for r in rows] == [0, 1]
    assert result.epoch == 1 and (tmp_path / "last.pt").exists()
    # the lr each step used: MMEngine's linear warm-up over 6 iterations, from lr · 0.001
    for r in rows:
        t = r["iter"] - 1
        assert r["lr"] == pytest.approx(1e-3 * (0.001 + 0.999 * t / 5))
        assert r["loss"] == r["loss_kpt"] and np.isfinite(r["loss"])


@pytest.mark.parametrize("shuffle", [True, False])
def test_shuffle_false_keeps_the_dataset_order(tiny_cfg, shuffle):
    cfg = apply_overrides(tiny_cfg, [f"data.shuffle={str(shuffle).lower()}"])
    task = build_task(cfg)
    loader = engine.train_loader(task, task.train_dataset(), cfg, torch.device("cpu"))
    loader.sampler.set_epoch(1)
    order = list(iter(loader.sampler))
    assert sorted(order) == list(range(12))
    assert (order == list(range(12))) is not shuffle


def test_augment_disabled_gives_the_test_time_crop(tiny_cfg):
    cfg = apply_overrides(tiny_cfg, ["augment.enabled=false"])
    task = build_task(cfg)
    train_set = task.train_dataset()
    test_set = TopDownDataset(train_set.coco, tuple(cfg.codec.input_size), task.augment(),
                              train=False)
    for epoch in (0, 3):
        train_set.set_epoch(epoch)
        for i in (0, 5, 11):
            a, b = train_set[i], test_set[i]
            torch.testing.assert_close(a["image"], b["image"], rtol=0, atol=0)
            torch.testing.assert_close(a["keypoints"], b["keypoints"], rtol=0, atol=0)
    augmented = build_task(tiny_cfg).train_dataset()
    assert any(not torch.equal(augmented[i]["image"], test_set[i]["image"]) for i in range(12))


def _onestage_cfg(*extra: str):
    base = ["model.name=rtmo_tiny", "model.task=onestage", "codec.kind=dcc",
            "codec.input_size=[128, 128]", f"data.train_ann={REAL_COCO_JSON}",
            f"data.val_ann={REAL_COCO_JSON}", "data.workers=0", "augment.enabled=false",
            "augment.mosaic_prob=1.0"]
    return apply_overrides(ExperimentConfig(name="t"), base + list(extra))


@pytest.mark.parametrize("fit", ["letterbox", "mmpose"])
def test_onestage_without_augmentation_is_the_plain_fit(fit):
    """No mosaic, flip or random affine; the image sits top-left (posekit's letterbox) or
    centred (MMPose's BottomupRandomAffine without randomness)."""
    task = build_task(_onestage_cfg(f"onestage.fit={fit}"))
    data = task.train_dataset()
    record = data.coco[0]  # 640 × 425: the long side fills the 128 input
    s = 128 / max(record.width, record.height)
    pad = 0.0 if fit == "letterbox" else (128 - record.height * s) / 2
    first = data[0]
    data.set_epoch(5)
    assert torch.equal(first["image"], data[0]["image"])
    people = [p for p in record.people if not p.iscrowd and p.num_keypoints > 0]
    x, y, w, h = people[0].bbox
    expect = np.array([x * s, y * s + pad, (x + w) * s, (y + h) * s + pad])
    assert np.allclose(first["boxes"][0].numpy(), expect, atol=1e-3)


def test_quadratic_warmup_in_epochs(tiny_cfg):
    """MMPose's QuadraticWarmupLR (RTMO): lr · ((t + 1) / T)², T = warmup_epochs · iterations."""
    cfg = apply_overrides(tiny_cfg, ["schedule.warmup=quadratic", "schedule.warmup_epochs=2",
                                     "schedule.warmup_iters=1000", "schedule.epochs=10",
                                     "schedule.steps=[9]"])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=4e-3)
    sched = engine.build_scheduler(opt, cfg, iters_per_epoch=3)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:6] == pytest.approx([4e-3 * ((t + 1) / 6) ** 2 for t in range(6)])
    assert lrs[6:] == pytest.approx([4e-3, 4e-3])


def test_rtmo_terms_carry_mmpose_names_and_l1_waits_for_aux_epoch():
    from posekit.models.rtmo_criterion import RTMOCriterion

    task = build_task(_onestage_cfg("onestage.aux_epoch=3"))
    model = task.build_model()
    batch = task.collate_fn([task.train_dataset()[i] for i in range(2)])
    names = {"loss_bbox", "loss_vis", "loss_mle", "loss_oks", "loss_cls"}
    out = task.loss(model, batch, torch.device("cpu"))
    assert set(out) == {"loss", *names}
    total = sum(float(v) for k, v in out.items() if k != "loss")  # weighted, as MMPose's
    assert float(out["loss"].detach()) == pytest.approx(total, rel=1e-5)
    task.set_epoch(3)
    assert set(task.loss(model, batch, torch.device("cpu"))) == {"loss", "loss_bbox_aux", *names}
    assert isinstance(task.criterion, RTMOCriterion)
