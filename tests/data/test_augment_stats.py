"""posekit's top-down augmentation draws from MMPose 1.3.2's distribution.

The reference is 4000 draws of MMPose's own GetBBoxCenterScale → RandomFlip → RandomHalfBody →
RandomBBoxTransform on one synthetic person (tests/engine/make_mmpose_recipe_fixtures.py, stored
as frequencies and empirical CDFs in tests/engine/fixtures/mmpose_recipes.json). Here 4000 draws
of `TopDownAugment`, built from a shipped COCO config as training builds it, on the same person,
with a fixed seed, so the test is deterministic. Compared:

- frequencies of flip, half-body, upper-body-given-half-body, shift applied and rotation applied:
  two-proportion z test, |z| < 3.29 (two-sided α = 0.001);
- shift (x, y, in units of the box), scale factor and rotation: two-sample Kolmogorov–Smirnov
  statistic on the stored grids, D < 1.95·√(2/n) (α = 0.001 at n = m = 4000; on a grid D can only
  be smaller, so a wrong parameter must move the CDF by more than that somewhere on it).

A deliberately wrong parameter (rotation factor 40 instead of 80, flip 0.4, half-body 0.2, scale
range 0.6–1.4) must fail the same comparison.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from posekit.config import load_config
from posekit.data.transforms import TopDownAugment, fix_aspect_ratio
from posekit.engine.topdown_task import TopDownTask
from posekit.skeletons import get_skeleton

FIXTURE_PATH = Path(__file__).resolve().parents[1] / "engine" / "fixtures" / "mmpose_recipes.json"
FIXTURE = json.loads(FIXTURE_PATH.read_text())
REF = FIXTURE["topdown_draws"]
SAMPLE = FIXTURE["sample"]
N = 4000
Z_CRIT = 3.29
KS_CRIT = 1.95 * math.sqrt(2 / N)
FREQS = ("flip", "half_body", "half_body_upper", "shift_applied", "rotate_applied")


def _bases(aspect: float) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(centre, size before the aspect fix, size after it) of the full box and of posekit's two
    half-body boxes (extent of the labelled points × 1.5) for ``SAMPLE``."""
    x, y, w, h = SAMPLE["bbox_xywh"]
    kpts = np.array(SAMPLE["keypoints"], np.float64)
    out = {"none": (np.array([x + w / 2, y + h / 2]), np.array([w, h]) * 1.25)}
    for name, pts in (("upper", kpts[:11]), ("lower", kpts[11:])):
        lo, hi = pts.min(0), pts.max(0)
        out[name] = ((lo + hi) / 2, (hi - lo) * 1.5)
    return {k: (c, s, fix_aspect_ratio(s, aspect)) for k, (c, s) in out.items()}


def posekit_draws(augment: TopDownAugment, seed: int = 0) -> dict:
    """Flip, half-body, shift, scale and rotation of ``N`` calls, recovered from each CropSample."""
    skeleton = get_skeleton("coco17")
    width, height = SAMPLE["image_size"]
    image = np.zeros((height, width, 3), np.uint8)
    kpts = np.concatenate([np.array(SAMPLE["keypoints"], np.float32),
                           np.full((17, 1), 2, np.float32)], axis=1)
    upper = list(range(11))
    lower = list(range(11, 17))
    size = (192, 256)
    bases = _bases(size[0] / size[1])
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("flip", "half", "shift_x", "shift_y", "scale",
                                            "rotation")}
    for _ in range(N):
        s = augment(image, kpts, SAMPLE["bbox_xywh"], input_size=size,
                    flip_indices=skeleton.flip_indices, upper_ids=upper, lower_ids=lower, rng=rng)
        centre = s.center.copy()
        if s.flipped:
            centre[0] = width - 1 - centre[0]
        # the three boxes' shifted centres lie in disjoint bands of y (see SAMPLE)
        half = "upper" if centre[1] < 159.6 else "lower" if centre[1] > 240.4 else "none"
        base_c, base_s, base_fixed = bases[half]
        shift = (centre - base_c) / base_s
        rows["flip"].append(s.flipped)
        rows["half"].append(half)
        rows["shift_x"].append(shift[0])
        rows["shift_y"].append(shift[1])
        rows["scale"].append(s.scale[1] / base_fixed[1])
        rows["rotation"].append(s.rotation)
    return summarise(rows)


def summarise(rows: dict) -> dict:
    """Frequencies and CDFs on the fixture's grids (as make_mmpose_recipe_fixtures.summarise)."""
    half = np.array(rows["half"])
    shift_x = np.round(np.array(rows["shift_x"]), 9)
    out = {"flip": float(np.mean(rows["flip"])), "half_body": float(np.mean(half != "none")),
           "half_body_upper": float(np.mean(half[half != "none"] == "upper")),
           "shift_applied": float(np.mean(shift_x != 0)),
           "rotate_applied": float(np.mean(np.array(rows["rotation"]) != 0)), "cdf": {},
           "n_half": int(np.sum(half != "none"))}
    for name, grid in (("shift_x", "shift"), ("shift_y", "shift"), ("scale", "scale"),
                       ("rotation", "rotation")):
        values = np.sort(np.array(rows[name], np.float64))
        out["cdf"][name] = np.searchsorted(values, np.array(REF["grids"][grid]) + 1e-9,
                                           side="right") / len(values)
    return out


def statistics(ours: dict) -> dict[str, float]:
    """|z| of each frequency and the KS D of each continuous parameter against MMPose's."""
    stats = {}
    for name in FREQS:
        n1 = n2 = N
        if name == "half_body_upper":
            n1, n2 = ours["n_half"], round(REF["half_body"] * REF["n"])
        p1, p2 = ours[name], REF[name]
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
        stats[f"z_{name}"] = abs(p1 - p2) / se
    for name, cdf in ours["cdf"].items():
        stats[f"ks_{name}"] = float(np.max(np.abs(cdf - np.array(REF["cdf"][name]))))
    return stats


def failures(stats: dict[str, float]) -> list[str]:
    return [k for k, v in stats.items() if v >= (Z_CRIT if k.startswith("z_") else KS_CRIT)]


@pytest.fixture(scope="module")
def shipped_augment() -> TopDownAugment:
    """The augmentation a shipped COCO top-down config trains with (all share these values)."""
    return TopDownTask(load_config("simplebaseline_res50_coco_256x192")).augment()


def test_topdown_augment_matches_mmpose_draws(shipped_augment: TopDownAugment) -> None:
    stats = statistics(posekit_draws(shipped_augment))
    assert not failures(stats), {k: round(v, 4) for k, v in stats.items()}


@pytest.mark.parametrize("change", [
    {"rotate_factor": 40.0}, {"flip_prob": 0.4}, {"half_body_prob": 0.2},
    {"scale_range": (0.6, 1.4)},
])
def test_a_wrong_parameter_fails(shipped_augment: TopDownAugment, change: dict) -> None:
    wrong = dataclasses.replace(shipped_augment, **change)
    assert failures(statistics(posekit_draws(wrong)))
