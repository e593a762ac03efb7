"""Video: a stable id per person across frames (:class:`PoseTracker`) and keypoint smoothing
(:class:`OneEuroFilter`).

Tracking is greedy matching of each frame's people to the last known pose of every live track,
best pair first, by OKS (COCO's keypoint similarity, :mod:`posekit.oks`, over the keypoints both
poses have, i.e. confidence > 0, with the mean of the two box areas as scale, as OKS-NMS) or by
box IoU. The 0.3 threshold for either is MMPose's ``get_track_id`` default. A person left
unmatched starts a new track; a track unmatched for more than ``max_missed`` frames in a row
ends, and its id is never reused.

Smoothing runs a One-Euro filter over each keypoint coordinate of each track (state per track id):
a low-pass filter whose cut-off frequency rises with the signal's speed, so a still keypoint
loses its jitter and a moving one lags little (Casiez, Roussel & Vogel, "1€ Filter", CHI 2012).
A keypoint with confidence 0 (not found, e.g. by bottom-up grouping) passes through unfiltered
and leaves its filter as it was.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from posekit.losses import box_iou_pairs
from posekit.oks import oks_matrix
from posekit.structures import Keypoints, PoseInstances

__all__ = ["OneEuroFilter", "PoseTracker"]


class OneEuroFilter:
    """One-Euro filter (Casiez, Roussel & Vogel, CHI 2012) of an array of signals, element-wise.

    With sampling period T_e (seconds between two samples), every sample X_i gives

        dX_i  = (X_i − x̂_{i−1}) / T_e                       (speed, from the last estimate)
        dx̂_i  = α(d_cutoff) dX_i + (1 − α(d_cutoff)) dx̂_{i−1}
        f_c   = min_cutoff + beta · |dx̂_i|
        x̂_i   = α(f_c) X_i + (1 − α(f_c)) x̂_{i−1}

    with α(f) = 1 / (1 + τ / T_e) and τ = 1 / (2π f), the smoothing factor of a first-order
    low-pass filter of cut-off f. The first sample passes unchanged, with dx̂ = 0. Each element
    keeps its own time of last sample, so an element left out (``present`` False) for a while
    resumes with a longer T_e.

    Args:
        min_cutoff: f_c,min in Hz, the cut-off of a still signal: lower removes more jitter.
        beta: speed coefficient in Hz per (unit/s), e.g. per px/s for pixel coordinates: higher
            lags less behind fast motion.
        d_cutoff: cut-off in Hz of the speed estimate (the paper keeps 1 Hz).
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError(f"One-Euro filter needs min_cutoff > 0, d_cutoff > 0, beta ≥ 0; got "
                             f"min_cutoff={min_cutoff}, beta={beta}, d_cutoff={d_cutoff}")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.x_hat: np.ndarray | None = None  # last estimate x̂_{i−1}; NaN before any sample
        self.dx_hat: np.ndarray | None = None  # last speed estimate dx̂_{i−1}
        self.t_prev: np.ndarray | None = None  # time of each element's last sample, seconds

    @staticmethod
    def alpha(cutoff: np.ndarray | float, period: float) -> np.ndarray | float:
        """α = 1 / (1 + τ / T_e), τ = 1 / (2π f_c): the low-pass factor for cut-off f_c (Hz)."""
        tau = 1.0 / (2.0 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / period)

    def __call__(self, x: np.ndarray, t: float, present: np.ndarray | None = None
                 ) -> np.ndarray:
        """The filtered value of sample ``x`` (any shape, fixed per filter) taken at ``t`` s.

        ``present`` (broadcastable to ``x``, default all True) marks the elements sampled now;
        the others are returned as given and their filter state is kept."""
        x = np.asarray(x, dtype=np.float64)
        if self.x_hat is None:
            self.x_hat = np.full_like(x, np.nan)
            self.dx_hat = np.zeros_like(x)
            self.t_prev = np.full_like(x, np.nan)
        assert self.dx_hat is not None and self.t_prev is not None
        if x.shape != self.x_hat.shape:
            raise ValueError(f"One-Euro filter got shape {x.shape}, started with "
                             f"{self.x_hat.shape}")
        on = np.broadcast_to(True if present is None else present, x.shape)
        first = on & np.isnan(self.x_hat)  # an element's first sample passes unchanged
        step = on & ~first
        if np.any(step & (t <= self.t_prev)):
            raise ValueError(f"One-Euro filter samples must move forward in time: t={t} after "
                             f"t={np.nanmax(self.t_prev)}")
        period = np.where(step, t - self.t_prev, 1.0)  # T_e
        speed = (x - self.x_hat) / period
        a_d = self.alpha(self.d_cutoff, period)
        dx_hat = a_d * speed + (1.0 - a_d) * self.dx_hat
        a = self.alpha(self.min_cutoff + self.beta * np.abs(dx_hat), period)
        x_hat = a * x + (1.0 - a) * self.x_hat
        self.x_hat = np.where(step, x_hat, np.where(first, x, self.x_hat))
        self.dx_hat = np.where(step, dx_hat, self.dx_hat)
        self.t_prev = np.where(on, t, self.t_prev)
        return np.where(on, self.x_hat, x)


@dataclass
class _Track:
    track_id: int
    keypoints: np.ndarray  # (K, 3) last matched pose, as detected (not smoothed)
    box: np.ndarray  # (4,) last matched box, xyxy
    smoother: OneEuroFilter | None
    missed: int = 0  # frames in a row without a match


