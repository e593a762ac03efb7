"""Tracking and One-Euro smoothing on a generated video with a known answer.

    PYTHONPATH=$PWD python benchmarks/bench_tracking.py [--frames 300] [--fps 30] [--seeds 5]

Five COCO-17 people move on smooth paths through a 1280x720 frame at ``--fps``: two of different
heights walk towards each other, across a third who stands swaying in the middle; a fourth walks
diagonally; a fifth, as tall as the first, walks towards it on the same line, so the two overlap
completely when they meet. Arms and legs swing at 1 Hz. The "detector output" of a frame is the
true keypoints plus Gaussian noise (sigma px per coordinate), with each person missed in 3 % of
frames and the people in random order. :class:`posekit.pipelines.tracking.PoseTracker` tracks
them with and without smoothing, once per noise seed, and the script prints, per noise level
and setting (means over seeds; id switches summed):

- jitter: mean |x_t - 2 x_{t-1} + x_{t-2}| over keypoints (px/frame², the acceleration), over
  runs of three frames in which the person was detected;
- error: mean distance to the true keypoint (px);
- id switches: frames in which a person's track id differs from its id in its previous frame;
- the tracker's ms per frame.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from posekit.pipelines.tracking import PoseTracker
from posekit.skeletons import COCO17
from posekit.structures import PoseInstances

# A standing COCO-17 person facing the camera, in units of its height, hip centre at the origin,
# y down; the person's left side is on the image's right.
TEMPLATE = np.array([
    [0.0, -0.42], [0.02, -0.44], [-0.02, -0.44], [0.045, -0.43], [-0.045, -0.43],
    [0.11, -0.30], [-0.11, -0.30], [0.14, -0.15], [-0.14, -0.15], [0.15, -0.02], [-0.15, -0.02],
    [0.07, 0.0], [-0.07, 0.0], [0.075, 0.24], [-0.075, 0.24], [0.08, 0.47], [-0.08, 0.47],
])
# Horizontal swing per keypoint (height units) at the walking phase: arms against legs.
SWING = np.zeros(17)
SWING[[7, 9]], SWING[[8, 10]] = (0.05, 0.10), (-0.05, -0.10)  # left / right elbow, wrist
SWING[[13, 15]], SWING[[14, 16]] = (-0.06, -0.12), (0.06, 0.12)  # left / right knee, ankle

# (start x, start y of the hip centre, x speed, y speed in px/s, height px, walking: 1 or 0)
PEOPLE = [
    (200.0, 400.0, 100.0, 0.0, 300.0, 1.0),
    (1100.0, 420.0, -90.0, 0.0, 260.0, 1.0),
    (640.0, 380.0, 0.0, 0.0, 340.0, 0.0),
    (150.0, 520.0, 40.0, -10.0, 220.0, 1.0),
    (1150.0, 400.0, -100.0, 0.0, 300.0, 1.0),
]


def true_keypoints(frames: int, fps: float) -> np.ndarray:
    """(T, P, 17, 2) true keypoint paths of the ``PEOPLE`` in image pixels."""
    t = np.arange(frames)[:, None] / fps  # (T, 1)
    out = np.zeros((frames, len(PEOPLE), 17, 2))
    for p, (x0, y0, vx, vy, height, walking) in enumerate(PEOPLE):
        phase = 2 * math.pi * (1.0 * t + 0.3 * p)  # 1 Hz steps
        sway = 10.0 * np.sin(2 * math.pi * 0.3 * t) * (1 - walking)  # the standing one sways
        cx = x0 + vx * t + sway  # (T, 1)
        cy = y0 + vy * t + 4.0 * walking * np.sin(2 * phase)  # the hips bob twice a step
        shape = TEMPLATE[None] + np.stack([walking * SWING[None] * np.sin(phase),
                                           np.zeros((frames, 17))], axis=-1)  # (T, 17, 2)
        out[:, p] = np.stack([cx, cy], -1) + height * shape
    return out


def detections(truth: np.ndarray, sigma: float, miss: float, seed: int
               ) -> list[tuple[PoseInstances, np.ndarray]]:
    """Per frame: noisy people in random order, and the true person index of each."""
    rng = np.random.default_rng(seed)
    frames = []
    for xy in truth:  # (P, 17, 2)
        who = rng.permutation(len(xy))
        who = who[rng.random(len(who)) >= miss]
        noisy = xy[who] + rng.normal(0.0, sigma, xy[who].shape)
        kpts = np.concatenate([noisy, np.ones((len(who), 17, 1))], axis=-1)
        frames.append((PoseInstances.from_keypoints(kpts), who))
    return frames


def run(truth: np.ndarray, frames: list[tuple[PoseInstances, np.ndarray]], fps: float,
        **tracker_kw: object) -> dict[str, float]:
    """Track ``frames`` and score the keypoints against ``truth``: jitter, error, id switches."""
    tracker = PoseTracker(fps, sigmas=COCO17.oks_sigmas(), **tracker_kw)
    seen = np.full(truth.shape[:3], np.nan)[..., None].repeat(2, -1)  # (T, P, 17, 2) output
    last_id: dict[int, int] = {}
    switches = 0
    start = time.perf_counter()
    for f, (people, who) in enumerate(frames):
        tracked = tracker.update(people)
        seen[f, who] = tracked.xy.double().numpy()
        for p, track_id in zip(who.tolist(), tracked.track_ids.tolist(), strict=True):
            switches += p in last_id and last_id[p] != track_id
            last_id[p] = track_id
    ms = 1000 * (time.perf_counter() - start) / len(frames)
    accel = np.linalg.norm(seen[2:] - 2 * seen[1:-1] + seen[:-2], axis=-1)  # (T-2, P, 17)
    error = np.linalg.norm(seen - truth, axis=-1)
    return {"jitter": float(np.nanmean(accel)), "error": float(np.nanmean(error)),
            "switches": switches, "ids": tracker.next_id, "ms": ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--sigmas", default="1,2,4", help="detector noise levels, px")
    parser.add_argument("--miss", type=float, default=0.03, help="chance a person is missed")
    parser.add_argument("--seeds", type=int, default=5, help="noise draws per setting")
    args = parser.parse_args()
    truth = true_keypoints(args.frames, args.fps)
    true_jitter = np.linalg.norm(truth[2:] - 2 * truth[1:-1] + truth[:-2], axis=-1).mean()
    settings = [("OKS, no smoothing", {}), ("IoU, no smoothing", {"match": "iou"}),
                ("OKS + One-Euro 1 Hz, β 0.05 (default)", {"smooth": True}),
                ("OKS + One-Euro 1 Hz, β 0.01", {"smooth": True, "beta": 0.01}),
                ("OKS + One-Euro 1 Hz, β 0.2", {"smooth": True, "beta": 0.2}),
                ("OKS + One-Euro 0.3 Hz, β 0.05", {"smooth": True, "min_cutoff": 0.3})]
    print(f"{args.frames} frames at {args.fps:g} fps, {len(PEOPLE)} people, "
          f"{args.miss:.0%} missed, {args.seeds} seeds; true jitter {true_jitter:.2f} "
          "px/frame²\n")
    print("| noise σ px | tracker | jitter px/frame² | error px | id switches | ids | "
          "tracker ms/frame |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for sigma in [float(s) for s in args.sigmas.split(",")]:
        draws = [detections(truth, sigma, args.miss, seed) for seed in range(args.seeds)]
        for name, kw in settings:
            rs = [run(truth, frames, args.fps, **kw) for frames in draws]
            mean = {k: float(np.mean([r[k] for r in rs])) for k in rs[0]}
            switches = sum(r["switches"] for r in rs)
            print(f"| {sigma:g} | {name} | {mean['jitter']:.2f} | {mean['error']:.2f} | "
                  f"{switches} | {mean['ids']:g} | {mean['ms']:.2f} |")


if __name__ == "__main__":
    main()
