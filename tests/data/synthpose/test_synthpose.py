"""SynthPose: determinism, visibility true to the drawing, left/right by facing, proportions,
COCO validity (pycocotools scores its own ground truth at AP 1), crowd levels, errors."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.data.synthpose import (
    CROWD_LEVELS,
    KEYPOINT_PARTS,
    PROPORTIONS,
    Material,
    Part,
    PersonParams,
    RenderedImage,
    format_summary,
    generate_dataset,
    image_rng,
    person_keypoints,
    render_image,
    render_person,
    sample_person,
    view_of,
)
from posekit.skeletons import COCO17

K = COCO17.num_keypoints
IDX = {name: i for i, name in enumerate(COCO17.keypoint_names)}
PAIRS = [(IDX[f"left_{n}"], IDX[f"right_{n}"]) for n in
         ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")]


@pytest.fixture(scope="module")
def renders() -> list[RenderedImage]:
    """A fixed sample of rendered images at every crowd level."""
    out = []
    for crowd in CROWD_LEVELS:
        out += [render_image(image_rng(11, "test", crowd, i), 256, crowd) for i in range(25)]
    return out


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    root = tmp_path_factory.mktemp("synth")
    summary = generate_dataset(root, 12, seed=7, size=192, crowd="dense", split="train")
    data = json.loads((root / "annotations" / "person_keypoints_train.json").read_text())
    return root, data, summary


def _people(renders: list[RenderedImage]):
    for r in renders:
        for p in r.people:
            yield r, p


def _axis(degrees: float) -> np.ndarray:
    """Image direction of a body's own x axis after an in-plane rotation (y down)."""
    return np.array([math.cos(math.radians(degrees)), math.sin(math.radians(degrees))])


def _neutral(height: float = 200.0, yaw: float = 0.0) -> PersonParams:
    """Average proportions, arms and legs hanging, no lean/roll/rotation, pelvis at (0, 0)."""
    return PersonParams(
        height=height, lengths={k: v * height for k, v in PROPORTIONS.items()}, girth=1.0,
        yaw=yaw, head_yaw=yaw, lean=0.0, neck_roll=0.0, rotation=0.0, center=(0.0, 0.0),
        shoulder=(0.0, 0.0), shoulder_plane=(0.0, 0.0), elbow=(0.0, 0.0), humeral=(0.0, 0.0),
        hip=(0.0, 0.0), hip_plane=(90.0, 90.0), knee=(0.0, 0.0),
    )


# ---- determinism -----------------------------------------------------------------------------


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_same_seed_gives_identical_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    a, b, c, d = (tmp_path / n for n in "abcd")
    generate_dataset(a, 6, seed=3, crowd="normal")
    generate_dataset(b, 6, seed=3, crowd="normal")
    generate_dataset(c, 6, seed=3, crowd="normal", workers=2)
    generate_dataset(d, 6, seed=4, crowd="normal")
    ta, tb, tc, td = (_tree_bytes(x) for x in (a, b, c, d))
    assert len(ta) == 7  # 6 JPEGs + the json
    assert ta == tb == tc
    assert ta.keys() == td.keys() and ta != td
    assert all(ta[k] != td[k] for k in ta if k.endswith(".jpg"))


def test_image_rng_depends_on_every_key() -> None:
    ref = image_rng(0, "val", "normal", 0).random()
    assert image_rng(0, "val", "normal", 0).random() == ref
    for args in ((1, "val", "normal", 0), (0, "train", "normal", 0), (0, "val", "dense", 0),
                 (0, "val", "normal", 1)):
        assert image_rng(*args).random() != ref


# ---- visibility: true to the label maps -----------------------------------------------------


