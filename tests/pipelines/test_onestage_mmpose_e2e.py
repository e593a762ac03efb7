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
# In float32 the networks agree to float32 noise (box centres within 7e-4 px before the DCC), and
# the DCC's sine encoding of the bins (frequencies up to 1 rad/px, bins 3.5 px apart for the
# largest people) turns that into up to 0.1 px on a few people's keypoints. MMPose's own float32
# keypoints move as much between 1 and 2 threads (the fixture's ``float64`` block: up to 0.32 px,
# 96–98 % of the people within PX), so in float32 posekit must be as close to MMPose as MMPose is
# to itself. In float64 (both sides cast, noise gone) posekit equals MMPose after the fixture's
# float32 rounding; F64_PX and F64_SCORE leave room for another CPU's float64 rounding only.
F64_PX, F64_SCORE = 1e-3, 1e-6

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


def assert_same_people(people, arrays: dict, key: str, spread: list[dict] | None = None, *,
                       px: float = PX, score: float = SCORE) -> None:
    """Same number, same order, boxes within ``px``, scores within ``score``; keypoints within
    ``px``, or, given MMPose's float32 ``spread`` across thread counts, no farther than that."""
    want_boxes = arrays[f"{key}_bboxes"]
    assert len(people) == len(want_boxes)
    np.testing.assert_allclose(people.boxes.numpy(), want_boxes, atol=px, rtol=0)
    np.testing.assert_allclose(people.scores.numpy(), arrays[f"{key}_bbox_scores"], atol=score,
                               rtol=0)
    np.testing.assert_allclose(people.keypoints.conf.numpy(), arrays[f"{key}_keypoint_scores"],
                               atol=score, rtol=0)
    kpt_err = np.abs(people.keypoints.xy.numpy() - arrays[f"{key}_keypoints"]).max(axis=(1, 2))
    if spread is None:
        assert kpt_err.max() < px
    else:
        assert kpt_err.max() <= max(s["keypoints_max_abs_px"] for s in spread)
        assert (kpt_err < PX).mean() >= min(s["people_within_0.01px"] for s in spread)


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
    spread = info["float64"]["float32_people_across_thread_counts"]
    for i, person in enumerate(info["people"]):
        people = est(IMAGES / person["image"])
        assert len(people) == person["n_people"]  # 311 and 155: no cap, as MMPose
        assert_same_people(people, arrays, f"img{i}", spread)
    # eager: the DCC runs on the people kept by NMS only (397 and 203 candidates passed the score)
    assert dcc_rows == [p["n_people"] for p in info["people"]]


def test_in_float64_posekit_equals_mmpose(reference, checkpoint, one_torch_thread):
    """Both sides in float64: the same people, boxes, scores and keypoints (within F64_PX)."""
    info, arrays = reference
    est = PoseEstimator.from_checkpoint(checkpoint)
    est.pipeline.network.double()
    for i, person in enumerate(info["people"]):
        assert_same_people(est(IMAGES / person["image"]), arrays, f"img{i}_f64", px=F64_PX,
                           score=F64_SCORE)


@pytest.mark.slow
def test_exported_graph_returns_the_same_people(reference, checkpoint, tmp_path,
                                                one_torch_thread):
    """The ONNX graph (network + score filter + DCC on every candidate) and the Python NMS."""
    pytest.importorskip("onnxruntime")
    from posekit.export.onnx import export_checkpoint

    info, arrays = reference
    path = export_checkpoint(checkpoint, tmp_path / "rtmo_s.onnx", batch=1)
    est = PoseEstimator.from_checkpoint(path, threads=1)
    spread = info["float64"]["float32_people_across_thread_counts"]
    for i, person in enumerate(info["people"]):
        assert_same_people(est(IMAGES / person["image"]), arrays, f"img{i}", spread)
