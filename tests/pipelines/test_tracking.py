"""PoseTracker (ids through a crossing, new ids, retired ids, per-track smoothing) and the
One-Euro filter against answers worked by hand."""

import math

import numpy as np
import pytest
import torch

from posekit.pipelines.tracking import OneEuroFilter, PoseTracker
from posekit.skeletons import COCO17
from posekit.structures import PoseInstances

SIGMAS = COCO17.oks_sigmas()


# --------------------------------------------------------------------------------------------
# One-Euro filter
# --------------------------------------------------------------------------------------------


def _run(f: OneEuroFilter, xs, fps: float) -> list[float]:
    return [float(f(np.array(x), i / fps)) for i, x in enumerate(xs)]


def test_one_euro_known_answer():
    """fps = 2π Hz makes T_e = 1/(2π) s, so α(f_c) = 1 / (1 + 1/f_c); β = 1/π.

    x = 0, 2, 2, 2:
      1: dX = 2·2π = 4π, dx̂ = ½·4π = 2π, f_c = 1 + 2 = 3, α = ¾, x̂ = ¾·2 = 1.5
      2: dX = 0.5·2π = π, dx̂ = ½π + ½·2π = 1.5π, f_c = 2.5, α = 5/7, x̂ = 10/7 + 2/7·1.5 = 13/7
      3: dX = (1/7)·2π, dx̂ = π/7 + ¾π = 25π/28, f_c = 53/28, α = 53/81,
         x̂ = 106/81 + 28/81·13/7 = 158/81
    """
    f = OneEuroFilter(min_cutoff=1.0, beta=1 / math.pi, d_cutoff=1.0)
    got = _run(f, [0.0, 2.0, 2.0, 2.0], fps=2 * math.pi)
    assert got == pytest.approx([0.0, 1.5, 13 / 7, 158 / 81], rel=1e-12)
    # β = 0 is a fixed low-pass filter: α = ½ at f_c = 1 Hz.
    plain = _run(OneEuroFilter(1.0, 0.0, 1.0), [0.0, 2.0, 2.0, 2.0], fps=2 * math.pi)
    assert plain == pytest.approx([0.0, 1.0, 1.5, 1.75], rel=1e-12)
    # |dx̂| makes a fall the mirror of a rise.
    down = _run(OneEuroFilter(1.0, 1 / math.pi, 1.0), [0.0, -2.0, -2.0, -2.0], 2 * math.pi)
    assert down == pytest.approx([-v for v in got], rel=1e-12)


def test_one_euro_alpha_formula():
    # α = 1 / (1 + τ/T_e), τ = 1/(2π f_c): at 30 fps and 1 Hz, α = 1 / (1 + 30/(2π)).
    assert OneEuroFilter.alpha(1.0, 1 / 30) == pytest.approx(1 / (1 + 30 / (2 * math.pi)))


def test_one_euro_constant_stays_and_step_converges():
    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    const = [f(np.array([3.5, -7.0]), i / 30) for i in range(40)]
    assert all(np.allclose(c, [3.5, -7.0], rtol=0, atol=1e-12) for c in const)

    f = OneEuroFilter(min_cutoff=1.0, beta=0.05)
    out = np.array(_run(f, [0.0] * 10 + [10.0] * 90, fps=30.0))
    assert np.all(out[:10] == 0.0)
    assert np.all(np.diff(out) >= 0) and out.max() <= 10.0  # monotone, no overshoot
    assert 0.0 < out[10] < 10.0  # smoothed, not passed through
    assert abs(out[-1] - 10.0) < 1e-3


def test_one_euro_speed_raises_the_cutoff():
    """The same ramp lags less with a larger β (the filter's point)."""
    ramp = [5.0 * i for i in range(60)]  # 150 px/s at 30 fps
    slow = _run(OneEuroFilter(1.0, 0.0), ramp, 30.0)
    fast = _run(OneEuroFilter(1.0, 0.1), ramp, 30.0)
    assert ramp[-1] - fast[-1] < 0.5 * (ramp[-1] - slow[-1])



