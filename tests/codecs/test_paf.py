"""Known answers for the PAF codec: hand-placed skeletons on tiny stride-1 grids."""

import numpy as np
import pytest

from posekit.codecs.paf import PafCodec, ignore_mask_from_annotations, image_to_map, map_to_image
from posekit.skeletons import OPENPOSE18


def _person(points: dict[int, tuple[float, float]]) -> np.ndarray:
    k = np.zeros((OPENPOSE18.num_keypoints, 3))
    for j, (x, y) in points.items():
        k[j] = (x, y, 2)
    return k


def test_confidence_map_is_talks_formula_literally():
    codec = PafCodec((9, 7), stride=1, sigma=2.0)
    s = codec.confidence_maps(_person({0: (4, 3)})[None])
    assert s[0, 3, 4] == pytest.approx(1.0)
    # exp(-d²/σ²), not exp(-d²/(2σ²)): d = 2 px, σ = 2 → e^-1.
    assert s[0, 3, 6] == pytest.approx(np.exp(-1.0), rel=1e-6)
    assert s[0, 5, 6] == pytest.approx(np.exp(-8 / 4), rel=1e-6)
    assert np.all(s[1:18] == 0)  # unlabelled parts stay empty
    assert np.allclose(s[18], 1 - s[0])  # background


def test_confidence_map_max_not_sum_over_people():
    codec = PafCodec((9, 3), stride=1, sigma=2.0)
    s = codec.confidence_maps(np.stack([_person({0: (3, 1)}), _person({0: (5, 1)})]))
    assert s[0, 1, 4] == pytest.approx(np.exp(-1 / 4))  # max of two equal values, not the sum
    assert s[0, 1, 3] == pytest.approx(1.0)


def test_paf_horizontal_limb_inside_rectangle():
    # limb 0 = (neck 1, r_shoulder 2): neck at (2, 5), shoulder at (8, 5), width 1.
    codec = PafCodec((12, 11), stride=1, limb_width=1.0)
    paf = codec.part_affinity_fields(_person({1: (2, 5), 2: (8, 5)})[None])
    inside = np.zeros((11, 12), bool)
    inside[4:7, 2:9] = True  # |y − 5| ≤ 1, 2 ≤ x ≤ 8
    # CMU stores limb (neck, r_shoulder) in PAF pair 6 (channels 12, 13), not pair 0.
    assert np.array_equal(paf[12] != 0, inside)
    assert np.allclose(paf[12][inside], 1.0) and np.all(paf[13] == 0)
    others = np.delete(paf, [12, 13], axis=0)
    assert np.all(others == 0)  # other limbs have an unlabelled end


def test_paf_direction_goes_from_first_to_second_part():
    codec = PafCodec((7, 9), stride=1, limb_width=0.5)
    # limb 12 = (neck 1, nose 0), CMU pair 14: pointing up (−y) from neck (3, 7) to nose (3, 1).
    paf = codec.part_affinity_fields(_person({1: (3, 7), 0: (3, 1)})[None])
    assert np.allclose(paf[28][1:8, 3], 0) and np.allclose(paf[29][1:8, 3], -1)
    assert paf[29][0, 3] == 0 and paf[29][8, 3] == 0  # beyond the ends


def test_paf_diagonal_and_average_over_people():
    codec = PafCodec((12, 12), stride=1, limb_width=1.0)
    a = _person({1: (1, 1), 2: (9, 9)})  # diagonal
    b = _person({1: (1, 5), 2: (10, 5)})  # horizontal, crosses a at (5, 5)
    paf = codec.part_affinity_fields(np.stack([a, b]))
    r = 1 / np.sqrt(2)
    assert np.allclose(paf[12:14, 5, 5], [(r + 1) / 2, r / 2])  # n_c(p) = 2 → average
    assert np.allclose(paf[12:14, 2, 2], [r, r])  # only a
    assert np.allclose(paf[12:14, 5, 10], [1, 0])  # only b
    norms = np.hypot(paf[12], paf[13])
    assert norms.max() <= 1 + 1e-6


def test_unlabelled_end_contributes_nothing():
    codec = PafCodec((10, 10), stride=1)
    p = _person({1: (1, 1), 2: (8, 1)})
    p[2, 2] = 0  # shoulder unlabelled, coordinates still present
    assert np.all(codec.part_affinity_fields(p[None]) == 0)


def test_stride_maps_pixel_centres():
    assert np.allclose(image_to_map(np.array([3.5, -0.5]), 8), [0.0, -0.5])
    assert np.allclose(map_to_image(image_to_map(np.array([10.0, 37.25]), 8), 8), [10.0, 37.25])
    codec = PafCodec((4, 4), stride=8, sigma=1.0)
    s = codec.confidence_maps(_person({0: (11.5, 19.5)})[None])  # centre of map pixel (1, 2)
    assert s[0, 2, 1] == pytest.approx(1.0)


def test_mask_zero_over_crowd_and_unlabelled_people():
    anns = [
        {"iscrowd": 1, "bbox": [0, 0, 8, 8], "num_keypoints": 0},
        {"iscrowd": 0, "bbox": [16, 16, 8, 8], "num_keypoints": 0},
        {"iscrowd": 0, "bbox": [24, 0, 8, 8], "num_keypoints": 5},  # labelled: not masked
    ]
    ignore = ignore_mask_from_annotations(anns, (32, 32))
    w = PafCodec((4, 4), stride=8).mask(ignore)
    expected = np.ones((4, 4), np.float32)
    expected[0, 0] = 0
    expected[2, 2] = 0
    assert np.array_equal(w, expected)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="openpose18"):
        PafCodec((4, 4)).encode(np.zeros((1, 17, 3)))
