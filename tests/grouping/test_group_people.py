"""Grouping known answers: maps rendered from known people are grouped back into them."""

import numpy as np
import pytest

from posekit.grouping import GroupingConfig, find_peaks, group_people, match_limb
from posekit.grouping.scenes import random_people, render_maps
from posekit.skeletons import COCO17, OPENPOSE18, convert_keypoints


def _match_people(pred: np.ndarray, gt18: np.ndarray, tol: float = 1.01) -> int:
    """Number of GT people whose every labelled COCO part is found within ``tol`` px by one
    predicted person, and which that person does not label elsewhere."""
    gt = convert_keypoints(gt18, OPENPOSE18, COCO17)
    ok = 0
    for g in gt:
        lab = g[:, 2] > 0
        for p in pred:
            same_set = np.array_equal(p[:, 2] > 0, lab)
            close = np.all(np.hypot(*(p[lab, :2] - g[lab, :2]).T) <= tol)
            if same_set and close:
                ok += 1
                break
    return ok


@pytest.mark.parametrize("n,size,missing", [(2, (200, 160), 0.0), (5, (320, 240), 0.3),
                                            (20, (640, 480), 0.2)])
@pytest.mark.parametrize("matcher", ["greedy", "hungarian"])
def test_rendered_people_are_recovered(n, size, missing, matcher):
    rng = np.random.default_rng(n)
    people = random_people(n, size, rng, missing=missing)
    people[:, :, :2] = np.round(people[:, :, :2])  # integer peaks: exact recovery
    heatmaps, pafs = render_maps(people, size)
    cfg = GroupingConfig(matcher=matcher)
    found = group_people(heatmaps, pafs, cfg)
    assert len(found) == n
    assert _match_people(found.keypoints.data.numpy(), people) == n
    assert found.keypoints.num_keypoints == 17
    assert np.all(found.scores.numpy() > 0.4)


def test_crossing_limbs_are_assigned_to_their_owner():
    size = (240, 200)
    rng = np.random.default_rng(3)
    people = random_people(2, size, rng)
    # Person 0's left arm reaches right, person 1's right arm reaches left: the forearms cross.
    a, b = people[0], people[1]
    a[6, :2] = a[5, :2] + (40, 10)
    a[7, :2] = a[6, :2] + (45, -8)
    b[3, :2] = b[2, :2] + (-40, 12)
    b[4, :2] = b[3, :2] + (-45, -20)
    people[:, :, :2] = np.round(people[:, :, :2])
    heatmaps, pafs = render_maps(people, size)
    found = group_people(heatmaps, pafs, GroupingConfig.cmu())
    assert len(found) == 2 and _match_people(found.keypoints.data.numpy(), people) == 2


def test_background_channel_optional_and_openpose_output():
    size = (200, 160)
    people = np.round(random_people(2, size, np.random.default_rng(0)))
    people[:, :, 2] = 2
    heatmaps, pafs = render_maps(people, size)
    a = group_people(heatmaps, pafs)
    b = group_people(heatmaps[:18], pafs, GroupingConfig(output="openpose18"))
    assert b.keypoints.num_keypoints == 18 and len(a) == len(b) == 2
    assert np.allclose(np.sort(b.keypoints.data[:, 1, 0].numpy()),
                       np.sort(people[:, 1, 0]))  # the neck is reported


def test_min_parts_and_mean_score_drop_people():
    size = (200, 160)
    people = np.round(random_people(2, size, np.random.default_rng(1)))
    people[0, 2:, 2] = 0  # person 0 keeps nose + neck only: 2 parts
    heatmaps, pafs = render_maps(people, size)
    assert len(group_people(heatmaps, pafs, GroupingConfig(min_parts=4))) == 1
    assert len(group_people(heatmaps, pafs, GroupingConfig(min_parts=2))) == 2
    # The mean score counts peak scores and limb scores (≈ 1 each here) over the parts.
    weak = heatmaps * 0.3
    assert len(group_people(weak, pafs, GroupingConfig(min_mean_score=1.0))) == 1
    assert len(group_people(weak, pafs, GroupingConfig(min_mean_score=1.5))) == 0


def test_peaks_subpixel_and_threshold():
    hm = np.zeros((1, 21, 21))
    yy, xx = np.mgrid[:21, :21]
    hm[0] = np.exp(-((xx - 10.3) ** 2 + (yy - 7.8) ** 2) / 8)
    p = find_peaks(hm, GroupingConfig(smooth_sigma=0, subpixel=False))[0]
    assert p.shape == (1, 3) and tuple(p[0, :2]) == (10, 8)
    q = find_peaks(hm, GroupingConfig(smooth_sigma=0, subpixel=True))[0]
    assert abs(q[0, 0] - 10.3) < 0.05 and abs(q[0, 1] - 7.8) < 0.05
    assert len(find_peaks(hm * 0.09, GroupingConfig(smooth_sigma=0))[0]) == 0


def test_greedy_vs_hungarian_known_answer():
    # Greedy takes the best pair (0,0)=0.9 and then only (1,1)=0.1; Hungarian finds 0.8+0.8.
    score = np.array([[0.9, 0.8], [0.8, 0.1]])
    valid = np.ones_like(score, dtype=bool)
    g = match_limb(score, valid, "greedy")
    h = match_limb(score, valid, "hungarian")
    assert g[:, 2].sum() == pytest.approx(1.0)
    assert h[:, 2].sum() == pytest.approx(1.6)
    assert len(match_limb(score, np.zeros_like(valid), "hungarian")) == 0


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="heatmaps"):
        group_people(np.zeros((17, 8, 8)), np.zeros((38, 8, 8)))
    with pytest.raises(ValueError, match="pafs"):
        group_people(np.zeros((19, 8, 8)), np.zeros((38, 8, 9)))
    with pytest.raises(ValueError, match="matcher"):
        GroupingConfig(matcher="auction")


def test_max_peaks_keeps_the_strongest():
    hm = np.zeros((1, 9, 30))
    for i, x in enumerate(range(2, 30, 4)):
        hm[0, 4, x] = 0.2 + 0.1 * i
    p = find_peaks(hm, GroupingConfig(smooth_sigma=0, max_peaks=3))[0]
    assert sorted(p[:, 2].round(3)) == [0.6, 0.7, 0.8]
    assert list(p[:, 0]) == [18, 22, 26]  # still in row-major order
