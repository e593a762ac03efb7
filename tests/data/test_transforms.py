"""posekit.data.transforms: known answers, round trips and content-follows-label checks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posekit.data.transforms import (
    CropSample,
    TopDownAugment,
    WholeImageAffine,
    adjust_color,
    apply_affine,
    box_to_center_scale,
    color_jitter,
    crop_matrix_float32,
    crop_to_image,
    fix_aspect_ratio,
    flip_box_xywh,
    flip_image,
    flip_keypoints,
    get_affine_matrix,
    half_body_center_scale,
    upper_lower_ids,
    warp_image,
)
from posekit.skeletons import COCO17, CROWDPOSE14, MPII16, OPENPOSE18, Skeleton


def _blob_image(h: int, w: int, x0: float, y0: float, sigma: float = 3.0) -> np.ndarray:
    """(h, w, 3) uint8 image, black except a Gaussian dot centred on pixel (x0, y0)."""
    ys, xs = np.mgrid[0:h, 0:w]
    g = 255.0 * np.exp(-((xs - x0) ** 2 + (ys - y0) ** 2) / (2 * sigma**2))
    return np.repeat(np.rint(g).astype(np.uint8)[:, :, None], 3, axis=2)


def _centroid(image: np.ndarray) -> np.ndarray:
    """Intensity-weighted (x, y) centre of channel 0."""
    wgt = image[..., 0].astype(np.float64)
    ys, xs = np.mgrid[0 : wgt.shape[0], 0 : wgt.shape[1]]
    return np.array([(xs * wgt).sum(), (ys * wgt).sum()]) / wgt.sum()


def _person(rng: np.random.Generator, w: int = 160, h: int = 200) -> np.ndarray:
    """(17, 3) COCO keypoints, all visible, scattered in a box in the middle of a w×h image."""
    xy = rng.uniform([0.3 * w, 0.2 * h], [0.7 * w, 0.8 * h], size=(17, 2))
    return np.concatenate([xy, np.full((17, 1), 2.0)], axis=1).astype(np.float32)


# ----------------------------------------------------------------------------- boxes


def test_box_to_center_scale_known_answer() -> None:
    center, scale = box_to_center_scale([10, 20, 40, 80])
    np.testing.assert_allclose(center, [30, 60])
    np.testing.assert_allclose(scale, [50, 100])  # ×1.25 padding
    _, scale1 = box_to_center_scale([10, 20, 40, 80], padding=1.0)
    np.testing.assert_allclose(scale1, [40, 80])


@pytest.mark.parametrize("bad", [[0, 0, 0, 5], [0, 0, 5, -1], [0, 0, 5], [0, np.nan, 5, 5]])
def test_box_to_center_scale_rejects_bad_boxes(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="bbox_xywh"):
        box_to_center_scale(bad)


def test_fix_aspect_ratio_grows_the_shorter_side() -> None:
    # 192×256 input: w/h = 0.75.
    np.testing.assert_allclose(fix_aspect_ratio([30, 100], 0.75), [75, 100])  # too narrow
    np.testing.assert_allclose(fix_aspect_ratio([90, 100], 0.75), [90, 120])  # too wide
    np.testing.assert_allclose(fix_aspect_ratio([75, 100], 0.75), [75, 100])  # already right


# ----------------------------------------------------------------------------- affine


def test_axis_aligned_box_plain_matrix_known_answer() -> None:
    # Box x 10..50, y 20..100 (centre (30, 60), size 40×80) into a 20×40 crop: 0.5 px per px,
    # centre → (w/2, h/2) = (10, 20), box corners → crop corners (0, 0) and (20, 40).
    m = get_affine_matrix([30, 60], [40, 80], 0.0, (20, 40))
    pts = np.array([[30, 60], [10, 20], [50, 100], [50, 20]], dtype=np.float64)
    np.testing.assert_allclose(apply_affine(pts, m), [[10, 20], [0, 0], [20, 40], [20, 0]])
    np.testing.assert_allclose(m, [[0.5, 0, -5], [0, 0.5, -10]], atol=1e-12)


def test_axis_aligned_box_udp_matrix_known_answer() -> None:
    # UDP: box edges → centres of the first and last crop pixels, (out-1)/scale per px.
    m = get_affine_matrix([30, 60], [40, 80], 0.0, (20, 40), udp=True)
    pts = np.array([[30, 60], [10, 20], [50, 100]], dtype=np.float64)
    np.testing.assert_allclose(apply_affine(pts, m), [[9.5, 19.5], [0, 0], [19, 39]], atol=1e-12)
    np.testing.assert_allclose(m[:, :2], np.diag([19 / 40, 39 / 80]), atol=1e-12)


@pytest.mark.parametrize("udp", [False, True])
def test_rotation_90_turns_content_counter_clockwise(udp: bool) -> None:
    # Scale 1 px per px; a point 10 px above the centre ends 10 px left of the crop centre when
    # the content turns 90° counter-clockwise (on screen, y down).
    size = (101, 101) if udp else (100, 100)
    scale = (100, 100)
    m = get_affine_matrix([50, 50], scale, 90.0, size, udp=udp)
    centre = apply_affine(np.array([50.0, 50.0]), m)
    above = apply_affine(np.array([50.0, 40.0]), m)
    right = apply_affine(np.array([60.0, 50.0]), m)
    np.testing.assert_allclose(above - centre, [-10, 0], atol=1e-9)
    np.testing.assert_allclose(right - centre, [0, -10], atol=1e-9)  # right → up


def test_rotation_sign_matches_opencv_get_rotation_matrix() -> None:
    m = get_affine_matrix([40, 30], [64, 64], 33.0, (64, 64))
    ref = cv2.getRotationMatrix2D((40.0, 30.0), 33.0, 1.0)
    np.testing.assert_allclose(m[:, :2], ref[:, :2], atol=1e-12)


def test_plain_matrix_matches_mmpose_three_point_construction() -> None:
    # MMPose's get_warp_matrix: centre ↦ crop centre, centre + R(θ)·(0, -w/2) ↦ crop centre
    # + (0, -out_w/2), third points by a 90° turn; solved by cv2.getAffineTransform.
    center, scale, rot, (ow, oh) = np.array([120.0, 90.0]), np.array([60.0, 80.0]), 25.0, (48, 64)
    t = np.deg2rad(rot)
    r = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])

    def third(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = a - b
        return b + np.array([-d[1], d[0]])

    src0, src1 = center, center + r @ np.array([0.0, -scale[0] / 2])
    dst0 = np.array([ow / 2, oh / 2])
    dst1 = dst0 + np.array([0.0, -ow / 2])
    src = np.float32([src0, src1, third(src0, src1)])
    dst = np.float32([dst0, dst1, third(dst0, dst1)])
    ref = cv2.getAffineTransform(src, dst)
    m = get_affine_matrix(center, fix_aspect_ratio(scale, ow / oh), rot, (ow, oh))
    np.testing.assert_allclose(m, ref, atol=1e-4)


def test_shift_moves_the_crop_centre_by_a_fraction_of_scale() -> None:
    m = get_affine_matrix([50, 60], [40, 80], 0.0, (20, 40), shift=(0.25, -0.1))
    np.testing.assert_allclose(apply_affine(np.array([60.0, 52.0]), m), [10, 20], atol=1e-12)


@pytest.mark.parametrize("udp", [False, True])
def test_crop_to_image_inverts_the_crop(udp: bool) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        center = rng.uniform(-100, 600, size=2)
        scale = rng.uniform(5, 400, size=2)
        rot = rng.uniform(-180, 180)
        size = tuple(int(v) for v in rng.integers(2, 300, size=2))
        pts = rng.uniform(-500, 1000, size=(7, 3, 2))
        m = get_affine_matrix(center, scale, rot, size, udp=udp)
        back = crop_to_image(apply_affine(pts, m), center, scale, rot, size, udp=udp)
        np.testing.assert_allclose(back, pts, atol=1e-6)
        inv = get_affine_matrix(center, scale, rot, size, udp=udp, inverse=True)
        np.testing.assert_allclose(inv, cv2.invertAffineTransform(m), atol=1e-9)


def test_get_affine_matrix_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="scale"):
        get_affine_matrix([0, 0], [0, 10], 0.0, (8, 8))
    with pytest.raises(ValueError, match="output_size"):
        get_affine_matrix([0, 0], [10, 10], 0.0, (8, 0))
    with pytest.raises(ValueError, match="center"):
        get_affine_matrix([0, 0, 0], [10, 10], 0.0, (8, 8))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        apply_affine(np.zeros((4, 3)), np.eye(2, 3))


@pytest.mark.parametrize("udp", [False, True])
@pytest.mark.parametrize("rot", [0.0, 30.0, -75.0])
def test_warp_image_moves_a_dot_to_the_keypoint_crop_position(udp: bool, rot: float) -> None:
    kp = np.array([70.0, 95.0])
    image = _blob_image(180, 140, *kp)
    center, scale = np.array([64.0, 90.0]), fix_aspect_ratio([60.0, 100.0], 48 / 64)
    m = get_affine_matrix(center, scale, rot, (48, 64), udp=udp)
    crop = warp_image(image, m, (48, 64))
    assert crop.shape == (64, 48, 3) and crop.dtype == np.uint8
    expected = apply_affine(kp, m)
    assert np.abs(_centroid(crop) - expected).max() < 0.5, (_centroid(crop), expected)


def test_warp_image_border_and_channels() -> None:
    gray = np.full((10, 10), 200, dtype=np.uint8)
    m = get_affine_matrix([4.5, 4.5], [20, 20], 0.0, (20, 20))  # box twice the image
    out = warp_image(gray, m, (20, 20), border_value=7)
    assert out.shape == (20, 20) and out[0, 0] == 7 and out[10, 10] == 200
    one = warp_image(gray[:, :, None], m, (20, 20))
    assert one.shape == (20, 20, 1)


# ----------------------------------------------------------------------------- flip


def test_flip_keypoints_mirrors_and_swaps_pairs() -> None:
    kpts = np.zeros((2, 17, 3), dtype=np.float32)
    lw, rw = COCO17.index("left_wrist"), COCO17.index("right_wrist")
    nose = COCO17.index("nose")
    kpts[0, lw] = (10.0, 20.0, 2)
    kpts[0, rw] = (30.0, 25.0, 1)
    kpts[0, nose] = (5.0, 6.0, 2)
    out = flip_keypoints(kpts, 100, COCO17.flip_indices)
    np.testing.assert_allclose(out[0, rw], [89.0, 20.0, 2])  # the left wrist, now on the right
    np.testing.assert_allclose(out[0, lw], [69.0, 25.0, 1])
    np.testing.assert_allclose(out[0, nose], [94.0, 6.0, 2])  # unpaired: mirrored only
    assert kpts[0, lw, 0] == 10.0  # input untouched
    np.testing.assert_allclose(flip_keypoints(out, 100, COCO17.flip_indices), kpts)


def test_flip_keypoints_rejects_a_bad_permutation() -> None:
    with pytest.raises(ValueError, match="flip_indices"):
        flip_keypoints(np.zeros((17, 3)), 10, [0] * 17)
    with pytest.raises(ValueError, match="flip_indices"):
        flip_keypoints(np.zeros((17, 3)), 10, list(range(16)))


def test_flip_image_pixels_and_keypoint_stay_on_the_dot() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(30, 41, 3), dtype=np.uint8)
    flipped = flip_image(image)
    for x, y in [(0, 0), (40, 29), (13, 7)]:
        np.testing.assert_array_equal(flipped[y, x], image[y, 40 - x])
    np.testing.assert_array_equal(flip_image(flipped), image)

    dot = _blob_image(60, 81, 20.0, 33.0, sigma=2.0)
    kp = np.zeros((17, 3), dtype=np.float32)
    kp[COCO17.index("left_ankle")] = (20.0, 33.0, 2)
    kp_f = flip_keypoints(kp, 81, COCO17.flip_indices)[COCO17.index("right_ankle")]
    np.testing.assert_allclose(_centroid(flip_image(dot)), kp_f[:2], atol=1e-6)


def test_flip_box_keeps_points_inside_and_is_an_involution() -> None:
    box = np.array([10.0, 5.0, 30.0, 40.0])
    flipped = flip_box_xywh(box, 100)
    np.testing.assert_allclose(flipped, [59.0, 5.0, 30.0, 40.0])  # right edge 40 → 59
    np.testing.assert_allclose(flip_box_xywh(flipped, 100), box)
    pts = np.array([[[10.0, 5.0, 2], [40.0, 45.0, 2], [25.0, 20.0, 2]]], dtype=np.float32)
    fx = flip_keypoints(pts, 100, [0, 1, 2])[0, :, 0]
    assert (fx >= flipped[0] - 1e-6).all() and (fx <= flipped[0] + flipped[2] + 1e-6).all()


# ----------------------------------------------------------------------------- half body


def test_upper_lower_ids_by_name() -> None:
    upper, lower = upper_lower_ids(COCO17)
    assert upper == list(range(11)) and lower == list(range(11, 17))  # MMPose's COCO split
    upper, lower = upper_lower_ids(MPII16)
    assert upper == list(range(7, 16)) and lower == list(range(7))  # MMPose's MPII split
    upper, lower = upper_lower_ids(CROWDPOSE14)
    assert {CROWDPOSE14.keypoint_names[i] for i in upper} >= {"head_top", "neck", "left_wrist"}
    assert {CROWDPOSE14.keypoint_names[i] for i in lower} == {
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    }  # fmt: skip
    upper, lower = upper_lower_ids(OPENPOSE18)
    assert OPENPOSE18.index("neck") in upper and len(upper) + len(lower) == 18


def test_upper_lower_ids_matches_whole_tokens_only() -> None:
    sk = Skeleton("custom", ("left_forearm", "head", "big_toe", "tail"), (), ())
    assert upper_lower_ids(sk) == ([1], [2])  # "forearm" is no ear; "tail" is neither


def _body() -> np.ndarray:
    """COCO person: upper body x 40..60, y 10..50; lower body x 42..58, y 60..100."""
    kpts = np.zeros((17, 3), dtype=np.float32)
    upper = np.linspace([40.0, 10.0], [60.0, 50.0], 11)
    lower = np.linspace([42.0, 60.0], [58.0, 100.0], 6)
    kpts[:11, :2], kpts[11:, :2], kpts[:, 2] = upper, lower, 2
    return kpts


def test_half_body_box_around_the_chosen_half() -> None:
    upper, lower = upper_lower_ids(COCO17)
    rng = np.random.default_rng(0)
    center, scale = half_body_center_scale(_body(), upper, lower, rng, upper_prob=1.0)
    np.testing.assert_allclose(center, [50, 30])
    np.testing.assert_allclose(scale, [30, 60])  # extent 20×40 ×1.5
    center, scale = half_body_center_scale(_body(), upper, lower, rng, upper_prob=0.0)
    np.testing.assert_allclose(center, [50, 80])
    np.testing.assert_allclose(scale, [24, 60])
    # Only labelled points count: drop the lower half's first three → lower has 3 left (ok);
    # unlabel all but two of the lower → the upper half is the only choice.
    kpts = _body()
    kpts[11:15, 2] = 0
    center, _ = half_body_center_scale(kpts, upper, lower, rng, upper_prob=0.0)
    np.testing.assert_allclose(center, [50, 30])


def test_half_body_upper_probability_and_refusals() -> None:
    upper, lower = upper_lower_ids(COCO17)
    rng = np.random.default_rng(3)
    picks = [half_body_center_scale(_body(), upper, lower, rng)[0][1] < 55 for _ in range(2000)]
    assert abs(np.mean(picks) - 0.7) < 0.04
    few = _body()
    few[8:, 2] = 0  # 8 labelled < 9
    assert half_body_center_scale(few, upper, lower, rng) is None
    same = _body()
    same[:, :2] = 5.0  # all points on one pixel: no box
    assert half_body_center_scale(same, upper, lower, rng) is None


# ----------------------------------------------------------------------------- colour


def test_adjust_color_known_answers() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(8, 9, 3), dtype=np.uint8)
    np.testing.assert_array_equal(adjust_color(image), image)
    np.testing.assert_array_equal(adjust_color(image, hue_shift=1.0), image)  # full turn
    flat = np.full((4, 4, 3), 100, dtype=np.uint8)
    np.testing.assert_array_equal(adjust_color(flat, brightness=1.5), 150)
    np.testing.assert_array_equal(adjust_color(flat, brightness=3.0), 255)  # clipped
    no_contrast = adjust_color(image, contrast=0.0)
    assert np.ptp(no_contrast) == 0
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float64).mean()
    assert abs(int(no_contrast[0, 0, 0]) - gray) <= 0.5
    desat = adjust_color(image, saturation=0.0)
    np.testing.assert_array_equal(desat[..., 0], desat[..., 1])
    np.testing.assert_array_equal(desat[..., 0], image.max(axis=2))  # V = max channel
    red = np.zeros((2, 2, 3), dtype=np.uint8)
    red[..., 2] = 255
    np.testing.assert_array_equal(adjust_color(red, hue_shift=1 / 3)[0, 0], [0, 255, 0])
    np.testing.assert_array_equal(adjust_color(red, hue_shift=-1 / 3)[0, 0], [255, 0, 0])


def test_color_jitter_is_seeded_and_bounded() -> None:
    image = np.random.default_rng(0).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    a = color_jitter(image, np.random.default_rng(5))
    b = color_jitter(image, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.uint8 and a.shape == image.shape and not np.array_equal(a, image)
    same = color_jitter(image, np.random.default_rng(5), 0.0, 0.0, 0.0, 0.0)
    np.testing.assert_array_equal(same, image)
    with pytest.raises(ValueError, match="BGR uint8"):
        color_jitter(image.astype(np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="hue"):
        color_jitter(image, np.random.default_rng(0), hue=0.7)


# ----------------------------------------------------------------------------- augment


def _call(aug: TopDownAugment, image: np.ndarray, kpts: np.ndarray, box, seed: int | None,
          train: bool = True, size: tuple[int, int] = (48, 64)) -> CropSample:
    upper, lower = upper_lower_ids(COCO17)
    return aug(
        image, kpts, box, input_size=size, flip_indices=COCO17.flip_indices,
        upper_ids=upper, lower_ids=lower,
        rng=None if seed is None else np.random.default_rng(seed), train=train,
    )


def test_eval_crop_is_deterministic_and_equals_the_plain_affine() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(200, 160, 3), dtype=np.uint8)
    kpts = _person(rng)
    box = [50.0, 40.0, 60.0, 120.0]
    for udp in (False, True):
        aug = TopDownAugment(udp=udp)
        s1 = _call(aug, image, kpts, box, None, train=False)
        s2 = _call(aug, image, kpts, box, 123, train=False)
        center, scale = box_to_center_scale(box)
        scale = fix_aspect_ratio(scale, 48 / 64)
        m = get_affine_matrix(center, scale, 0.0, (48, 64), udp=udp)
        np.testing.assert_array_equal(s1.image, s2.image)
        # the crop matrix is computed in float32 as MMPose's; within 1e-5 of the float64 one
        np.testing.assert_allclose(s1.matrix, m, rtol=0, atol=1e-5)
        exact = crop_matrix_float32(center, scale, 0.0, (48, 64), udp=udp)
        np.testing.assert_array_equal(s1.matrix, exact)
        np.testing.assert_array_equal(s1.image, warp_image(image, exact, (48, 64)))
        np.testing.assert_allclose(s1.keypoints[:, :2], apply_affine(kpts[:, :2], m), atol=1e-4)
        np.testing.assert_allclose(s1.center, center)
        np.testing.assert_allclose(s1.scale, scale)
        assert s1.rotation == 0.0 and not s1.flipped and s1.image.shape == (64, 48, 3)
        back = crop_to_image(s1.keypoints[:, :2], s1.center, s1.scale, 0.0, (48, 64), udp=udp)
        np.testing.assert_allclose(back, kpts[:, :2], atol=1e-3)


def test_keypoints_leaving_the_crop_get_v0() -> None:
    image = np.zeros((200, 160, 3), dtype=np.uint8)
    kpts = _person(np.random.default_rng(0))
    kpts[3] = (2.0, 2.0, 2)  # far outside the box
    kpts[4] = (80.0, 100.0, 0)  # inside but unlabelled
    original = kpts.copy()
    s = _call(TopDownAugment(), image, kpts, [50.0, 40.0, 60.0, 120.0], None, train=False)
    x, y = s.keypoints[:, 0], s.keypoints[:, 1]
    inside = (x >= -0.5) & (x < 47.5) & (y >= -0.5) & (y < 63.5)
    assert s.keypoints[3, 2] == 0 and not inside[3]
    assert s.keypoints[4, 2] == 0
    np.testing.assert_array_equal(s.keypoints[inside & (original[:, 2] > 0), 2], 2)
    np.testing.assert_array_equal(kpts, original)  # input untouched


def test_train_is_reproducible_per_seed() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(200, 160, 3), dtype=np.uint8)
    kpts = _person(rng)
    box = [40.0, 30.0, 80.0, 140.0]
    aug = TopDownAugment()
    a, b = _call(aug, image, kpts, box, 7), _call(aug, image, kpts, box, 7)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.keypoints, b.keypoints)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    others = [_call(aug, image, kpts, box, s) for s in range(8, 12)]
    assert any(not np.array_equal(a.matrix, o.matrix) for o in others)


@pytest.mark.parametrize("udp", [False, True])
def test_train_crop_keypoint_sits_on_its_dot_after_flip_and_jitter(udp: bool) -> None:
    # One dot at the left wrist. With a forced flip the dot must appear where the crop's
    # *right* wrist is, through random shift/scale/rotation.
    lw, rw = COCO17.index("left_wrist"), COCO17.index("right_wrist")
    kpts = _person(np.random.default_rng(0))
    kpts[lw] = (82.0, 101.0, 2)
    image = _blob_image(200, 160, 82.0, 101.0)
    aug = TopDownAugment(flip_prob=1.0, half_body_prob=0.0, color_jitter=False,
                         scale_range=(0.9, 1.3), rotate_prob=1.0, udp=udp)
    for seed in range(6):
        s = _call(aug, image, kpts, [50.0, 40.0, 64.0, 120.0], seed)
        assert s.flipped
        assert s.keypoints[rw, 2] == 2
        assert np.abs(_centroid(s.image) - s.keypoints[rw, :2]).max() < 0.5
        # The stored matrix maps the original image's wrist to the same crop point.
        np.testing.assert_allclose(apply_affine(kpts[lw, :2], s.matrix), s.keypoints[rw, :2],
                                   atol=1e-3)


def test_train_parameter_distribution_follows_mmpose_defaults() -> None:
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    kpts = _person(np.random.default_rng(0), 64, 64)
    box = [20.0, 10.0, 24.0, 40.0]
    aug = TopDownAugment(half_body_prob=0.0, color_jitter=False)
    base = fix_aspect_ratio(box_to_center_scale(box)[1], 12 / 16)
    rng = np.random.default_rng(0)
    upper, lower = upper_lower_ids(COCO17)
    samples = [
        aug(image, kpts, box, input_size=(12, 16), flip_indices=COCO17.flip_indices,
            upper_ids=upper, lower_ids=lower, rng=rng)
        for _ in range(600)
    ]
    flips = np.mean([s.flipped for s in samples])
    rots = np.array([s.rotation for s in samples])
    factors = np.array([s.scale / base for s in samples])  # (600, 2), equal columns
    assert abs(flips - 0.5) < 0.07
    assert abs(np.mean(rots != 0) - 0.6) < 0.07
    assert np.abs(rots).max() <= 80.0
    np.testing.assert_allclose(factors[:, 0], factors[:, 1])
    assert factors.min() >= 0.5 and factors.max() <= 1.5 and factors.std() > 0.15


def test_half_body_in_augment_crops_around_one_half() -> None:
    image = np.zeros((120, 100, 3), dtype=np.uint8)
    aug = TopDownAugment(flip_prob=0.0, half_body_prob=1.0, half_body_upper_prob=1.0,
                         shift_prob=0.0, scale_prob=0.0, rotate_prob=0.0, color_jitter=False)
    s = _call(aug, image, _body(), [38.0, 8.0, 24.0, 94.0], 0)
    np.testing.assert_allclose(s.center, [50, 30])
    np.testing.assert_allclose(s.scale, fix_aspect_ratio([30, 60], 48 / 64))
    assert (s.keypoints[:11, 2] == 2).all()  # the upper body is in the crop
    assert (s.keypoints[13:, 2] == 0).all()  # knees and ankles are not


def test_augment_input_errors() -> None:
    image = np.zeros((50, 50, 3), dtype=np.uint8)
    kpts = _person(np.random.default_rng(0), 50, 50)
    box = [10.0, 10.0, 20.0, 30.0]
    aug = TopDownAugment()
    with pytest.raises(ValueError, match="rng"):
        aug(image, kpts, box, input_size=(12, 16), train=True)
    with pytest.raises(ValueError, match="flip_indices"):
        aug(image, kpts, box, input_size=(12, 16), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="upper_ids"):
        aug(image, kpts, box, input_size=(12, 16), flip_indices=COCO17.flip_indices,
            rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(K, 3\)"):
        aug(image, kpts[None], box, input_size=(12, 16), train=False)
    with pytest.raises(ValueError, match="BGR uint8"):
        aug(image[..., 0], kpts, box, input_size=(12, 16), train=False)
    with pytest.raises(ValueError, match="input_size"):
        aug(image, kpts, box, input_size=(12.5, 16), train=False)
    with pytest.raises(ValueError, match="flip_prob"):
        TopDownAugment(flip_prob=1.5)
    with pytest.raises(ValueError, match="scale_range"):
        TopDownAugment(scale_range=(1.5, 0.5))


def test_half_body_rejects_out_of_range_ids() -> None:
    with pytest.raises(ValueError, match="lower_ids"):
        half_body_center_scale(_body(), [0, 1], [16, 17], np.random.default_rng(0))


# ----------------------------------------------------------------------------- whole image


def test_whole_image_fit_known_answers() -> None:
    # 200×100 image into 100×100: factor 0.5
    centred = WholeImageAffine((100, 100)).matrix((200, 100))
    # centre pixel (99.5, 49.5) → output centre (49.5, 49.5); corners keep the 0.5 factor
    np.testing.assert_allclose(apply_affine(np.array([[99.5, 49.5], [199.5, 49.5]]), centred),
                               [[49.5, 49.5], [99.5, 49.5]], atol=1e-12)
    letterbox = WholeImageAffine((100, 100), align="top_left").matrix((200, 100))
    np.testing.assert_array_equal(letterbox, [[0.5, 0, 0], [0, 0.5, 0]])


def test_whole_image_scale_and_rotation_about_the_output_centre() -> None:
    rng = np.random.default_rng(0)
    aff = WholeImageAffine((100, 100), scale_range=(2.0, 2.0), rotate_deg=90.0,
                           align="top_left")
    mat = aff.matrix((100, 100), rng)
    angle = np.random.default_rng(0).uniform(-90, 90, 2)[1]  # f is drawn first, then r
    # the output centre (50, 50) stays; a point 10 px right of it turns by r and doubles
    t = np.deg2rad(angle)
    got = apply_affine(np.array([[50.0, 50.0], [60.0, 50.0]]), mat)
    np.testing.assert_allclose(got, [[50, 50], [50 + 20 * np.cos(t), 50 - 20 * np.sin(t)]],
                               atol=1e-9)


def test_whole_image_draws_the_shift_only_when_asked() -> None:
    for shift, draws in ((0.0, 2), (0.1, 4)):  # f, r (+ the two shift components)
        rng = np.random.default_rng(7)
        WholeImageAffine((64, 64), scale_range=(0.5, 1.5), rotate_deg=30.0,
                         shift=shift).matrix((80, 60), rng)
        assert rng.random() == np.random.default_rng(7).random(draws + 1)[-1]


def test_whole_image_normal_rotation_is_clipped() -> None:
    aff = WholeImageAffine((64, 64), rotate_deg=10.0, rotation="normal")
    angles = []
    for seed in range(200):
        m = aff.matrix((64, 64), np.random.default_rng(seed))
        angles.append(np.rad2deg(np.arctan2(m[0, 1], m[0, 0])))
    assert max(np.abs(angles)) == pytest.approx(10.0)  # σ = 5°: some draws beyond 2σ clip
    with pytest.raises(ValueError, match="rotation must be"):
        WholeImageAffine((64, 64), rotation="gaussian")


@pytest.mark.parametrize("udp", [False, True])
@pytest.mark.parametrize("rot", [0.0, 33.0, -70.0])
def test_crop_matrix_float32_is_the_float64_matrix_to_1e4(udp, rot):
    """MMPose's float32 arithmetic, the same map as get_affine_matrix (rotation sign included)
    for an aspect-fixed scale."""
    scale = fix_aspect_ratio([90.6, 100.0], 192 / 256)
    a = crop_matrix_float32([120.3, 88.7], scale, rot, (192, 256), udp=udp)
    b = get_affine_matrix([120.3, 88.7], scale, rot, (192, 256), udp=udp)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-4)
