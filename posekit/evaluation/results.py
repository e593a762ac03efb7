"""COCO keypoint results files: load and validate before pycocotools ever sees them.

A results file is a JSON list of ``{image_id, category_id, keypoints: [x, y, score] * K, score}``
(``bbox`` optional). pycocotools answers a malformed one with an ``AssertionError`` or a
``KeyError`` from deep inside; here every problem is one ``ValueError`` naming the file and entry.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from posekit.data.coco import load_json_file
from posekit.errors import DataWarning

__all__ = ["load_results", "warn_about_results"]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_list(values: Any) -> bool:
    return isinstance(values, list) and all(_is_number(v) and math.isfinite(v) for v in values)


def load_results(
    path_or_list: str | Path | Sequence[dict],
    *,
    num_keypoints: int | None = None,
    image_ids: set[int] | None = None,
    category_id: int = 1,
) -> list[dict]:
    """Validated copies of COCO keypoint results (the input is never mutated).

    Args:
        path_or_list: a results json file, or the list of result dicts itself.
        num_keypoints: K; each ``keypoints`` must then hold 3K numbers.
        image_ids: the ground truth's image ids; results on other images are errors.
        category_id: the ground truth's person category; filled in where missing, and an
            entry with another category is an error (pycocotools would silently skip it).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not JSON, not a list, or an entry that is incomplete or non-finite; the
            message names the file and the entry index.
    """
    if isinstance(path_or_list, (str, Path)):
        where = f"results file {path_or_list}"
        raw = load_json_file(path_or_list, "results file")
    else:
        where = "results list"
        raw = path_or_list
    if isinstance(raw, dict):
        hint = " (this looks like a ground-truth file)" if "annotations" in raw else ""
        raise ValueError(f"{where}: expected a JSON list of result objects, got an object{hint}")
    if not isinstance(raw, (list, tuple)):
        raise ValueError(f"{where}: expected a JSON list of result objects, "
                         f"got {type(raw).__name__}")

    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: entry {i} must be an object, got {type(entry).__name__}")
        for key in ("image_id", "keypoints", "score"):
            if key not in entry:
                raise ValueError(f"{where}: entry {i} is missing {key!r}")
        image_id = entry["image_id"]
        if not isinstance(image_id, int) or isinstance(image_id, bool):
            raise ValueError(f"{where}: entry {i}: image_id must be an integer, got {image_id!r}")
        if image_ids is not None and image_id not in image_ids:
            raise ValueError(f"{where}: entry {i}: image_id {image_id} is not in the ground truth")
        kpts = entry["keypoints"]
        if not isinstance(kpts, list) or len(kpts) % 3 or not kpts:
            got = len(kpts) if isinstance(kpts, list) else type(kpts).__name__
            raise ValueError(f"{where}: entry {i}: 'keypoints' must be a list of 3K numbers, "
                             f"got {got}")
        if num_keypoints is not None and len(kpts) != 3 * num_keypoints:
            raise ValueError(
                f"{where}: entry {i}: 'keypoints' has {len(kpts)} values, expected "
                f"{3 * num_keypoints} ({num_keypoints} keypoints × 3)"
            )
        if not _finite_list(kpts):
            raise ValueError(f"{where}: entry {i}: 'keypoints' must be finite numbers")
        score = entry["score"]
        if not (_is_number(score) and math.isfinite(score)):
            raise ValueError(f"{where}: entry {i}: 'score' must be a finite number, got {score!r}")
        result = dict(entry)
        result["keypoints"] = [float(v) for v in kpts]
        result["score"] = float(score)
        if entry.get("category_id", category_id) != category_id:
            raise ValueError(
                f"{where}: entry {i}: category_id {entry['category_id']!r} is not the ground "
                f"truth's person category {category_id}"
            )
        result["category_id"] = category_id
        if "bbox" in entry:
            box = entry["bbox"]
            if not (_finite_list(box) and len(box) == 4):
                raise ValueError(f"{where}: entry {i}: 'bbox' must be 4 finite numbers, "
                                 f"got {box!r}")
            result["bbox"] = [float(v) for v in box]
        out.append(result)
    return out


def warn_about_results(results: Sequence[dict], where: str) -> None:
    """Warn about a results file that COCO scores without complaint but is likely a mistake:
    an empty one (every AP is 0), or one whose entries repeat exactly (each copy counts as
    another detection of the same person, i.e. a false positive)."""
    if not results:
        warnings.warn(DataWarning(f"{where} holds no results: every AP and AR is 0"),
                      stacklevel=2)
        return
    seen: set[str] = set()
    repeats = 0
    for entry in results:
        key = json.dumps([entry["image_id"], entry["keypoints"], entry["score"]])
        repeats += key in seen
        seen.add(key)
    if repeats:
        warnings.warn(DataWarning(
            f"{where}: {repeats} of {len(results)} results repeat an earlier one exactly (same "
            "image, keypoints and score); COCO scores every copy as another detection, so the "
            "copies count as false positives"), stacklevel=2)
