"""Known answers and properties of the top-down crop (mutation audit: the flipped crop
centre is W − 1 − c, not W − c; hypothesis for crop ↔ image round trips and flip ∘ flip = id)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.data.transforms import (
    TopDownAugment,
    apply_affine,
    crop_to_image,
    flip_box_xywh,
    flip_keypoints,
    get_affine_matrix,
    upper_lower_ids,
)
from posekit.skeletons import COCO17

NO_JITTER = dict(half_body_prob=0.0, scale_range=(1.0, 1.0), rotate_prob=0.0, shift_factor=0.0,
                 color_jitter=False)


@pytest.mark.parametrize("udp", [False, True])
def test_flipped_crop_is_the_mirror_of_the_plain_crop(udp):
    """Forced flip, no jitter: a keypoint at crop x in the plain crop lands at out − x (plain
    mapping: the crop centre is out/2) or out − 1 − x (UDP: (out − 1)/2), label swapped. With
    the centre mirrored as W − c instead of W − 1 − c every point moves by one image pixel."""
    rng = np.random.default_rng(0)
    width, height, out = 160, 200, (48, 64)
    kpts = np.concatenate([rng.uniform(40, 120, (17, 2)), np.full((17, 1), 2.0)], axis=1)
    image = np.zeros((height, width, 3), np.uint8)
    box = np.array([37.0, 41.0, 70.0, 120.0])
    upper, lower = upper_lower_ids(COCO17)
    kw = dict(input_size=out, flip_indices=COCO17.flip_indices, upper_ids=upper,
              lower_ids=lower, train=True)
    plain = TopDownAugment(flip_prob=0.0, udp=udp, **NO_JITTER)(
        image, kpts, box, rng=np.random.default_rng(1), **kw)
    flipped = TopDownAugment(flip_prob=1.0, udp=udp, **NO_JITTER)(
        image, kpts, box, rng=np.random.default_rng(1), **kw)
    assert flipped.flipped and not plain.flipped
    mirror = out[0] - (1 if udp else 0)
    perm = COCO17.flip_indices
    np.testing.assert_allclose(flipped.keypoints[:, 0], mirror - plain.keypoints[perm, 0],
                               atol=1e-4)
    np.testing.assert_allclose(flipped.keypoints[:, 1], plain.keypoints[perm, 1], atol=1e-4)
    np.testing.assert_allclose(flipped.center, [width - 1 - plain.center[0], plain.center[1]])


finite = st.floats(-500, 500, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(cx=finite, cy=finite, sw=st.floats(5, 400), sh=st.floats(5, 400),
       rot=st.floats(-180, 180), ow=st.integers(2, 300), oh=st.integers(2, 300),
       udp=st.booleans(), px=finite, py=finite)
def test_crop_and_back_is_identity(cx, cy, sw, sh, rot, ow, oh, udp, px, py):
    points = np.array([[px, py], [cx, cy]])
    to_crop = get_affine_matrix((cx, cy), (sw, sh), rot, (ow, oh), udp=udp)
    back = crop_to_image(apply_affine(points, to_crop), (cx, cy), (sw, sh), rot, (ow, oh),
                         udp=udp)
    np.testing.assert_allclose(back, points, atol=1e-6 * (1 + np.abs(points).max()))
    # the box centre goes to the crop centre: out/2 (plain) or (out − 1)/2 (UDP)
    centre = np.array([ow, oh], float) - (1 if udp else 0)
    np.testing.assert_allclose(apply_affine(np.array([cx, cy]), to_crop), centre / 2,
                               atol=1e-6 * (1 + abs(cx) + abs(cy)))


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 2000), seed=st.integers(0, 10_000))
def test_flip_twice_is_identity(width, seed):
    rng = np.random.default_rng(seed)
    kpts = np.concatenate([rng.uniform(-50, width + 50, (3, 17, 2)),
                           rng.integers(0, 3, (3, 17, 1))], axis=2).astype(np.float32)
    once = flip_keypoints(kpts, width, COCO17.flip_indices)
    np.testing.assert_allclose(flip_keypoints(once, width, COCO17.flip_indices), kpts, atol=1e-3)
    # a point mirrors to W − 1 − x (pixel centres), labels swap
    np.testing.assert_allclose(once[:, COCO17.flip_indices, 0], width - 1 - kpts[..., 0],
                               atol=1e-3)
    box = rng.uniform(0, width, 4)
    np.testing.assert_allclose(flip_box_xywh(flip_box_xywh(box, width), width), box, atol=1e-9)
