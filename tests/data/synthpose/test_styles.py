"""Rendering styles: every style renders with visibility true to its label map, deterministic per
seed, families pick among their styles, and the classic default keeps its bytes."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest

from posekit.data.synthpose import (
    FAMILIES,
    KEYPOINT_PARTS,
    STYLES,
    Material,
    Part,
    generate_dataset,
    parse_styles,
    render_image,
    render_person,
    render_scene,
    sample_person,
)
from posekit.data.synthpose.prior import sample_person_broad

ALL = sorted(STYLES)


def _check_truthful(out, size: int) -> tuple[int, int, int]:
    """Every v equals what the label map says at the keypoint's nearest pixel."""
    counts = [0, 0, 0]
    for p in out.people:
        for k, (x, y, v) in enumerate(p.keypoints):
            u, w = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
            if not (0 <= u < size and 0 <= w < size):
                assert v == 0
            else:
                mine = (out.owner[w, u] == p.owner_id
                        and Part(out.part[w, u]) in KEYPOINT_PARTS[k])
                assert v == (2 if mine and not p.self_hidden[k] else 1)
            counts[int(v)] += 1
        if p.area:
            assert p.area == int((out.owner == p.owner_id).sum())
    return tuple(counts)


@pytest.mark.parametrize("style", ALL)
def test_each_style_renders_with_truthful_visibility(style: str) -> None:
    counts = np.zeros(3, dtype=int)
    for seed in range(12):
        out = render_image(seed, 160, "normal", style)
        assert out.image.shape == (160, 160, 3) and out.image.dtype == np.uint8
        assert any(p.area > 0 for p in out.people)
        counts += _check_truthful(out, 160)
    assert counts[2] > 0 and counts[1] > 0


@pytest.mark.parametrize("style", ALL)
def test_each_style_is_deterministic_per_seed(style: str) -> None:
    a, b = render_image(7, 128, "dense", style), render_image(7, 128, "dense", style)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.owner, b.owner)
    assert all(np.array_equal(p.keypoints, q.keypoints) for p, q in zip(a.people, b.people,
                                                                         strict=True))
    c = render_image(8, 128, "dense", style)
    assert not np.array_equal(a.image, c.image)


def test_styles_differ_from_each_other() -> None:
    imgs = {s: np.stack([render_image(i, 128, "normal", s).image for i in range(3)])
            for s in ALL}
    digests = {hashlib.md5(i.tobytes()).hexdigest() for i in imgs.values()}
    assert len(digests) == len(ALL)


def test_silhouette_paints_each_person_one_colour_before_shading() -> None:
    """With flat colour, skin and shirt pixels of one person share a hue (no garment cue)."""
    from posekit.data.synthpose.styles.silhouette import STYLE

    rng = np.random.default_rng(0)
    look = STYLE.sample_look(rng, 100.0)
    assert look.flat is not None
    params = sample_person(np.random.default_rng(1), 120.0, (80.0, 90.0))
    out = render_person(params, 160, seed=2, style="silhouette")
    _check_truthful(out, 160)


def test_carried_objects_are_drawn_and_belong_to_nobody() -> None:
    from posekit.data.synthpose.figure import _build_figure
    from posekit.data.synthpose.styles import _varied

    odds = _varied.LookOdds(carry=1.0, shadow=0.0)
    seen = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        look = _varied.sample_varied_look(rng, 120.0, odds)
        assert look.carry in {"bag", "stick", "ball"}
        params = sample_person(rng, 120.0, (80.0, 90.0))
        fig = _build_figure(params, look)
        image = np.zeros((160, 160, 3), np.uint8)
        label = np.zeros((160, 160), np.uint16)
        _varied.draw_person_varied(image, label, fig, look, 1, 120.0, rng)
        owned = label > 0
        painted = image.any(axis=2)
        # pixels painted but owned by nobody are the carried object (the only non-body drawing)
        seen += int((painted & ~owned).sum() > 0)
        assert not np.any(((label & 31) == 0) & owned)  # every owned pixel has a part
    assert seen >= 5
    assert int(Material.OBJECT) < 16


