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
    for _ in range(8):
        out = task.loss(model, batch, torch.device("cpu"))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
        mle.append(float(out["loss_mle"]))
    assert all(k in out for k in ("loss_cls", "loss_bbox", "loss_oks", "loss_mle", "loss_vis"))
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
    # decoded inside the input → inside the image's scaled frame (with DCC margin)
    assert xy[..., 0].max() < record.width * 2 and xy[..., 1].max() < record.height * 2
    assert task.example_input(2).shape == (2, 3, 128, 128)
    scores, boxes, kpts, kscores, batch = task.inference_model(model)(task.example_input(1))
    assert (scores > task.cfg.test.det_score_thresh).all() and (batch == 0).all()
    assert boxes.shape == (len(scores), 4) and kpts.shape == (len(scores), 17, 2)


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
        w = task.criterion.loss_weights
        # the terms are weighted, as MMPose logs them: the loss is their sum
        total = sum(float(v) for k, v in out.items() if k != "loss")
        assert float(out["loss"].detach()) == pytest.approx(total, rel=1e-5)
        phases[epoch] = (dict(w), out)
    assert phases[1][0]["mle"] == 1.0 and phases[1][0]["oks"] == 30.0  # MMPose's first phase
    assert phases[2][0]["mle"] == 5.0 and phases[2][0]["oks"] == 10.0  # from stage2_epoch
    # second phase: the proxies regress the DCC keypoints (not the GT) → a different OKS term
    assert float(phases[2][1]["loss_oks"]) != pytest.approx(float(phases[1][1]["loss_oks"]))
    # same boxes and positives: the box terms agree
    assert float(phases[2][1]["loss_bbox"]) == pytest.approx(float(phases[1][1]["loss_bbox"]))


def test_unknown_loss_name_is_an_error():
    with pytest.raises(ValueError, match="loss_weights: missing"):
        build_task(_cfg("onestage.loss_weights={cls: 1.0}"))
    with pytest.raises(ValueError, match="unknown loss"):
        build_task(_cfg("onestage.stage2_loss_weights={mse: 1.0}"))


COLOURS = [(40, 200, 30), (90, 160, 90), (140, 120, 30), (190, 80, 90)]


def _solid_colour_dataset(root, n=4, w=128, h=96):
    """``n`` images, each one solid colour with one person whose 17 keypoints lie on a grid at
    least 12 px inside it (so that bilinear warping cannot blend a keypoint's pixel). Person i has
    area 1000·(i + 1), which tells after any transform which image a person came from."""
    import json

    import cv2

    from posekit.data.coco import CocoPoseDataset

    (root / "images").mkdir(parents=True)
    images, anns = [], []
    xs, ys = np.meshgrid(np.linspace(12, 84, 6), np.linspace(12, 64, 3))
    kpts = np.stack([xs.ravel()[:17], ys.ravel()[:17], np.full(17, 2)], 1)
    for i, colour in enumerate(COLOURS[:n]):
        cv2.imwrite(str(root / "images" / f"{i}.png"), np.full((h, w, 3), colour, np.uint8))
        images.append({"id": i + 1, "file_name": f"{i}.png", "width": w, "height": h})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                     "bbox": [8, 8, 80, 60], "area": 1000.0 * (i + 1),
                     "num_keypoints": 17, "keypoints": kpts.ravel().tolist()})
    ann = root / "ann.json"
    ann.write_text(json.dumps({"images": images, "annotations": anns, "categories": [
        {"id": 1, "name": "person"}]}))
    return CocoPoseDataset(ann, root / "images", skeleton="coco17")


def test_mosaic_keeps_every_visible_keypoint_on_its_own_image(tmp_path):
    from posekit.engine.onestage_task import OneStageDataset

    coco = _solid_colour_dataset(tmp_path)
    task = build_task(_cfg())
    ds = OneStageDataset(coco, (64, 64), task.skeleton, train=True, flip_prob=0.0,
                         scale_range=(1.0, 1.0), rotate_deg=0.0, shift=0.0, mosaic_prob=1.0)
    people_per_item = []
    for epoch in range(3):
        ds.set_epoch(epoch)
        for index in range(len(ds)):
            item = ds[index]
            image = item["image"].permute(1, 2, 0).numpy()
            people_per_item.append(len(item["keypoints"]))
            for person, box, area in zip(item["keypoints"].numpy(), item["boxes"].numpy(),
                                         item["areas"].numpy(), strict=True):
                # a 128×96 image fits 64×64 at scale ½; the input is a 64×64 window of the
                # 128×128 mosaic at scale 1 (MMPose's RTMO): area / 4
                source = round(area / 250) - 1
                vis = person[:, 2] > 0
                x, y = person[vis, 0], person[vis, 1]
                colours = image[np.floor(y).astype(int), np.floor(x).astype(int)]
                # every visible keypoint sits on its own image's colour (not the padding's, not
                # another image's)
                assert np.abs(colours - np.array(COLOURS[source])).max() < 2
                # the 80×60 box scaled by ½ (40×30), or less where the mosaic or the window
                # clipped it, and holding the keypoints
                assert box[2] - box[0] <= 40 + 1e-3 and box[3] - box[1] <= 30 + 1e-3
                assert (x >= box[0] - 1e-3).all() and (x <= box[2] + 1e-3).all()
                assert (y >= box[1] - 1e-3).all() and (y <= box[3] + 1e-3).all()
    assert max(people_per_item) >= 3  # several images per mosaic
    assert item["image"].shape == (3, 64, 64)