class PoseTracker:
    """Gives each person of a video a ``track_id`` that stays the same from frame to frame.

    Call :meth:`update` once per frame, in order; it returns the frame's people with
    ``track_ids`` set (ids count from 0) and, with ``smooth=True``, their keypoints smoothed.
    Boxes and scores stay as detected. One tracker per video.

    Args:
        fps: frames per second of the video; the One-Euro filter's sampling rate.
        sigmas: (K,) OKS sigmas of the skeleton (``skeleton.oks_sigmas()``); needed for "oks".
        match: "oks" (keypoint similarity, default) or "iou" (box overlap).
        thresh: the least OKS / IoU at which a person continues a track (default 0.3).
        max_missed: frames a track may go unmatched and still be continued (default 30,
            one second at 30 fps); after that its id is retired.
        smooth: One-Euro filter every keypoint coordinate of every track.
        min_cutoff, beta, d_cutoff: the One-Euro parameters (:class:`OneEuroFilter`), in Hz
            and Hz per px/s. The defaults (1 Hz, 0.05, 1 Hz) suit people a few hundred pixels
            tall (docs/benchmarks.md, section Video).
    """

    def __init__(
        self, fps: float = 30.0, *, sigmas: np.ndarray | None = None, match: str = "oks",
        thresh: float = 0.3, max_missed: int = 30, smooth: bool = False,
        min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0,
    ) -> None:
        if match not in ("oks", "iou"):
            raise ValueError(f"match must be 'oks' or 'iou', got {match!r}")
        if match == "oks" and sigmas is None:
            raise ValueError("match='oks' needs the skeleton's OKS sigmas (sigmas=)")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        if max_missed < 0:
            raise ValueError(f"max_missed must be ≥ 0, got {max_missed}")
        OneEuroFilter(min_cutoff, beta, d_cutoff)  # validates the parameters now, not per track
        self.fps = float(fps)
        self.sigmas = None if sigmas is None else np.asarray(sigmas, dtype=np.float64)
        self.match = match
        self.thresh = thresh
        self.max_missed = max_missed
        self.smooth = smooth
        self.one_euro = (min_cutoff, beta, d_cutoff)
        self.tracks: list[_Track] = []  # live tracks
        self.next_id = 0
        self.frame = -1

    def _similarity(self, kpts: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, T) OKS or IoU between this frame's people and each live track's last pose."""
        if not self.tracks or len(kpts) == 0:
            return np.zeros((len(kpts), len(self.tracks)))
        track_boxes = np.stack([t.box for t in self.tracks])  # (T, 4)
        if self.match == "iou":
            iou = box_iou_pairs(torch.from_numpy(boxes)[:, None], torch.from_numpy(track_boxes))
            return iou.numpy()  # (N, T)
        assert self.sigmas is not None
        areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)  # (N,)
        columns = []
        for track in self.tracks:
            # The track's pose plays the prediction, each person the "ground truth" whose
            # labelled keypoints are those both have; the scale is the mean of the two areas.
            both = (kpts[:, :, 2] > 0) & (track.keypoints[None, :, 2] > 0)  # (N, K)
            people = np.concatenate([kpts[:, :, :2], both[..., None]], axis=2)  # (N, K, 3)
            area = np.prod(np.clip(track.box[2:] - track.box[:2], 0, None))
            columns.append(oks_matrix(track.keypoints[None, :, :2], people, (area + areas) / 2,
                                      self.sigmas)[0])
        return np.stack(columns, axis=1)  # (N, T)

    def _greedy_pairs(self, sim: np.ndarray) -> dict[int, int]:
        """Person index → track index, best similarity first, each used once, ≥ ``thresh``."""
        pairs: dict[int, int] = {}
        used: set[int] = set()
        for flat in np.argsort(-sim, axis=None, kind="stable"):
            i, j = divmod(int(flat), sim.shape[1])
            if sim[i, j] < self.thresh:
                break
            if i not in pairs and j not in used:
                pairs[i] = j
                used.add(j)
        return pairs

    def update(self, people: PoseInstances) -> PoseInstances:
        """This frame's ``people`` with ``track_ids`` (N,) and, if smoothing, smoothed keypoints."""
        self.frame += 1
        t = self.frame / self.fps
        kpts = people.keypoints.data.detach().cpu().double().numpy()  # (N, K, 3)
        boxes = people.boxes.detach().cpu().double().numpy()  # (N, 4)
        pairs = self._greedy_pairs(self._similarity(kpts, boxes))
        matched = set(pairs.values())
        for j, track in enumerate(self.tracks):
            if j not in matched:
                track.missed += 1
        ids = np.zeros(len(kpts), dtype=np.int64)
        out = kpts.copy()
        for i in range(len(kpts)):
            if i in pairs:
                track = self.tracks[pairs[i]]
                track.keypoints, track.box, track.missed = kpts[i], boxes[i], 0
            else:
                smoother = OneEuroFilter(*self.one_euro) if self.smooth else None
                track = _Track(self.next_id, kpts[i], boxes[i], smoother)
                self.tracks.append(track)
                self.next_id += 1
            ids[i] = track.track_id
            if track.smoother is not None:
                out[i, :, :2] = track.smoother(kpts[i, :, :2], t, present=kpts[i, :, 2:] > 0)
        self.tracks = [tr for tr in self.tracks if tr.missed <= self.max_missed]
        data = torch.from_numpy(out).to(people.keypoints.data)
        return PoseInstances(people.boxes, Keypoints(data), people.scores,
                             track_ids=torch.from_numpy(ids))
