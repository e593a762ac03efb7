"""Known people and their ideal OpenPose maps, for grouping tests and benchmarks.

:func:`random_people` places standing OpenPose-18 figures (a fixed template, jittered per joint)
on a grid so they do not overlap; :func:`render_maps` draws their confidence maps and PAFs at
image resolution with :class:`posekit.codecs.paf.PafCodec` (stride 1), i.e. the maps a perfect
network would output after upsampling.
"""

from __future__ import annotations

import numpy as np

from posekit.codecs.paf import PafCodec
from posekit.skeletons import OPENPOSE18

__all__ = ["TEMPLATE", "random_people", "render_maps"]

# OpenPose-18 standing figure facing the camera, height 1, origin at the top of the head.
TEMPLATE = np.array([
    (0.00, 0.07), (0.00, 0.19), (-0.13, 0.19), (-0.17, 0.36), (-0.19, 0.52), (0.13, 0.19),
    (0.17, 0.36), (0.19, 0.52), (-0.09, 0.50), (-0.10, 0.73), (-0.10, 0.95), (0.09, 0.50),
    (0.10, 0.73), (0.10, 0.95), (-0.04, 0.03), (0.04, 0.03), (-0.08, 0.05), (0.08, 0.05),
])  # fmt: skip


def random_people(
    n: int, size: tuple[int, int], rng: np.random.Generator, missing: float = 0.0,
    jitter: float = 0.02,
) -> np.ndarray:
    """(n, 18, 3) OpenPose-18 people on a grid of ``size`` = (w, h); v = 2 labelled, 0 missing.

    ``missing`` is the probability that a limb-end part (wrist, ankle, ear, eye) is dropped.
    The neck stays the shoulders' midpoint.
    """
    w, h = size
    cols = int(np.ceil(np.sqrt(n * w / h)))
    rows = int(np.ceil(n / cols))
    cell_w, cell_h = w / cols, h / rows
    height = 0.9 * min(cell_h, 2.2 * cell_w)
    out = np.zeros((n, 18, 3))
    for i in range(n):
        r, c = divmod(i, cols)
        pts = TEMPLATE + rng.normal(0, jitter, TEMPLATE.shape)
        pts[1] = (pts[2] + pts[5]) / 2
        cx = (c + 0.5) * cell_w
        top = r * cell_h + 0.05 * cell_h
        out[i, :, 0] = cx + pts[:, 0] * height
        out[i, :, 1] = top + pts[:, 1] * height
        out[i, :, 2] = 2
        for j in (4, 7, 10, 13, 14, 15, 16, 17):
            if rng.random() < missing:
                out[i, j] = 0
    return out


def render_maps(
    people: np.ndarray, size: tuple[int, int], sigma: float = 4.0, limb_width: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """(19, H, W) confidence maps (with background) and (38, H, W) PAFs at image resolution."""
    codec = PafCodec(size, stride=1, sigma=sigma, limb_width=limb_width, skeleton=OPENPOSE18)
    return codec.confidence_maps(people), codec.part_affinity_fields(people)
