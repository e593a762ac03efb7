"""RTMO-s image to people against MMPose 1.3.2's ``inference_bottomup`` on real COCO photos.

The reference people are stored (make_mmpose_rtmo_e2e_fixtures.py); the weights are not: they
are rebuilt here from the stored calibration recipe (seeded weights, redrawn BN statistics,
rescaled head output layers), saved under MMPose's key names, converted with ``posekit
convert``'s function and run through `PoseEstimator` on the image files: centred resize,
network, score threshold, NMS, DCC, back to image pixels, everything as a user runs it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.api import PoseEstimator
from posekit.export.convert import convert_checkpoint
from posekit.pipelines.onestage import center_resize

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
IMAGES = ROOT / "tests" / "fixtures" / "real" / "mmpose_coco"
CONFIG = ROOT / "configs" / "rtmo" / "rtmo-s_coco_640x640.yaml"
KEYS = ROOT / "tests" / "models" / "fixtures" / "rtmo_mmpose_keys.json"
PX, SCORE = 0.01, 1e-4  # tolerances: image pixels, probabilities
# Keypoints of a few people with large boxes (300–530 px) differ by up to 0.11 px: the networks
# agree to float32 noise (box centres within 7e-4 px before the DCC), and the DCC's sine
# encoding of the bins (frequencies up to 1 rad/px) with bins 3.5 px apart turns that into
# 0.03 logit differences between two nearly tied bins. So all but a few percent of the people
# must be within PX, and every keypoint within KPT_WORST (eager: 0.11 px at worst; onnxruntime,
# whose float32 noise differs again: 0.17 px).
KPT_WORST, KPT_WITHIN_PX = 0.25, 0.95

sys.path.insert(0, str(ROOT / "tests" / "models"))
from make_mmpose_rtmo_e2e_fixtures import calibrated_state_dict  # noqa: E402  the recipe's rule
from make_rtmo_fixtures import CONSTANT_KEYS  # noqa: E402  MMPose fixtures' rule


def calibrated_mmpose_state_dict(calibration: dict) -> dict[str, torch.Tensor]:
    """The fixture's calibrated RTMO-s weights under MMPose's key names, from its recipe.

    MMPose's constant buffers (sine-encoding frequencies, unit bins, OKS sigmas) are left out:
    MMPose keeps its built values, and posekit computes its own."""
    start = {k: torch.zeros(s, dtype=torch.long if k.endswith("num_batches_tracked")
                            else torch.float32)
             for k, s in json.loads(KEYS.read_text())["s"] if k not in CONSTANT_KEYS}
    return calibrated_state_dict(start, calibration)


@pytest.fixture(scope="module")
def reference():
    info = json.loads((FIXTURES / "mmpose_rtmo_e2e.json").read_text())
    return info, dict(np.load(FIXTURES / "mmpose_rtmo_e2e.npz"))


@pytest.fixture(scope="module")
def checkpoint(reference, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rtmo_e2e")
    torch.save({"state_dict": calibrated_mmpose_state_dict(reference[0]["calibration"])},
               tmp / "rtmo_s_mmpose.pth")
    return convert_checkpoint(tmp / "rtmo_s_mmpose.pth", CONFIG, tmp / "rtmo_s.pt")


def assert_same_people(people, arrays: dict, i: int) -> None:
    """Same number, same order, boxes and keypoints within PX, scores within SCORE."""
    want_boxes = arrays[f"img{i}_bboxes"]
    assert len(people) == len(want_boxes)
    np.testing.assert_allclose(people.boxes.numpy(), want_boxes, atol=PX, rtol=0)
    np.testing.assert_allclose(people.scores.numpy(), arrays[f"img{i}_bbox_scores"], atol=SCORE,
                               rtol=0)
    kpt_err = np.abs(people.keypoints.xy.numpy() - arrays[f"img{i}_keypoints"]).max(axis=(1, 2))
    assert kpt_err.max() < KPT_WORST
    assert (kpt_err < PX).mean() >= KPT_WITHIN_PX
    np.testing.assert_allclose(people.keypoints.conf.numpy(), arrays[f"img{i}_keypoint_scores"],
                               atol=SCORE, rtol=0)


def test_center_resize_matches_mmpose_input(reference):
    """BottomupResize: the image centred, grey bands above and below (20×20 block means)."""
    info, arrays = reference
    for i, person in enumerate(info["people"]):
        image = cv2.imread(str(IMAGES / person["image"]))
        x, center, scale = center_resize(image, (640, 640))
        np.testing.assert_allclose(center, person["input_center"])
        np.testing.assert_allclose(scale, person["input_scale"])
        blocks = x.transpose(2, 0, 1).astype(np.float64).reshape(3, 20, 32, 20, 32).mean((2, 4))
        np.testing.assert_allclose(blocks, arrays[f"img{i}_input_block_mean_20x20"], atol=1e-3)


def test_pose_estimator_returns_mmpose_people(reference, checkpoint, one_torch_thread):
    info, arrays = reference
    est = PoseEstimator.from_checkpoint(checkpoint)
    network = est.pipeline.network
    dcc_rows = []
    dcc = network.keypoints
    network.keypoints = lambda pose_vecs, *a: dcc_rows.append(len(pose_vecs)) or dcc(pose_vecs, *a)
    for i, person in enumerate(info["people"]):
        people = est(IMAGES / person["image"])
        assert len(people) == person["n_people"]  # 311 and 155: no cap, as MMPose
        assert_same_people(people, arrays, i)
    # eager: the DCC runs on the people kept by NMS only (397 and 203 candidates passed the score)
    assert dcc_rows == [p["n_people"] for p in info["people"]]


@pytest.mark.slow
def test_exported_graph_returns_the_same_people(reference, checkpoint, tmp_path,
                                                one_torch_thread):
    """The ONNX graph (network + score filter + DCC on every candidate) and the Python NMS."""
    pytest.importorskip("onnxruntime")
    from posekit.export.onnx import export_checkpoint

    info, arrays = reference
    path = export_checkpoint(checkpoint, tmp_path / "rtmo_s.onnx", batch=1)
    est = PoseEstimator.from_checkpoint(path, threads=1)
    for i, person in enumerate(info["people"]):
        assert_same_people(est(IMAGES / person["image"]), arrays, i)