def test_visibility_is_read_from_what_was_drawn(renders: list[RenderedImage]) -> None:
    """v=0 ⇔ the nearest pixel centre is outside the image; v=2 ⇔ that pixel is owned by the
    person, shows one of the keypoint's own parts and the keypoint faces the camera; every other
    in-image keypoint is v=1, and each cause of v=1 occurs in the sample."""
    causes = {"other_owner": 0, "own_other_part": 0, "self_hidden": 0}
    for r, p in _people(renders):
        size_y, size_x = r.owner.shape
        for k, (x, y, v) in enumerate(p.keypoints):
            u, w = math.floor(x + 0.5), math.floor(y + 0.5)
            if not (0 <= u < size_x and 0 <= w < size_y):
                assert v == 0, (k, x, y, v)
                continue
            mine = r.owner[w, u] == p.owner_id
            own_part = mine and Part(r.part[w, u]) in KEYPOINT_PARTS[k]
            if own_part and not p.self_hidden[k]:
                assert v == 2, (k, x, y)
                continue
            assert v == 1, (k, x, y, v)
            if not mine:
                causes["other_owner"] += 1
            elif not own_part:
                causes["own_other_part"] += 1
            else:
                causes["self_hidden"] += 1
    assert all(n > 0 for n in causes.values()), causes


def test_v1_by_another_person_or_object_is_common_in_dense_scenes(
    renders: list[RenderedImage],
) -> None:
    dense = [r for r in renders if r.crowd == "dense"]
    by_other = total = 0
    for r, p in _people(dense):
        inside = p.keypoints[:, 2] > 0
        for x, y, _ in p.keypoints[inside]:
            owner = r.owner[math.floor(y + 0.5), math.floor(x + 0.5)]
            by_other += owner not in (0, p.owner_id)
            total += 1
    assert by_other / total > 0.05


def test_visible_face_keypoints_sit_on_the_drawn_features(renders: list[RenderedImage]) -> None:
    """A visible eye of a large person is on a drawn eye; a visible ear on skin (the ear)."""
    checked = 0
    for r, p in _people(renders):
        if p.params.height < 150:
            continue
        for name, materials in (("left_eye", {Material.EYE}), ("right_eye", {Material.EYE}),
                                ("left_ear", {Material.SKIN}), ("right_ear", {Material.SKIN})):
            x, y, v = p.keypoints[IDX[name]]
            if v == 2:
                assert Material(r.material[math.floor(y + 0.5), math.floor(x + 0.5)]) in materials
                checked += 1
    assert checked >= 10


def test_area_and_bbox_are_the_owned_pixels(renders: list[RenderedImage]) -> None:
    for r, p in _people(renders):
        mask = r.owner == p.owner_id
        assert p.area == int(mask.sum())
        if p.area == 0:
            assert p.bbox == (0.0, 0.0, 0.0, 0.0)
            assert not (p.keypoints[:, 2] == 2).any()
            continue
        rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        # Box edges on pixel borders (pixel-centre convention).
        assert p.bbox == (cols[0] - 0.5, rows[0] - 0.5, cols[-1] - cols[0] + 1.0,
                          rows[-1] - rows[0] + 1.0)


# ---- left and right by facing ----------------------------------------------------------------


def test_left_is_image_right_from_the_front_and_image_left_from_the_back(
    renders: list[RenderedImage],
) -> None:
    counts = {"front": 0, "back": 0}
    for _, p in _people(renders):
        q = p.params
        if q.view not in counts:
            continue
        sign = 1.0 if q.view == "front" else -1.0
        kp = p.keypoints[:, :2]
        for (left, right), axis in (
            (PAIRS[2], _axis(q.rotation + q.lean)),  # shoulders turn with the torso lean
            (PAIRS[5], _axis(q.rotation)),  # hips
        ):
            assert sign * (kp[left] - kp[right]) @ axis > 0, (q.view, q.yaw)
        if view_of(q.head_yaw) == q.view:
            eyes = kp[PAIRS[0][0]] - kp[PAIRS[0][1]]
            assert sign * eyes @ _axis(q.rotation + q.lean + q.neck_roll) > 0
        counts[q.view] += 1
    assert counts["front"] >= 20 and counts["back"] >= 10, counts


