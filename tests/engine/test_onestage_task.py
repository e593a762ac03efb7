"""OneStageTask: the dataset's geometry, a few training steps lowering the loss, prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.config import ExperimentConfig, apply_overrides
from posekit.engine.tasks import TASKS, build_task
from tests.conftest import REAL_COCO_JSON


def _cfg(*extra: str) -> ExperimentConfig:
    base = ["model.name=rtmo_tiny", "model.task=onestage", "codec.kind=dcc",
            "codec.input_size=[128, 128]", f"data.train_ann={REAL_COCO_JSON}",
            f"data.val_ann={REAL_COCO_JSON}", "data.workers=0", "test.flip_test=false",
            "test.det_score_thresh=0.0", "test.nms_thresh=0.65"]
    return apply_overrides(ExperimentConfig(name="rtmo-test"), base + list(extra))


def test_registered():
    assert TASKS["onestage"].__name__ == "OneStageTask"


def test_dataset_without_augmentation_is_a_letterbox():
    from posekit.engine.onestage_task import OneStageDataset

    task = build_task(_cfg())
    coco = task.val_coco()
    item = OneStageDataset(coco, (128, 128), task.skeleton, train=False)[0]
    record = coco[0]
    scale = min(128 / record.width, 128 / record.height)
    people = [p for p in record.people if not p.iscrowd and p.num_keypoints > 0]
    k0 = people[0].keypoints
    vis = k0[:, 2] > 0
    got = item["keypoints"][0].numpy()
    assert np.allclose(got[vis, :2], k0[vis, :2] * scale, atol=1e-3)
    x, y, w, h = people[0].bbox
    assert np.allclose(item["boxes"][0].numpy(), np.array([x, y, x + w, y + h]) * scale,
                       atol=1e-3)
    assert item["image"].shape == (3, 128, 128)


def test_a_few_steps_lower_the_loss():
    torch.manual_seed(0)
    task = build_task(_cfg("codec.input_size=[96, 96]"))
    model = task.build_model()
    ds = task.train_dataset()
    batch = task.collate_fn([ds[i] for i in range(len(ds))])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses, mle = [], []
    for _ in range(5):
        out = task.loss(model, batch, torch.device("cpu"))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
        mle.append(float(out["loss_mle"]))
    assert all(k in out for k in ("loss_cls", "loss_iou", "loss_oks", "loss_mle", "loss_vis"))
    # the dynamic assignment changes the positives each step, so the total is noisy: the DCC's
    # MLE term must fall, and the total must end below where it started
    assert mle[-1] < 0.8 * mle[0]
    assert min(losses[-2:]) < losses[0]


def test_predict_gives_coco_results_in_image_pixels():
    task = build_task(_cfg())
    model = task.build_model().eval()
    coco = task.val_coco()
    results = task.predict(model, coco, max_images=1)
    record = coco[0]
    assert results and all(r["image_id"] == record.image_id for r in results)
    xy = np.array([r["keypoints"] for r in results]).reshape(len(results), -1, 3)
    # decoded inside the letterboxed input → inside the image's scaled frame (with DCC margin)
    assert xy[..., 0].max() < record.width * 2 and xy[..., 1].max() < record.height * 2
    assert task.example_input(2).shape == (2, 3, 128, 128)
    dense = task.inference_model(model)(task.example_input(1))
    assert len(dense) == 4 and dense[0].shape[0] == 1


def test_loss_weights_and_the_second_phase():
    torch.manual_seed(0)
    task = build_task(_cfg("codec.input_size=[96, 96]", "onestage.stage2_epoch=2"))
    model = task.build_model()
    ds = task.train_dataset()
    batch = task.collate_fn([ds[i] for i in range(len(ds))])
    phases = {}
    for epoch in (1, 2):
        task.set_epoch(epoch)
        torch.manual_seed(1)
        out = task.loss(model, batch, torch.device("cpu"))
        w = task.loss_weights
        total = sum(w[k] * float(out[f"loss_{k}"]) for k in ("cls", "iou", "oks", "vis", "mle",
                                                            "l1"))
        assert float(out["loss"].detach()) == pytest.approx(total, rel=1e-5)
        phases[epoch] = (dict(w), out)
    assert phases[1][0]["mle"] == 1.0 and phases[1][0]["oks"] == 30.0  # MMPose's first phase
    assert phases[2][0]["mle"] == 5.0 and phases[2][0]["oks"] == 10.0  # from stage2_epoch
    # second phase: the proxies regress the DCC keypoints (not the GT) → a different OKS term
    assert float(phases[2][1]["loss_oks"]) != pytest.approx(float(phases[1][1]["loss_oks"]))
    # same boxes and positives: the box terms agree
    assert float(phases[2][1]["loss_iou"]) == pytest.approx(float(phases[1][1]["loss_iou"]))


def test_unknown_loss_name_is_an_error():
    with pytest.raises(ValueError, match="onestage.loss_weights"):
        build_task(_cfg("onestage.loss_weights={cls: 1.0}"))
    with pytest.raises(ValueError, match="unknown loss"):
        build_task(_cfg("onestage.stage2_loss_weights={mse: 1.0}"))
