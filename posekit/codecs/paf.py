"""Part Affinity Field codec: confidence maps S*, PAFs L* and the loss mask W (talk §17–§19).

Targets of OpenPose (Cao et al., "OpenPose: Realtime Multi-Person 2D Pose Estimation using Part
Affinity Fields", TPAMI 2019), written as the talk states them:

- Confidence map of part j: S*_j(p) = max_k exp(−‖p − x_{j,k}‖² / σ²)  (talk §17). This is the
  talk's formula taken literally: σ² here is what the heatmap codec (and MMPose) call 2σ², i.e.
  ``PafCodec(sigma=s)`` equals ``HeatmapCodec(sigma=s / √2)``.
- PAF of limb c = (j1, j2): the unit vector v = (x_{j2} − x_{j1}) / ‖x_{j2} − x_{j1}‖ at points p
  with 0 ≤ v·(p − x_{j1}) ≤ l and |v⊥·(p − x_{j1})| ≤ σ_l, zero elsewhere; where several people's
  limb c cover p, the vectors are averaged over their number n_c(p)  (talk §18). A limb with an
  unlabelled end contributes nothing.
- Mask W(p) = 0 over crowd regions and over people without keypoint labels, 1 elsewhere
  (talk §19); the L2 loss of every stage is multiplied by it.

Coordinates follow :mod:`posekit.structures`: integer coordinates are pixel centres, in the
image and in the maps. A map of stride s has its pixel u centred on image x = (u + 0.5)·s − 0.5,
so x_map = (x_img + 0.5) / s − 0.5 (the mapping bilinear upsampling with align_corners=False
inverts). PAF channels are interleaved as in CMU's models: PAF pair c has x at 2c and y at 2c + 1;
limb i of the skeleton is pair ``skeleton.paf_channel_order[i]`` (CMU's order for OpenPose-18).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from posekit.skeletons import OPENPOSE18, Skeleton

__all__ = [
    "PafCodec", "PafTargets", "ignore_mask_from_annotations", "image_to_map", "map_to_image",
]


def image_to_map(xy: np.ndarray, stride: float) -> np.ndarray:
    """Image pixel coordinates → map coordinates (pixel centres on both sides)."""
    return (np.asarray(xy, dtype=np.float64) + 0.5) / stride - 0.5


def map_to_image(xy: np.ndarray, stride: float) -> np.ndarray:
    """Map coordinates → image pixel coordinates; inverse of :func:`image_to_map`."""
    return (np.asarray(xy, dtype=np.float64) + 0.5) * stride - 0.5


@dataclass
class PafTargets:
    """Targets of one image: ``heatmaps`` (K[+1], H, W), ``pafs`` (2·L, H, W), ``mask`` (H, W)."""

    heatmaps: np.ndarray
    pafs: np.ndarray
    mask: np.ndarray


class PafCodec:
    """Encode people (OpenPose-18 keypoints in image pixels) into S*, L* and W on a map grid.

    Args:
        map_size: (width, height) of the output maps.
        stride: image pixels per map pixel.
        sigma: σ of the talk's exp(−d²/σ²), in map pixels.
        limb_width: σ_l, the PAF half-width, in map pixels.
        skeleton: keypoint set whose ``limbs`` are the PAF connections (CMU order for OpenPose-18).
        background: append a background channel 1 − max_j S*_j, as CMU's models predict.
    """

    def __init__(
        self,
        map_size: tuple[int, int],
        stride: float = 8.0,
        sigma: float = 1.0,
        limb_width: float = 1.0,
        skeleton: Skeleton = OPENPOSE18,
        background: bool = True,
    ) -> None:
        w, h = (int(v) for v in map_size)
        if w <= 0 or h <= 0:
            raise ValueError(f"PafCodec: map_size must be positive (width, height), got {map_size}")
        if sigma <= 0 or limb_width <= 0 or stride <= 0:
            raise ValueError(
                f"PafCodec: sigma, limb_width and stride must be > 0, got {sigma}, {limb_width}, "
                f"{stride}"
            )
        self.map_size = (w, h)
        self.stride = float(stride)
        self.sigma = float(sigma)
        self.limb_width = float(limb_width)
        self.skeleton = skeleton
        self.background = background
        self._gx = np.arange(w, dtype=np.float64)[None, :]
        self._gy = np.arange(h, dtype=np.float64)[:, None]

    @property
    def num_heatmaps(self) -> int:
        return self.skeleton.num_keypoints + int(self.background)

    @property
    def num_pafs(self) -> int:
        return 2 * len(self.skeleton.limbs)

    def _check(self, keypoints: np.ndarray) -> np.ndarray:
        kpts = np.asarray(keypoints, dtype=np.float64)
        k = self.skeleton.num_keypoints
        if kpts.ndim == 2 and kpts.shape[0] == 0:
            kpts = kpts.reshape(0, k, 3)
        if kpts.ndim != 3 or kpts.shape[1:] != (k, 3):
            raise ValueError(
                f"keypoints must be (N, {k}, 3) for {self.skeleton.name}, got {kpts.shape}"
            )
        return kpts

    def confidence_maps(self, keypoints: np.ndarray) -> np.ndarray:
        """S*_j(p) = max_k exp(−‖p − x_{j,k}‖² / σ²) (talk §17); labelled points (v > 0) only."""
        kpts = self._check(keypoints)
        w, h = self.map_size
        k = self.skeleton.num_keypoints
        out = np.zeros((self.num_heatmaps, h, w), dtype=np.float32)
        xy = image_to_map(kpts[..., :2], self.stride)
        for j in range(k):
            for n in np.flatnonzero(kpts[:, j, 2] > 0):
                d2 = (self._gx - xy[n, j, 0]) ** 2 + (self._gy - xy[n, j, 1]) ** 2
                np.maximum(out[j], np.exp(-d2 / self.sigma**2), out=out[j])  # talk §17, literal
        if self.background:
            out[k] = 1.0 - out[:k].max(axis=0, initial=0.0)
        return out

    def part_affinity_fields(self, keypoints: np.ndarray) -> np.ndarray:
        """L*_c(p): unit limb vectors inside the limb rectangle, averaged over n_c(p) (talk §18)."""
        kpts = self._check(keypoints)
        w, h = self.map_size
        out = np.zeros((self.num_pafs, h, w), dtype=np.float32)
        xy = image_to_map(kpts[..., :2], self.stride)
        order = self.skeleton.paf_channel_order
        for i, (j1, j2) in enumerate(self.skeleton.limbs):
            c = order[i]
            acc = np.zeros((2, h, w), dtype=np.float64)
            count = np.zeros((h, w), dtype=np.float64)
            for n in range(kpts.shape[0]):
                if kpts[n, j1, 2] <= 0 or kpts[n, j2, 2] <= 0:
                    continue  # a limb with an unlabelled end contributes nothing
                d = xy[n, j2] - xy[n, j1]
                length = float(np.hypot(d[0], d[1]))
                if length < 1e-8:
                    continue  # no direction defined for a zero-length limb
                v = d / length
                px = self._gx - xy[n, j1, 0]
                py = self._gy - xy[n, j1, 1]
                along = v[0] * px + v[1] * py  # v·(p − x_j1)
                across = -v[1] * px + v[0] * py  # v⊥·(p − x_j1)
                inside = (along >= 0) & (along <= length) & (np.abs(across) <= self.limb_width)
                acc[0][inside] += v[0]
                acc[1][inside] += v[1]
                count += inside
            covered = count > 0
            out[2 * c][covered] = acc[0][covered] / count[covered]  # average over n_c(p)
            out[2 * c + 1][covered] = acc[1][covered] / count[covered]
        return out

    def mask(self, ignore: np.ndarray | None = None) -> np.ndarray:
        """W(p) on the map grid from an image-resolution boolean ``ignore`` mask (talk §19).

        A map pixel is masked (0) when the image pixel under its centre is ignored.
        """
        w, h = self.map_size
        out = np.ones((h, w), dtype=np.float32)
        if ignore is None:
            return out
        ignore = np.asarray(ignore, dtype=bool)
        if ignore.ndim != 2:
            raise ValueError(f"ignore mask must be (H, W), got shape {ignore.shape}")
        cx = np.clip(np.rint(map_to_image(np.arange(w), self.stride)).astype(int), 0,
                     ignore.shape[1] - 1)
        cy = np.clip(np.rint(map_to_image(np.arange(h), self.stride)).astype(int), 0,
                     ignore.shape[0] - 1)
        out[ignore[np.ix_(cy, cx)]] = 0.0
        return out

    def encode(self, keypoints: np.ndarray, ignore: np.ndarray | None = None) -> PafTargets:
        """All three targets of one image."""
        return PafTargets(self.confidence_maps(keypoints), self.part_affinity_fields(keypoints),
                          self.mask(ignore))


def ignore_mask_from_annotations(
    anns: Sequence[dict], image_size: tuple[int, int]
) -> np.ndarray:
    """Boolean (H, W) mask of crowd regions and of people without keypoints (talk §19).

    Uses the annotation's polygon/RLE segmentation when present (pycocotools), else its box.
    """
    w, h = image_size
    out = np.zeros((h, w), dtype=bool)
    for ann in anns:
        if not (ann.get("iscrowd", 0) or ann.get("num_keypoints", 1) == 0):
            continue
        seg = ann.get("segmentation")
        if seg:
            from pycocotools import mask as mask_utils

            if isinstance(seg, list):
                rles = mask_utils.frPyObjects(seg, h, w)
                rle = mask_utils.merge(rles)
            elif isinstance(seg.get("counts"), list):
                rle = mask_utils.frPyObjects(seg, h, w)
            else:
                rle = seg
            out |= mask_utils.decode(rle).astype(bool)
        elif "bbox" in ann:
            x, y, bw, bh = ann["bbox"]
            x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
            x1, y1 = min(int(np.ceil(x + bw)), w), min(int(np.ceil(y + bh)), h)
            out[y0:y1, x0:x1] = True
    return out

