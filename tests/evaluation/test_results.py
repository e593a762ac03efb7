"""load_results: validated copies, and one clear error (file + entry index) per problem."""

from __future__ import annotations

import copy
import json

import pytest

from posekit.evaluation.results import load_results

K = 2


def _entries() -> list[dict]:
    return [
        {"image_id": 1, "keypoints": [1, 2, 0.9, 3, 4, 0.8], "score": 0.7},
        {"image_id": 2, "category_id": 1, "keypoints": [5, 6, 1, 7, 8, 1], "score": 1,
         "bbox": [0, 0, 10, 10]},
    ]


def test_valid_list_is_copied_and_completed():
    entries = _entries()
    before = copy.deepcopy(entries)
    out = load_results(entries, num_keypoints=K, image_ids={1, 2})
    assert entries == before
    assert out[0]["category_id"] == 1 and out[0]["keypoints"] == [1.0, 2.0, 0.9, 3.0, 4.0, 0.8]
    assert out[1]["score"] == 1.0 and isinstance(out[1]["score"], float)
    assert out[1]["bbox"] == [0.0, 0.0, 10.0, 10.0]
    out[0]["keypoints"][0] = 99
    assert entries[0]["keypoints"][0] == 1
    assert load_results([], num_keypoints=K) == []


def test_file_round_trip_and_custom_category(tmp_path):
    path = tmp_path / "res.json"
    entries = _entries()
    del entries[1]["category_id"]
    path.write_text(json.dumps(entries))
    out = load_results(path, num_keypoints=K, category_id=7)
    assert [r["category_id"] for r in out] == [7, 7]


def _edit(index, **changes):
    def apply(entries):
        entry = entries[index]
        for key, value in changes.items():
            if value is KeyError:
                del entry[key]
            else:
                entry[key] = value
    return apply


CASES = [
    (_edit(1, image_id=KeyError), "entry 1 is missing 'image_id'"),
    (_edit(0, keypoints=KeyError), "entry 0 is missing 'keypoints'"),
    (_edit(1, score=KeyError), "entry 1 is missing 'score'"),
    (_edit(0, keypoints=[1, 2, 3]), r"entry 0: 'keypoints' has 3 values, expected 6 "
                                    r"\(2 keypoints × 3\)"),
    (_edit(0, keypoints=[1, 2]), "entry 0: 'keypoints' must be a list of 3K numbers, got 2"),
    (_edit(1, keypoints=[1, 2, 3, float("nan"), 5, 6]), "entry 1: 'keypoints' must be finite"),
    (_edit(1, keypoints=[1, 2, 3, "a", 5, 6]), "entry 1: 'keypoints' must be finite"),
    (_edit(0, score=float("inf")), "entry 0: 'score' must be a finite number"),
    (_edit(0, score=True), "entry 0: 'score' must be a finite number"),
    (_edit(1, image_id=3), "entry 1: image_id 3 is not in the ground truth"),
    (_edit(1, image_id="2"), "entry 1: image_id must be an integer, got '2'"),
    (_edit(1, category_id=2), "entry 1: category_id 2 is not the ground truth's person category"),
    (_edit(1, bbox=[0, 0, 1]), "entry 1: 'bbox' must be 4 finite numbers"),
]


@pytest.mark.parametrize(("edit", "message"), CASES, ids=[m[:32] for _, m in CASES])
def test_bad_entries_name_file_and_index(tmp_path, edit, message):
    entries = _entries()
    edit(entries)
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(entries))  # NaN/Infinity are written as JSON extensions
    with pytest.raises(ValueError, match=message) as info:
        load_results(path, num_keypoints=K, image_ids={1, 2})
    assert str(info.value).startswith(f"results file {path}: ")


def test_not_json_not_a_list_not_an_object(tmp_path):
    path = tmp_path / "preds.json"
    path.write_text('[{"image_id": 1,}]')
    with pytest.raises(ValueError, match=r"preds.json: not valid JSON \(line 1, column 17"):
        load_results(path)
    path.write_text('{"images": [], "annotations": [], "categories": []}')
    with pytest.raises(ValueError, match="expected a JSON list .* looks like a ground-truth file"):
        load_results(path)
    path.write_text("[1]")
    with pytest.raises(ValueError, match="entry 0 must be an object, got int"):
        load_results(path)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        load_results(tmp_path / "missing.json")
