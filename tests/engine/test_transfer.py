"""Transfer scoring: the skeleton conversions used to score real samples (known answers, left
and right kept apart), the COCO-17 view of other skeletons' ground truth, and PCK totals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.config import load_config
from posekit.demo import DEMO_CONFIG
from posekit.engine.tasks import build_task
from posekit.engine.transfer import (
    REAL_SAMPLES,
    load_real_sample,
    score_dataset,
    shared_mask,
    to_coco17_gt,
)
from posekit.skeletons import AIC14, COCO17, CROWDPOSE14, MPII16, POSETRACK18, convert_keypoints

C = {n: i for i, n in enumerate(COCO17.keypoint_names)}


def test_shared_keypoints_per_real_skeleton() -> None:
    assert shared_mask(COCO17, COCO17).all()
    for skel in (CROWDPOSE14, AIC14):
        m = shared_mask(COCO17, skel)
        assert m.sum() == 12
        assert not m[skel.index("head_top")] and not m[skel.index("neck")]
    m = shared_mask(COCO17, MPII16)
    assert m.sum() == 12
    assert [MPII16.keypoint_names[i] for i in np.flatnonzero(~m)] == [
        "pelvis", "thorax", "upper_neck", "head_top"]
    m = shared_mask(COCO17, POSETRACK18)
    assert m.sum() == 15 and not m[1] and not m[2]  # head_bottom, head_top


@pytest.mark.parametrize("skel", [CROWDPOSE14, AIC14, MPII16, POSETRACK18])
def test_coco_predictions_land_on_the_same_named_joint(skel) -> None:
    """x of each COCO point = its COCO index; after conversion every shared point must carry
    the index of the COCO point of the same name (a left/right swap or shift fails)."""
    pred = np.zeros((1, 17, 3), np.float32)
    pred[0, :, 0] = np.arange(17)
    pred[0, :, 2] = 1.0
    out = convert_keypoints(pred, COCO17, skel)[0]
    for j, name in enumerate(skel.keypoint_names):
        if name in C:
            assert out[j, 0] == C[name] and out[j, 2] == 1.0, name
        else:
            assert out[j].tolist() == [0.0, 0.0, 0.0], name
    # spot checks against the published orders
    if skel is AIC14:
        assert out[0, 0] == C["right_shoulder"] and out[11, 0] == C["left_ankle"]
    if skel is MPII16:
        assert out[0, 0] == C["right_ankle"] and out[15, 0] == C["left_wrist"]


def test_posetrack_ground_truth_in_coco17_keeps_its_shared_points() -> None:
    pt = load_real_sample("posetrack18")
    gt17 = to_coco17_gt(pt)
    assert gt17["categories"][0]["keypoints"] == list(COCO17.keypoint_names)
    for a, b in zip(pt.gt_dict["annotations"], gt17["annotations"], strict=True):
        src = np.asarray(a["keypoints"]).reshape(17, 3)
        dst = np.asarray(b["keypoints"]).reshape(17, 3)
        for j, name in enumerate(POSETRACK18.keypoint_names):
            if name in C:
                np.testing.assert_allclose(dst[C[name]], src[j])
        # head_bottom/head_top (PoseTrack slots 1, 2) are COCO's eyes' slots: not copied there
        assert (dst[C["left_eye"]] == 0).all() and (dst[C["right_eye"]] == 0).all()
        assert b["num_keypoints"] == int((dst[:, 2] > 0).sum())


def test_every_real_sample_loads_in_its_own_skeleton() -> None:
    expected = {"coco": "coco17", "ochuman": "coco17", "posetrack18": "posetrack18",
                "crowdpose": "crowdpose14", "aic": "aic14", "mpii": "mpii16"}
    for name in REAL_SAMPLES:
        ds = load_real_sample(name)
        assert ds.skeleton.name == expected[name]
        assert ds.num_people > 0


def test_score_counts_exactly_the_labelled_shared_points() -> None:
    cfg = load_config(DEMO_CONFIG)
    task = build_task(cfg)
    torch.manual_seed(0)
    model = task.build_model()
    for name in ("coco", "crowdpose", "mpii"):
        ds = load_real_sample(name)
        mask = shared_mask(COCO17, ds.skeleton)
        want = sum(int(((p.keypoints[:, 2] > 0) & mask).sum())
                   for r in ds.records for p in r.people
                   if not p.iscrowd and p.num_keypoints > 0 and p.bbox[2] > 1 and p.bbox[3] > 1)
        s = score_dataset(task, model, ds, name, ap=name == "coco", flip_test=False)
        assert s.pck_total == want
        assert 0 <= s.pck_hits <= s.pck_total
        assert (s.ap is not None) == (name == "coco")


def test_mean_pose_floor_scores_the_same_points(tmp_path) -> None:
    from posekit.data.coco import CocoPoseDataset
    from posekit.data.synthpose import generate_dataset
    from posekit.engine.transfer import score_mean_pose
    from posekit.evaluation.baselines import MeanPose

    generate_dataset(tmp_path, 6, seed=0, size=128, split="train")
    mp = MeanPose((96, 128)).fit(CocoPoseDataset.from_dir(tmp_path, "train"))
    cfg = load_config(DEMO_CONFIG)
    task = build_task(cfg)
    torch.manual_seed(0)
    model = task.build_model()
    ds = load_real_sample("aic")
    floor = score_mean_pose(mp, ds, "aic")
    net = score_dataset(task, model, ds, "aic", ap=False, flip_test=False)
    assert floor.pck_total == net.pck_total == 83 and floor.people == net.people == 9
    assert 0 < floor.pck_hits < floor.pck_total  # a mean pose in the box hits some, not all