def test_broad_prior_stays_within_the_reference_ranges() -> None:
    rng = np.random.default_rng(0)
    ranges = {"shoulder": (-45, 180), "elbow": (0, 150), "hip": (-30, 120), "knee": (0, 150)}
    lying = 0
    for _ in range(300):
        p = sample_person_broad(rng, 100.0, (50.0, 50.0))
        for name, (lo, hi) in ranges.items():
            assert all(lo <= a <= hi for a in getattr(p, name)), (name, getattr(p, name))
        assert abs(p.lean) <= 30 and abs(p.neck_roll) <= 45
        lying += abs(abs(p.rotation) - 90) < 30
    assert lying > 10


def test_families_and_lists_pick_among_their_styles() -> None:
    assert [s.name for s in parse_styles("capsules, blocks")] == ["capsules", "blocks"]
    assert "blocks" not in FAMILIES["train"] and "classic" in FAMILIES["train"]
    assert set(FAMILIES["random"]) == set(STYLES) - {"classic"}
    with pytest.raises(ValueError, match="unknown style"):
        parse_styles("capsules,nope")
    a = render_image(11, 128, "normal", "train")
    b = render_image(11, 128, "normal", "train")
    assert np.array_equal(a.image, b.image)
    out = render_scene(4, 128, num_people=3, style="random")
    assert len(out.people) == 3
    _check_truthful(out, 128)


def test_style_dataset_is_deterministic_and_records_its_style(tmp_path: Path) -> None:
    s1 = generate_dataset(tmp_path / "a", 3, seed=1, size=128, style="random")
    s2 = generate_dataset(tmp_path / "b", 3, seed=1, size=128, style="random", workers=2)
    for name in ("000000000001.jpg", "000000000003.jpg"):
        assert (tmp_path / "a/images/val" / name).read_bytes() == \
            (tmp_path / "b/images/val" / name).read_bytes()
    d = json.loads(Path(s1["annotation_file"]).read_text())
    assert d["info"]["style"] == "random"
    assert Path(s2["annotation_file"]).read_text() == Path(s1["annotation_file"]).read_text()
    c = generate_dataset(tmp_path / "c", 3, seed=1, size=128)  # classic: a different stream
    assert (tmp_path / "c/images/val/000000000001.jpg").read_bytes() != \
        (tmp_path / "a/images/val/000000000001.jpg").read_bytes()
    assert "style" not in json.loads(Path(c["annotation_file"]).read_text())["info"]


def test_speed_is_measured_not_asserted(capsys: pytest.CaptureFixture) -> None:
    for style in ALL:
        start = time.perf_counter()
        for i in range(5):
            render_image(i, 256, "normal", style)
        rate = 5 / (time.perf_counter() - start)
        print(f"{style}: {rate:.0f} images/s")
    assert "classic" in capsys.readouterr().out


def test_camera_warp_moves_points_with_the_pixels_under_them() -> None:
    """A marked 5×5 block under each point must still be under the warped point (a warp of the
    points by the inverse matrix, or with a half-pixel slip of the block, fails)."""
    from posekit.data.synthpose.camera import camera_warp

    rng_pts = np.random.default_rng(0)
    warped_any = 0
    for seed in range(30):
        pts = rng_pts.uniform(40, 216, (6, 2))
        label = np.zeros((256, 256), np.uint16)
        for j, (x, y) in enumerate(pts):
            u, w = int(round(x)), int(round(y))
            label[w - 2:w + 3, u - 2:u + 3] = j + 1
        image = np.zeros((256, 256, 3), np.uint8)
        _, lab, out = camera_warp(np.random.default_rng(seed), image, label, [(pts, pts[:1])])
        moved = out[0][0]
        warped_any += not np.allclose(moved, pts)
        for j, (x, y) in enumerate(moved):
            u, w = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
            if 1 <= u < 255 and 1 <= w < 255:
                assert lab[w, u] == j + 1, (seed, j)
    assert warped_any >= 10