def test_back_of_the_head_hides_the_face_and_profile_hides_the_far_side(
    renders: list[RenderedImage],
) -> None:
    seen = {"back": 0, "profile": 0}
    for _, p in _people(renders):
        q = p.params
        v = p.keypoints[:, 2]
        if abs((q.head_yaw + 180) % 360 - 180) >= 150:  # head seen from behind
            assert p.self_hidden[[IDX["nose"], IDX["left_eye"], IDX["right_eye"]]].all()
            assert (v[[IDX["nose"], IDX["left_eye"], IDX["right_eye"]]] < 2).all()
            seen["back"] += 1
        if q.view == "profile":
            far = "left" if math.sin(math.radians(q.yaw)) > 0 else "right"
            near = "right" if far == "left" else "left"
            assert p.self_hidden[IDX[f"{far}_shoulder"]] and v[IDX[f"{far}_shoulder"]] < 2
            assert not p.self_hidden[IDX[f"{near}_shoulder"]]
            seen["profile"] += 1
    assert seen["back"] >= 5 and seen["profile"] >= 10, seen


@pytest.mark.parametrize("yaw", [-15.0, 0.0, 20.0, 160.0, 180.0, -165.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_face_on_the_front_of_the_head_hair_on_the_back(yaw: float, seed: int) -> None:
    """Head pixels of a lone person: skin with two eyes and a mouth facing the camera, hair
    (and at most the ears' skin) from behind."""
    p = dataclasses.replace(_neutral(200.0, yaw), center=(128.0, 130.0))
    r = render_person(p, 256, seed)
    head = (r.owner == 1) & (r.part == Part.HEAD)
    mats = r.material[head]
    skin, hair = (mats == Material.SKIN).mean(), (mats == Material.HAIR).mean()
    eyes = int((mats == Material.EYE).sum())
    if abs(yaw) < 90:
        assert skin > hair and eyes > 0 and (mats == Material.MOUTH).any()
        assert (r.people[0].keypoints[[IDX["nose"], IDX["left_eye"], IDX["right_eye"]], 2]
                == 2).all()
    else:
        assert skin < 0.2 and eyes == 0 and hair > 0.5
        assert (r.people[0].keypoints[[IDX["nose"], IDX["left_eye"], IDX["right_eye"]], 2]
                == 1).all()


def test_shirt_front_shows_only_from_the_front() -> None:
    """Neckline or buttons/zip (skin or trim on the torso) face the camera only from the front."""
    for seed in range(6):
        front = render_person(dataclasses.replace(_neutral(200.0, 0.0), center=(128, 130)), 256,
                              seed)
        back = render_person(dataclasses.replace(_neutral(200.0, 180.0), center=(128, 130)),
                             256, seed)
        cues = [((r.owner == 1) & (r.part == Part.TORSO)
                 & np.isin(r.material, [Material.SKIN, Material.TRIM])).sum()
                for r in (front, back)]
        assert cues[0] > 0 and cues[1] == 0


def test_left_and_right_share_materials(renders: list[RenderedImage]) -> None:
    """No colour code: each left limb part is dressed exactly like its right twin."""
    twins = [(Part.UPPER_ARM_L, Part.UPPER_ARM_R), (Part.FOREARM_L, Part.FOREARM_R),
             (Part.THIGH_L, Part.THIGH_R), (Part.SHANK_L, Part.SHANK_R),
             (Part.FOOT_L, Part.FOOT_R), (Part.HAND_L, Part.HAND_R)]
    compared = 0
    for r, p in _people(renders):
        mine = r.owner == p.owner_id
        for a, b in twins:
            ma = set(np.unique(r.material[mine & (r.part == a)]).tolist())
            mb = set(np.unique(r.material[mine & (r.part == b)]).tolist())
            if ma and mb:
                assert ma == mb, (a, b, ma, mb)
                compared += 1
    assert compared > 100


def test_left_and_right_are_equally_often_visible(renders: list[RenderedImage]) -> None:
    kp = np.stack([p.keypoints for _, p in _people(renders)])  # (N, K, 3)
    left = np.concatenate([kp[:, a, 2] for a, _ in PAIRS])
    right = np.concatenate([kp[:, b, 2] for _, b in PAIRS])
    assert abs((left == 2).mean() - (right == 2).mean()) < 0.05


# ---- body model ------------------------------------------------------------------------------


def test_neutral_figure_has_the_reference_proportions() -> None:
    """Known answers from Winter's height fractions: shoulders 0.818 H, hips 0.530 H, ankles
    0.039 H, eyes and ears ≈ 0.936 H; upper arm 0.186 H, forearm 0.146 H."""
    h = 200.0
    kp, hidden = person_keypoints(_neutral(h))
    floor_y = kp[IDX["left_hip"], 1] + 0.530 * h  # the hips are 0.530 H above the floor
    height_of = {n: (floor_y - kp[IDX[n], 1]) / h for n in IDX}
    for name, ref in (("left_shoulder", 0.818), ("left_hip", 0.530), ("left_knee", 0.285),
                      ("left_ankle", 0.039)):
        assert height_of[name] == pytest.approx(ref, abs=1e-9)
    for name in ("left_eye", "right_eye"):
        assert height_of[name] == pytest.approx(0.936, abs=0.002)
    for name in ("left_ear", "right_ear"):  # ears level with the eyes (within 5 % of a head)
        assert abs(height_of[name] - height_of["left_eye"]) < 0.05 / 7.5
    assert height_of["nose"] < height_of["left_eye"]
    ls, le, lw = kp[IDX["left_shoulder"]], kp[IDX["left_elbow"]], kp[IDX["left_wrist"]]
    assert np.linalg.norm(le - ls) == pytest.approx(0.186 * h)
    assert np.linalg.norm(lw - le) == pytest.approx(0.146 * h)
    # Front view: the person's left on the image right; shoulders wider than hips.
    shoulders = kp[IDX["left_shoulder"], 0] - kp[IDX["right_shoulder"], 0]
    hips = kp[IDX["left_hip"], 0] - kp[IDX["right_hip"], 0]
    assert shoulders == pytest.approx((0.259 - 0.6 * 0.040) * h)
    assert hips == pytest.approx(0.8 * 0.191 * h)
    assert kp[IDX["left_eye"], 0] > kp[IDX["nose"], 0] > kp[IDX["right_eye"], 0]
    assert kp[IDX["left_ear"], 0] > kp[IDX["left_eye"], 0]
    assert not hidden.any()


def test_turning_the_body_mirrors_or_hides_the_sides() -> None:
    front, _ = person_keypoints(_neutral(yaw=0.0))
    back, back_hidden = person_keypoints(_neutral(yaw=180.0))
    np.testing.assert_allclose(back[:, 0], -front[:, 0], atol=1e-9)  # mirror: left on the left
    assert back_hidden[[IDX["nose"], IDX["left_eye"], IDX["right_eye"]]].all()
    assert not back_hidden[[IDX["left_ear"], IDX["right_ear"]]].any()  # ears show from behind
    side, side_hidden = person_keypoints(_neutral(yaw=90.0))  # facing the image right
    assert abs(side[IDX["left_shoulder"], 0] - side[IDX["right_shoulder"], 0]) < 1e-9
    assert side[IDX["nose"], 0] > side[IDX["left_ear"], 0]  # the nose points where it faces
    assert side_hidden[[IDX["left_shoulder"], IDX["left_hip"], IDX["left_ear"],
                        IDX["left_eye"]]].all()
    assert not side_hidden[[IDX["right_shoulder"], IDX["right_eye"], IDX["nose"]]].any()


def test_knees_bend_backwards_and_elbows_forwards() -> None:
    p = dataclasses.replace(_neutral(yaw=90.0), knee=(90.0, 90.0), elbow=(90.0, 90.0))
    kp, _ = person_keypoints(p)  # facing +x: forward is the image right
    assert kp[IDX["left_ankle"], 0] < kp[IDX["left_knee"], 0] - 0.2 * p.height
    assert kp[IDX["left_wrist"], 0] > kp[IDX["left_elbow"], 0] + 0.1 * p.height


def test_sampled_people_stay_within_the_reference_ranges() -> None:
    rng = np.random.default_rng(0)
    ranges = {"shoulder": (-45, 180), "elbow": (0, 150), "hip": (-30, 120), "knee": (0, 150)}
    views = set()
    for _ in range(400):
        p = sample_person(rng, 100.0, (50.0, 50.0))
        for name, (lo, hi) in ranges.items():
            assert all(lo <= a <= hi for a in getattr(p, name)), (name, getattr(p, name))
        assert abs(p.lean) <= 30 and abs(p.neck_roll) <= 45
        if not p.child:
            for key, frac in PROPORTIONS.items():
                assert 0.9 * frac * 100 <= p.lengths[key] <= 1.1 * frac * 100
        views.add(p.view)
    assert views == {"front", "back", "profile", "three_quarter"}


def test_view_names() -> None:
    assert [view_of(y) for y in (0, 35, 50, 90, -100, 130, 180, -150, 360)] == [
        "front", "front", "three_quarter", "profile", "profile", "three_quarter", "back", "back",
        "front"]


# ---- crowd levels ----------------------------------------------------------------------------


def test_crowd_levels_follow_their_ranges_and_are_ordered(renders: list[RenderedImage]) -> None:
    drawn = {c: [] for c in CROWD_LEVELS}
    visible = {c: [] for c in CROWD_LEVELS}
    for r in renders:
        lo, hi = CROWD_LEVELS[r.crowd].people
        assert lo <= len(r.people) <= hi
        assert any(p.area > 0 for p in r.people)
        drawn[r.crowd].append(len(r.people))
        visible[r.crowd].append(sum(p.area > 0 for p in r.people))
    for counts in (drawn, visible):
        means = [np.mean(counts[c]) for c in ("sparse", "normal", "dense")]
        assert means[0] < means[1] < means[2], means


# ---- the COCO dataset ------------------------------------------------------------------------


def test_dataset_layout_and_categories(dataset: tuple[Path, dict, dict]) -> None:
    root, data, _ = dataset
    assert [c["name"] for c in data["categories"]] == ["person"]
    cat = data["categories"][0]
    assert cat["id"] == 1 and cat["keypoints"] == list(COCO17.keypoint_names)
    assert cat["skeleton"] == [[a + 1, b + 1] for a, b in COCO17.limbs]
    assert [im["id"] for im in data["images"]] == list(range(1, 13))
    for im in data["images"]:
        assert im["file_name"] == f"{im['id']:012d}.jpg"
        assert (im["width"], im["height"], im["crowd"], im["seed"]) == (192, 192, "dense", 7)
        img = cv2.imread(str(root / "images" / "train" / im["file_name"]))
        assert img is not None and img.shape == (192, 192, 3)


def test_annotations_are_within_bounds_and_consistent(dataset: tuple[Path, dict, dict]) -> None:
    _, data, _ = dataset
    anns = data["annotations"]
    assert [a["id"] for a in anns] == list(range(1, len(anns) + 1))
    size = 192
    for a in anns:
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(K, 3)
        v = kp[:, 2]
        assert set(v.tolist()) <= {0.0, 1.0, 2.0}
        assert a["num_keypoints"] == int((v > 0).sum())
        lab = kp[v > 0, :2]
        assert ((lab >= -0.5) & (lab < size - 0.5)).all()  # nearest pixel centre in the image
        assert (kp[v == 0, :2] == 0).all()  # COCO: unlabelled → (0, 0, 0)
        x, y, w, h = a["bbox"]
        assert x >= -0.5 and y >= -0.5 and x + w <= size - 0.5 and y + h <= size - 0.5
        assert 0 < a["area"] <= w * h
        vis = kp[v == 2, :2]  # visible points lie on the person's own pixels, so in the box
        assert ((vis >= [x, y]) & (vis <= [x + w, y + h])).all()
        assert a["iscrowd"] == 0 and a["category_id"] == 1


def test_json_is_what_render_image_draws(dataset: tuple[Path, dict, dict]) -> None:
    """Each image entry re-renders from (seed, split, crowd, index): same people, same numbers."""
    root, data, _ = dataset
    by_image: dict[int, list[dict]] = {}
    for a in data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    for im in data["images"][:4]:
        r = render_image(image_rng(7, "train", "dense", im["id"] - 1), 192, "dense")
        people = [p for p in r.people if p.area > 0]
        anns = by_image.get(im["id"], [])
        assert len(anns) == len(people)
        for a, p in zip(anns, people, strict=True):
            assert a["area"] == int((r.owner == p.owner_id).sum())
            assert a["bbox"] == list(p.bbox)
            kp = np.asarray(a["keypoints"]).reshape(K, 3)
            lab = p.keypoints[:, 2] > 0
            np.testing.assert_array_equal(kp[lab], p.keypoints[lab])
        ok, jpg = cv2.imencode(".jpg", r.image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        assert ok and (root / "images" / "train" / im["file_name"]).read_bytes() == jpg.tobytes()


def test_pycocotools_scores_the_ground_truth_at_ap_1(dataset: tuple[Path, dict, dict]) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    root, data, _ = dataset
    ann_file = root / "annotations" / "person_keypoints_train.json"
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann_file))
        assert len(gt.getAnnIds()) == len(data["annotations"])
        results = [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
                    "score": 1.0} for a in data["annotations"] if a["num_keypoints"] > 0]
        ev = COCOeval(gt, gt.loadRes(results), "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_summary_matches_the_files(dataset: tuple[Path, dict, dict]) -> None:
    root, data, s = dataset
    anns = data["annotations"]
    assert s["num_images"] == 12 and s["num_people"] == len(anns)
    per_image = np.bincount([a["image_id"] for a in anns], minlength=13)[1:]
    assert s["people_per_image"] == {"mean": pytest.approx(per_image.mean()),
                                     "min": per_image.min(), "max": per_image.max()}
    v = np.array([a["keypoints"][2::3] for a in anns]).ravel()
    for k in (0, 1, 2):
        assert s["visibility"][f"v{k}"] == pytest.approx((v == k).mean())
    assert sum(s["views"].values()) == pytest.approx(1.0)
    assert s["sqrt_area"]["p10"] <= s["sqrt_area"]["p50"] <= s["sqrt_area"]["p90"]
    assert s["images_per_s"] > 0
    text = format_summary(s)
    assert f"{len(anns)} (per image mean" in text and "images/s" in text and str(root) in text


def test_cli_synth_writes_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from posekit.cli import main

    assert main(["synth", "--out", str(tmp_path), "--num-images", "2", "--crowd", "sparse",
                 "--size", "128", "--seed", "5"]) == 0
    assert "SynthPose: 2 images 128x128" in capsys.readouterr().out
    data = json.loads((tmp_path / "annotations" / "person_keypoints_val.json").read_text())
    assert len(data["images"]) == 2
    assert main(["synth", "--out", str(tmp_path), "--num-images", "0"]) == 2
    assert "num_images must be at least 1, got 0" in capsys.readouterr().err


# ---- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "exc", "match"), [
    ({"num_images": 0}, ValueError, "num_images must be at least 1, got 0"),
    ({"num_images": 2.5}, TypeError, "num_images must be an int, got float"),
    ({"size": 32}, ValueError, "size must be at least 64 pixels, got 32"),
    ({"crowd": "huge"}, ValueError, "crowd must be one of .*'huge'"),
    ({"workers": 0}, ValueError, "workers must be at least 1, got 0"),
    ({"seed": -1}, ValueError, "seed must be non-negative, got -1"),
    ({"split": "a/b"}, ValueError, "split must be a plain folder name.*'a/b'"),
])
def test_bad_arguments_are_rejected(tmp_path: Path, kwargs: dict, exc: type, match: str) -> None:
    args = {"num_images": 1, **kwargs}
    with pytest.raises(exc, match=match):
        generate_dataset(tmp_path, args.pop("num_images"), **args)
    assert not (tmp_path / "annotations").exists()


def test_render_image_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="size must be at least 64 pixels, got 63"):
        render_image(0, size=63)
    with pytest.raises(ValueError, match="crowd must be one of"):
        render_image(0, crowd="packed")