def test_one_euro_absent_elements_keep_their_state():
    """Element 0 skips sample 2 (absent: passed through, state kept), so its next step has
    T_e = 2/(2π) and α = 1 / (1 + ½) = ⅔ (β = 0): x̂ = ⅔·2 + ⅓·1 = 5/3. Element 1 is absent
    until sample 2 and starts there as a first sample."""
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    fps = 2 * math.pi
    assert f(np.array([0.0, 7.0]), 0 / fps, present=np.array([True, False])).tolist() == [0, 7]
    assert f(np.array([2.0, 7.0]), 1 / fps, present=np.array([True, False])) == pytest.approx(
        [1.0, 7.0])
    assert f(np.array([99.0, 4.0]), 2 / fps, present=np.array([False, True])) == pytest.approx(
        [99.0, 4.0])
    assert f(np.array([2.0, 6.0]), 3 / fps) == pytest.approx([5 / 3, 5.0])

def test_one_euro_rejects_bad_input():
    with pytest.raises(ValueError, match="min_cutoff > 0"):
        OneEuroFilter(min_cutoff=0.0)
    f = OneEuroFilter()
    f(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="forward in time"):
        f(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros(4), 1.0)


# --------------------------------------------------------------------------------------------
# Tracker
# --------------------------------------------------------------------------------------------


def _shape(seed: int, height: float) -> np.ndarray:
    """(17, 2) a fixed random pose, ``height`` tall and a third as wide, centred at 0."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, (17, 2)) * [height / 3, height])


def _people(poses: list[np.ndarray]) -> PoseInstances:
    kpts = np.concatenate([np.stack(poses), np.ones((len(poses), 17, 1))], axis=-1)
    return PoseInstances.from_keypoints(torch.tensor(kpts, dtype=torch.float32))


def _crossing(frames: int = 80, noise: float = 1.0):
    """Two people walking past each other (crossing at frame 40), one nearer the camera (taller),
    detected in a random order each frame. Yields (people, true index of each)."""
    rng = np.random.default_rng(1)
    a, b = _shape(0, 200.0), _shape(1, 160.0)
    for f in range(frames):
        centres = [np.array([100.0 + 5 * f, 300.0]), np.array([500.0 - 5 * f, 320.0])]
        poses = [a + centres[0], b + centres[1]]
        order = rng.permutation(2)
        yield _people([poses[i] + rng.normal(0, noise, (17, 2)) for i in order]), order


@pytest.mark.parametrize("match", ["oks", "iou"])
def test_ids_stay_with_the_people_through_a_crossing(match):
    tracker = PoseTracker(30.0, sigmas=SIGMAS, match=match)
    seen: dict[int, set[int]] = {0: set(), 1: set()}
    for people, order in _crossing():
        tracked = tracker.update(people)
        for who, track_id in zip(order.tolist(), tracked.track_ids.tolist(), strict=True):
            seen[who].add(track_id)
    assert seen[0] != seen[1] and len(seen[0]) == len(seen[1]) == 1
    assert seen[0] | seen[1] == {0, 1}


def test_best_pair_is_matched_first():
    """Person 1 is track 0's best match (0.9), so person 0 takes track 1 (0.5), not track 0,
    though track 0 is person 0's own best (0.6)."""
    tracker = PoseTracker(sigmas=SIGMAS)
    pairs = tracker._greedy_pairs(np.array([[0.6, 0.5], [0.9, 0.1]]))
    assert pairs == {1: 0, 0: 1}
    assert tracker._greedy_pairs(np.array([[0.29, 0.1]])) == {}  # below 0.3: no match


def test_a_new_person_gets_a_new_id_and_ids_keep_their_order():
    a, b = _shape(0, 200.0) + [200, 300], _shape(1, 200.0) + [600, 300]
    tracker = PoseTracker(sigmas=SIGMAS)
    assert tracker.update(_people([a])).track_ids.tolist() == [0]
    assert tracker.update(_people([a])).track_ids.tolist() == [0]
    assert tracker.update(_people([b, a])).track_ids.tolist() == [1, 0]
    assert tracker.update(PoseInstances.empty(17)).track_ids.tolist() == []
    assert tracker.update(_people([a, b])).track_ids.tolist() == [0, 1]


