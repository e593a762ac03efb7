"""MPII list json → COCO dict: known values on the real sample and clear errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from posekit.data.coco import CocoPoseDataset
from posekit.data.mpii import MPII_PIXEL_STD, mpii_to_coco
from posekit.skeletons import MPII16

MPII = Path(__file__).resolve().parents[1] / "fixtures" / "real" / "mmpose_mpii"
MPII_JSON = MPII / "test_mpii.json"


def test_structure_and_ids():
    coco = mpii_to_coco(MPII_JSON)
    assert [c["keypoints"] for c in coco["categories"]] == [list(MPII16.keypoint_names)]
    assert [img["id"] for img in coco["images"]] == [5808361, 52475643, 51423444, 4645041,
                                                      60754485]
    assert all(img["width"] == 0 and img["height"] == 0 for img in coco["images"])
    assert [a["id"] for a in coco["annotations"]] == [1, 2, 3, 4, 5]  # 0 would clash with COCOeval
    assert mpii_to_coco(MPII_JSON) == coco  # stable


def test_known_person_values():
    raw = json.loads(MPII_JSON.read_text())[0]
    ann = mpii_to_coco(MPII_JSON)["annotations"][0]
    kpts = np.asarray(ann["keypoints"]).reshape(16, 3)
    # MPII's 1-based (804, 711) right ankle is pixel centre (803, 710) here.
    np.testing.assert_allclose(kpts[0], [803.0, 710.0, 2.0])
    np.testing.assert_allclose(kpts[:, :2], np.asarray(raw["joints"]) - 1.0, atol=1e-4)
    side = raw["scale"] * MPII_PIXEL_STD  # 4.718488 × 200 = 943.6976
    cx, cy = 966.0 - 1.0, 340.0 - 1.0 + 15.0 * raw["scale"]
    np.testing.assert_allclose(ann["bbox"], [cx - side / 2, cy - side / 2, side, side])
    assert ann["area"] == pytest.approx(side * side)
    top, neck = raw["joints"][MPII16.index("head_top")], raw["joints"][MPII16.index("upper_neck")]
    assert ann["head_size"] == pytest.approx(math.dist(top, neck))
    assert ann["head_size"] == pytest.approx(157.2829, abs=1e-4)


def test_invisible_joints_are_zeroed():
    coco = mpii_to_coco(MPII_JSON)
    ann = coco["annotations"][2]  # 051423444.jpg: both ankles have joints_vis 0
    kpts = np.asarray(ann["keypoints"]).reshape(16, 3)
    for name in ("right_ankle", "left_ankle"):
        np.testing.assert_array_equal(kpts[MPII16.index(name)], [0, 0, 0])
    assert ann["num_keypoints"] == 14
    assert sum(a["num_keypoints"] for a in coco["annotations"]) == 76


def test_image_root_reads_sizes_and_dataset_accepts_dict():
    coco = mpii_to_coco(MPII_JSON, image_root=MPII)
    assert coco["images"][1] == {"id": 52475643, "file_name": "052475643.jpg", "width": 854,
                                 "height": 480}
    ds = CocoPoseDataset(coco, MPII)
    assert ds.skeleton is MPII16
    assert ds.load_image(1).shape == (480, 854, 3)


def test_non_numeric_stems_number_images_in_order(tmp_path):
    raw = json.loads(MPII_JSON.read_text())
    raw[0]["image"], raw[1]["image"], raw[2]["image"] = "b.jpg", "a.jpg", "b.jpg"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(raw))
    coco = mpii_to_coco(path)
    assert [(i["id"], i["file_name"]) for i in coco["images"]][:2] == [(1, "b.jpg"), (2, "a.jpg")]
    assert [a["image_id"] for a in coco["annotations"]][:3] == [1, 2, 1]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda p: p.pop("joints"), "entry 3 is missing 'joints'"),
    (lambda p: p.update(joints=[[1, 2]] * 15), r"entry 3: 'joints' must be 16×2"),
    (lambda p: p.update(scale=0), r"entry 3: 'scale' must be > 0"),
])
def test_malformed_entries(tmp_path, edit, message):
    raw = json.loads(MPII_JSON.read_text())
    edit(raw[3])
    path = tmp_path / "mpii_bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match=message) as info:
        mpii_to_coco(path)
    assert "mpii_bad.json" in str(info.value)


def test_not_a_list(tmp_path):
    path = tmp_path / "obj.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match="obj.json: expected MMPose's MPII list"):
        mpii_to_coco(path)
