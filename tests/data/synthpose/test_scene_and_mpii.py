"""SynthPose scenes with an exact head count, and MPII-16 output from the same figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posekit.data.synthpose import (
    EXTRA_KEYPOINTS,
    Part,
    format_summary,
    generate_dataset,
    render_image,
    render_scene,
)
from posekit.skeletons import COCO17, MPII16

IDX = {n: i for i, n in enumerate(COCO17.keypoint_names)}


@pytest.mark.parametrize("n", [1, 3, 7, 20])
def test_render_scene_draws_exactly_n_people(n: int) -> None:
    for seed in range(3):
        out = render_scene(seed, 160, num_people=n)
        assert len(out.people) == n
        ids = set(np.unique(out.owner).tolist())
        # Every drawn person with area > 0 owns pixels under its own id.
        for p in out.people:
            assert (p.area > 0) == (p.owner_id in ids)


def test_render_scene_is_deterministic_and_rejects_bad_counts() -> None:
    a, b = render_scene(5, 128, num_people=4), render_scene(5, 128, num_people=4)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.owner, b.owner)
    with pytest.raises(ValueError, match="num_people must be in 1..99, got 0"):
        render_scene(0, 128, num_people=0)
    with pytest.raises(TypeError, match="num_people must be an int, got float"):
        render_scene(0, 128, num_people=2.0)


def test_extra_points_sit_where_mpii_puts_them() -> None:
    """Head top above the eyes, upper neck between the eyes and the shoulders, thorax between
    the shoulders, pelvis at the mid-hip (the placement centre), all upright people."""
    checked = 0
    for seed in range(40):
        for p in render_image(seed, 256, "sparse").people:
            if abs(p.params.rotation) > 15 or abs(p.params.lean) > 10:
                continue
            k, e = p.keypoints[:, :2], dict(zip(EXTRA_KEYPOINTS, p.extra[:, :2], strict=True))
            eyes = 0.5 * (k[IDX["left_eye"]] + k[IDX["right_eye"]])
            sh = 0.5 * (k[IDX["left_shoulder"]] + k[IDX["right_shoulder"]])
            hips = 0.5 * (k[IDX["left_hip"]] + k[IDX["right_hip"]])
            assert e["head_top"][1] < eyes[1] < e["upper_neck"][1] < sh[1] + 0.02 * p.params.height
            assert abs(e["thorax"][1] - sh[1]) < 0.06 * p.params.height
            np.testing.assert_allclose(e["pelvis"], p.params.center, atol=0.01)
            np.testing.assert_allclose(e["pelvis"], hips, atol=0.03 * p.params.height)
            checked += 1
    assert checked >= 10


def test_extra_visibility_is_read_from_the_label_map() -> None:
    own = {"head_top": {Part.HEAD}, "upper_neck": {Part.NECK, Part.HEAD},
           "thorax": {Part.TORSO, Part.NECK}, "pelvis": {Part.TORSO}}
    counts = np.zeros(3, dtype=int)
    for seed in range(15):
        out = render_image(seed, 192, "dense")
        for p in out.people:
            for name, (x, y, v) in zip(EXTRA_KEYPOINTS, p.extra, strict=True):
                u, w = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
                inside = 0 <= u < 192 and 0 <= w < 192
                if not inside:
                    assert v == 0
                else:
                    mine = out.owner[w, u] == p.owner_id and Part(out.part[w, u]) in own[name]
                    assert v == (2 if mine else 1), (seed, name)
                counts[int(v)] += 1
    assert counts.min() > 0  # all three cases occur


def test_mpii_dataset_uses_mpii_names_and_the_same_images(tmp_path: Path) -> None:
    coco = generate_dataset(tmp_path / "c", 3, seed=2, size=128, skeleton="coco17")
    mpii = generate_dataset(tmp_path / "m", 3, seed=2, size=128, skeleton="mpii")
    for i in range(1, 4):
        name = f"{i:012d}.jpg"
        assert (tmp_path / "c/images/val" / name).read_bytes() == \
            (tmp_path / "m/images/val" / name).read_bytes()
    dc = json.loads(Path(coco["annotation_file"]).read_text())
    dm = json.loads(Path(mpii["annotation_file"]).read_text())
    assert dm["categories"][0]["keypoints"] == list(MPII16.keypoint_names)
    assert dm["info"]["skeleton"] == "mpii16"
    assert "style=classic, skeleton=mpii16)" in format_summary(mpii)
    assert len(dc["annotations"]) == len(dm["annotations"])
    for ac, am in zip(dc["annotations"], dm["annotations"], strict=True):
        kc = np.array(ac["keypoints"]).reshape(17, 3)
        km = np.array(am["keypoints"]).reshape(16, 3)
        for j, name in enumerate(MPII16.keypoint_names):
            if name in IDX:  # the shared points are the COCO points, unchanged
                np.testing.assert_array_equal(km[j], kc[IDX[name]])
        assert am["bbox"] == ac["bbox"] and am["area"] == ac["area"]


def test_unknown_skeleton_and_style_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="skeleton must be coco17 or mpii16"):
        generate_dataset(tmp_path, 1, skeleton="aic")
    with pytest.raises(ValueError, match="unknown style"):
        generate_dataset(tmp_path, 1, style="watercolour")
    assert not (tmp_path / "annotations").exists()
