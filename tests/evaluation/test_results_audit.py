"""Results files: a NaN bbox and a boolean image_id are rejected (mutation audit)."""

import json

import pytest

from posekit.evaluation.results import load_results


def _entry(**changes):
    entry = {"image_id": 1, "keypoints": [1, 2, 0.9, 3, 4, 0.8], "score": 0.7,
             "bbox": [5.0, 6.0, 7.0, 8.0]}
    entry.update(changes)
    return entry


@pytest.mark.parametrize("bbox", [[float("nan"), 0, 1, 1], [0, 0, float("inf"), 1],
                                  [0, 0, True, 1]])
def test_non_finite_bbox_in_a_file_is_an_error(tmp_path, bbox):
    path = tmp_path / "preds.json"
    path.write_text(json.dumps([_entry(), _entry(bbox=bbox)]))  # NaN as a JSON extension
    with pytest.raises(ValueError, match=r"entry 1: 'bbox' must be 4 finite numbers"):
        load_results(path, num_keypoints=2)


@pytest.mark.parametrize("image_id", [True, False])
def test_boolean_image_id_is_an_error(tmp_path, image_id):
    path = tmp_path / "preds.json"
    path.write_text(json.dumps([_entry(image_id=image_id)]))
    assert json.loads(path.read_text())[0]["image_id"] is image_id
    with pytest.raises(ValueError, match=f"entry 0: image_id must be an integer, got {image_id}"):
        load_results(path, num_keypoints=2, image_ids={0, 1})