@pytest.mark.parametrize(("gap", "same_id"), [(3, True), (4, False)])
def test_an_id_is_retired_after_max_missed_frames(gap, same_id):
    """max_missed=3: a person gone for 3 frames keeps its id, gone for 4 gets a new one."""
    a = _shape(0, 200.0) + [200, 300]
    tracker = PoseTracker(sigmas=SIGMAS, max_missed=3)
    for _ in range(3):
        assert tracker.update(_people([a])).track_ids.tolist() == [0]
    for _ in range(gap):
        tracker.update(PoseInstances.empty(17))
    assert tracker.update(_people([a])).track_ids.tolist() == ([0] if same_id else [1])



def test_oks_counts_only_keypoints_both_people_have():
    """Bottom-up people miss parts as (0, 0, conf 0). Two different people far apart, each with
    the same 12 parts missing, must not match through their shared (0, 0) points."""
    a, b = _shape(0, 200.0) + [150, 300], _shape(1, 200.0) + [650, 300]
    partial = [np.concatenate([pose, np.ones((17, 1))], axis=1) for pose in (a, b)]
    for pose in partial:
        pose[5:] = 0.0
    tracker = PoseTracker(sigmas=SIGMAS)
    people = [PoseInstances.from_keypoints(torch.tensor(p[None], dtype=torch.float32))
              for p in partial]
    assert tracker.update(people[0]).track_ids.tolist() == [0]
    assert tracker.update(people[1]).track_ids.tolist() == [1]
    assert tracker.update(people[1]).track_ids.tolist() == [1]

def test_smoothing_keeps_state_per_track():
    """Each tracked person's smoothed keypoints equal a One-Euro filter run on that person
    alone (shuffled order, no cross-talk); boxes, scores and confidences pass unchanged."""
    frames = list(_crossing(frames=30, noise=3.0))
    tracker = PoseTracker(25.0, sigmas=SIGMAS, smooth=True, min_cutoff=0.5, beta=0.02)
    alone = [OneEuroFilter(0.5, 0.02), OneEuroFilter(0.5, 0.02)]
    for f, (people, order) in enumerate(frames):
        tracked = tracker.update(people)
        assert torch.equal(tracked.boxes, people.boxes) and torch.equal(tracked.scores,
                                                                       people.scores)
        assert torch.equal(tracked.keypoints.conf, people.keypoints.conf)
        for i, who in enumerate(order.tolist()):
            want = alone[who](people.xy[i].double().numpy(), f / 25.0)
            np.testing.assert_allclose(tracked.xy[i].numpy(), want, atol=1e-4)
    raw = tracker.update(people)
    assert not torch.allclose(raw.xy, people.xy, atol=0.1)  # it did smooth



def test_smoothing_passes_missing_keypoints_through():
    """A part not found (0, 0, conf 0) stays (0, 0) and does not drag the filter: when the part
    appears it starts there, unfiltered."""
    pose = np.concatenate([_shape(0, 200.0) + [300, 300], np.ones((17, 1))], axis=1)
    tracker = PoseTracker(sigmas=SIGMAS, smooth=True)
    for f in range(5):
        frame = pose.copy()
        frame[:, 0] += 3 * f
        if f < 4:
            frame[0] = 0.0  # the nose is missing in frames 0-3
        out = tracker.update(PoseInstances.from_keypoints(torch.tensor(frame[None],
                                                                       dtype=torch.float32)))
        assert out.track_ids.tolist() == [0]
        np.testing.assert_allclose(out.keypoints.data[0, 0].numpy(), frame[0], atol=1e-4)
    assert not np.allclose(out.xy[0, 1:].numpy(), frame[1:, :2], atol=0.1)  # the rest smoothed

def test_tracker_rejects_bad_options():
    with pytest.raises(ValueError, match="sigmas"):
        PoseTracker(30.0, match="oks")
    with pytest.raises(ValueError, match="'oks' or 'iou'"):
        PoseTracker(30.0, match="centre")
    with pytest.raises(ValueError, match="fps"):
        PoseTracker(0.0, match="iou")
