"""CocoPoseDataset on the real samples, skeleton inference, one clear error per malformed input."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from posekit.data.coco import (
    BBOX_AREA_FACTOR,
    CocoPoseDataset,
    infer_skeleton,
    read_coco_json,
)
from posekit.data.mpii import mpii_to_coco
from posekit.skeletons import AIC14, COCO17, CROWDPOSE14, MPII16, POSETRACK18

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
COCO_JSON = REAL / "mmpose_coco" / "test_coco.json"


def _coco_dict() -> dict:
    return json.loads(COCO_JSON.read_text())


# (json, image root, skeleton, images, persons, persons with keypoints)
SAMPLES = [
    ("mmpose_coco/test_coco.json", "mmpose_coco", COCO17, 4, 14, 12),
    ("mmpose_crowdpose/test_crowdpose.json", "mmpose_crowdpose", CROWDPOSE14, 2, 5, 4),
    ("mmpose_ochuman/test_ochuman.json", "mmpose_ochuman", COCO17, 3, 5, 5),
    ("mmpose_aic/test_aic.json", "mmpose_aic", AIC14, 3, 9, 9),
    # PoseTrack's file_name ("images/val/…") is relative to the sample's top folder.
    ("mmpose_posetrack18/annotations/test_posetrack18_val.json", "mmpose_posetrack18",
     POSETRACK18, 3, 14, 14),
]


@pytest.mark.parametrize(("ann", "root", "skeleton", "n_images", "n_people", "n_with_kpts"),
                         SAMPLES, ids=[s[1] for s in SAMPLES])
def test_real_samples_load(ann, root, skeleton, n_images, n_people, n_with_kpts):
    ds = CocoPoseDataset(REAL / ann, REAL / root)
    assert ds.skeleton is skeleton
    assert len(ds) == n_images
    people = [p for r in ds.records for p in r.people]
    assert len(people) == n_people
    assert sum(p.num_keypoints > 0 for p in people) == n_with_kpts
    k = skeleton.num_keypoints
    for p in people:
        assert p.keypoints.dtype == np.float32 and p.keypoints.shape == (k, 3)
        assert p.bbox.dtype == np.float32 and p.bbox.shape == (4,)
        assert p.area > 0
    record = ds[0]
    assert Path(record.file_name).is_absolute() and Path(record.file_name).is_file()
    image = ds.load_image(0)
    assert image.dtype == np.uint8 and image.shape == (record.height, record.width, 3)


def test_mpii_sample_through_adapter():
    root = REAL / "mmpose_mpii"
    ds = CocoPoseDataset(mpii_to_coco(root / "test_mpii.json"), root)
    assert ds.skeleton is MPII16
    assert len(ds) == 5 and ds.num_people == 5
    assert sum(p.num_keypoints for r in ds.records for p in r.people) == 76
    assert ds.ann_file is None
    assert ds.load_image(1).shape == (480, 854, 3)


def test_known_annotation_values():
    ds = CocoPoseDataset(COCO_JSON, REAL / "mmpose_coco")
    raw = next(a for a in _coco_dict()["annotations"] if a["id"] == 442619)
    record = next(r for r in ds.records if r.image_id == 785)
    assert record.file_name == str(REAL / "mmpose_coco" / "000000000785.jpg")
    (person,) = record.people
    assert person.id == 442619 and not person.iscrowd
    np.testing.assert_array_equal(person.keypoints,
                                  np.asarray(raw["keypoints"], np.float32).reshape(17, 3))
    np.testing.assert_array_equal(person.bbox, np.float32([280.79, 44.73, 218.7, 346.68]))
    assert person.area == raw["area"]
    assert record.keypoints_array().shape == (1, 17, 3)


def test_missing_area_uses_box_fraction_and_crowd_kept():
    ds = CocoPoseDataset(REAL / "mmpose_crowdpose" / "test_crowdpose.json",
                         REAL / "mmpose_crowdpose")
    p = ds.records[0].people[0]
    assert p.area == pytest.approx(float(p.bbox[2] * p.bbox[3]) * BBOX_AREA_FACTOR, rel=1e-6)

    data = _coco_dict()
    data["annotations"][0]["iscrowd"] = 1
    ds = CocoPoseDataset(data, REAL / "mmpose_coco")
    record = next(r for r in ds.records if r.image_id == data["annotations"][0]["image_id"])
    assert record.people[0].iscrowd  # kept and flagged
    assert record.keypoints_array().shape[0] == len(record.people) - 1
    assert record.keypoints_array(include_crowd=True).shape[0] == len(record.people)


def test_dict_input_is_not_mutated_and_other_categories_are_skipped():
    data = _coco_dict()
    data["categories"].append({"id": 2, "name": "dog", "keypoints": []})
    data["annotations"].append({"id": 1, "image_id": 785, "category_id": 2, "bbox": [0, 0, 1, 1],
                                "keypoints": [0, 0, 0]})
    del data["annotations"][0]["num_keypoints"]
    before = copy.deepcopy(data)
    ds = CocoPoseDataset(data, REAL / "mmpose_coco")
    assert data == before
    assert ds.num_people == 14  # the dog is not a person


def test_infer_skeleton_by_names_and_count():
    aic_names = ["Right Shoulder", "Right Elbow", "Right Wrist", "Left Shoulder", "Left Elbow",
                 "Left Wrist", "Right Hip", "Right Knee", "Right Ankle", "Left Hip", "Left Knee",
                 "Left Ankle", "Head top", "Neck"]
    assert infer_skeleton([{"id": 1, "name": "person", "keypoints": aic_names}]) is AIC14
    crowd = list(CROWDPOSE14.keypoint_names)
    crowd[crowd.index("head_top")] = "head"  # CrowdPose's own spelling
    assert infer_skeleton([{"id": 1, "name": "person", "keypoints": crowd}]) is CROWDPOSE14
    # A single category is the person category whatever its name.
    assert infer_skeleton([{"id": 3, "name": "human", "keypoints": list(MPII16.keypoint_names)}],
                          ) is MPII16
    assert infer_skeleton([{"id": 1, "name": "person"}], num_keypoints=16) is MPII16
    with pytest.raises(ValueError, match="several skeletons"):
        infer_skeleton([{"id": 1, "name": "person"}], num_keypoints=17)


def test_unknown_names_give_custom_skeleton_without_sigmas():
    cat = {"id": 1, "name": "person", "keypoints": ["head", "left_paw", "right_paw", "tail"],
           "skeleton": [[1, 2], [1, 3], [1, 4]]}
    skel = infer_skeleton([cat])
    assert skel.num_keypoints == 4 and skel.sigmas is None
    assert skel.keypoint_names == ("head_top", "left_paw", "right_paw", "tail")
    assert skel.limbs == ((0, 1), (0, 2), (0, 3))
    assert skel.flip_pairs == ((1, 2),)


def test_from_dir_layout(tmp_path):
    (tmp_path / "annotations").mkdir()
    shutil.copytree(REAL / "mmpose_coco", tmp_path / "images" / "train",
                    ignore=shutil.ignore_patterns("*.json", "*.md"))
    shutil.copy(COCO_JSON, tmp_path / "annotations" / "person_keypoints_train.json")
    ds = CocoPoseDataset.from_dir(tmp_path, split="train")
    assert len(ds) == 4 and ds.skeleton is COCO17
    assert ds.load_image(0).shape == (425, 640, 3)
    with pytest.raises(FileNotFoundError, match="person_keypoints_val.json"):
        CocoPoseDataset.from_dir(tmp_path)


# ---- malformed input: one clear error naming the file and the field or id ----------------------

def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return path


def _drop(key):
    def edit(d):
        del d["annotations"][0][key]
    return edit


def _short_keypoints(d):
    d["annotations"][0]["keypoints"] = d["annotations"][0]["keypoints"][:-3]


def _unknown_image(d):
    d["annotations"][0]["image_id"] = 999


def _nan_keypoint(d):
    d["annotations"][0]["keypoints"][0] = "x"


def _bad_bbox(d):
    d["annotations"][0]["bbox"] = [1, 2, 3]


def _bad_count(d):
    d["annotations"][0]["num_keypoints"] = "17"


def _no_annotations(d):
    del d["annotations"]


BROKEN = [
    (_no_annotations, "missing top-level key 'annotations'"),
    (_drop("keypoints"), "annotation id 442619 is missing 'keypoints'"),
    (_drop("bbox"), "annotation id 442619 is missing 'bbox'"),
    (_drop("image_id"), "annotation id 442619 is missing 'image_id'"),
    (_short_keypoints, r"annotation id 442619: 'keypoints' must hold 51 numbers "
                       r"\(17 keypoints × 3 for skeleton coco17\), got 48"),
    (_unknown_image, "annotation id 442619 points to unknown image_id 999"),
    (_nan_keypoint, "annotation id 442619: 'keypoints' must be finite numbers"),
    (_bad_bbox, "annotation id 442619: 'bbox' must be 4 finite numbers"),
    (_bad_count, "annotation id 442619: 'num_keypoints' must be an integer >= 0, got '17'"),
]


@pytest.mark.parametrize(("edit", "message"), BROKEN, ids=[m[:30] for _, m in BROKEN])
def test_malformed_json_names_file_and_field(tmp_path, edit, message):
    data = _coco_dict()
    edit(data)
    path = _write(tmp_path, data)
    with pytest.raises(ValueError, match=message) as info:
        CocoPoseDataset(path, REAL / "mmpose_coco")
    assert str(path) in str(info.value)


def test_bad_json_reports_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"images": [],\n "annotations": [,]}')
    with pytest.raises(ValueError, match=r"bad.json: not valid JSON \(line 2, column 18"):
        CocoPoseDataset(path, tmp_path)


def test_missing_annotation_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        CocoPoseDataset(tmp_path / "nope.json", tmp_path)


def test_skeleton_count_mismatch_names_annotation(tmp_path):
    with pytest.raises(ValueError, match=r"annotation id \d+: 'keypoints' must hold 42 numbers "
                                         r"\(14 keypoints × 3 for skeleton aic14\), got 51"):
        CocoPoseDataset(COCO_JSON, REAL / "mmpose_coco", skeleton="aic")


def test_mpii_list_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="mpii_to_coco"):
        read_coco_json(REAL / "mmpose_mpii" / "test_mpii.json")


def test_missing_image_file(tmp_path):
    data = _coco_dict()
    data["images"][1]["file_name"] = "gone.jpg"
    with pytest.raises(FileNotFoundError, match=r"1 of 4 image files not found.*gone.jpg "
                                                r"\(image id 40083\)"):
        CocoPoseDataset(data, REAL / "mmpose_coco")
    ds = CocoPoseDataset(data, REAL / "mmpose_coco", check_images=False)
    with pytest.raises(FileNotFoundError, match="gone.jpg"):
        ds.load_image(1)


def test_corrupt_image_fails_at_load(tmp_path):
    data = _coco_dict()
    (tmp_path / data["images"][0]["file_name"]).write_bytes(b"\xff\xd8 not a jpeg")
    for img in data["images"][1:]:
        shutil.copy(REAL / "mmpose_coco" / img["file_name"], tmp_path)
    ds = CocoPoseDataset(data, tmp_path)  # the file exists, so construction succeeds
    with pytest.raises(ValueError, match=r"cannot decode .*000000000785.jpg \(image id 785\)"):
        ds.load_image(0)
    assert ds.load_image(1).shape == (333, 500, 3)


def test_image_size_disagreeing_with_json():
    data = _coco_dict()
    data["images"][0]["width"] = 641
    ds = CocoPoseDataset(data, REAL / "mmpose_coco")
    with pytest.raises(ValueError, match="is 640x425 pixels but annotation dict says 641x425"):
        ds.load_image(0)
