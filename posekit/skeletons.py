"""Keypoint sets of the datasets posekit reads, as data: names, flip pairs, limbs, OKS sigmas.

Every index that means "a body part of dataset X" lives here and nowhere else. Sigmas are the
per-keypoint OKS constants as pycocotools uses them (``vars = (2σ)²``); sources are cited on each
skeleton. Conversions between skeletons are explicit tables built from keypoint names plus the
few derived points (OpenPose's neck), see :func:`conversion_table` and :func:`convert_keypoints`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Skeleton",
    "SKELETONS",
    "COCO17",
    "OPENPOSE18",
    "MPII16",
    "CROWDPOSE14",
    "AIC14",
    "POSETRACK18",
    "get_skeleton",
    "conversion_table",
    "convert_keypoints",
]


@dataclass(frozen=True)
class Skeleton:
    """A keypoint set: names in dataset order, left/right pairs, limbs and OKS sigmas.

    ``limbs`` are the drawing links and, for bottom-up models, the PAF connections.
    ``sigmas`` is None for a skeleton without published OKS constants.
    """

    name: str
    keypoint_names: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    limbs: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...] | None = None
    source: str = ""
    # Derived points for conversion: name -> names whose mean defines it (all must be labelled).
    derived: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # PAF channel pair of each limb (limb i → channels 2·c, 2·c + 1 with c = paf_channels[i]);
    # empty = limb order. CMU's COCO model stores its PAFs in an order unlike its limb list.
    paf_channels: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        k = len(self.keypoint_names)
        if len(set(self.keypoint_names)) != k:
            raise ValueError(f"skeleton {self.name}: duplicate keypoint names")
        for a, b in self.flip_pairs + self.limbs:
            if not (0 <= a < k and 0 <= b < k):
                raise ValueError(f"skeleton {self.name}: index out of range in ({a}, {b})")
        if self.paf_channels and sorted(self.paf_channels) != list(range(len(self.limbs))):
            raise ValueError(f"skeleton {self.name}: paf_channels must permute the limbs")
        if self.sigmas is not None and len(self.sigmas) != k:
            raise ValueError(f"skeleton {self.name}: {len(self.sigmas)} sigmas for {k} keypoints")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def flip_indices(self) -> list[int]:
        """Permutation that maps each keypoint to its mirror twin (itself when unpaired)."""
        perm = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    @property
    def paf_channel_order(self) -> tuple[int, ...]:
        """PAF channel pair of each limb (identity unless ``paf_channels`` says otherwise)."""
        return self.paf_channels or tuple(range(len(self.limbs)))

    def index(self, name: str) -> int:
        try:
            return self.keypoint_names.index(name)
        except ValueError:
            raise ValueError(f"skeleton {self.name} has no keypoint {name!r}") from None

    def oks_sigmas(self) -> np.ndarray:
        """Sigmas as a float array; a clear error where the skeleton has none."""
        if self.sigmas is None:
            raise ValueError(f"skeleton {self.name} has no OKS sigmas; pass sigmas explicitly")
        return np.asarray(self.sigmas, dtype=np.float64)


_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_COCO_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip

COCO17 = Skeleton(
    name="coco17",
    keypoint_names=_COCO_NAMES,
    flip_pairs=((1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    # COCO's native 19-link skeleton (person_keypoints json, converted to 0-based).
    limbs=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
           (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)),
    sigmas=_COCO_SIGMAS,
    source="COCO keypoints (cocoapi COCOeval sigmas)",
)

OPENPOSE18 = Skeleton(
    name="openpose18",
    keypoint_names=(
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
        "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
        "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear",
    ),  # fmt: skip
    flip_pairs=((2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)),
    # OpenPose's 19 PAF limbs; the last two (shoulder→ear) are redundant links for robustness.
    limbs=((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
           (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (2, 16), (5, 17)),
    # COCO sigmas by name; the neck (no COCO sigma) takes the shoulders' 0.079.
    sigmas=(0.026, 0.079, 0.079, 0.072, 0.062, 0.079, 0.072, 0.062, 0.107, 0.087, 0.089, 0.107,
            0.087, 0.089, 0.025, 0.025, 0.035, 0.035),
    source="CMU OpenPose COCO-18 body (neck = shoulders' midpoint)",
    derived={"neck": ("left_shoulder", "right_shoulder")},
    # CMU's POSE_COCO_MAP_IDX (31,32, 39,40, 33,34, ...) minus 19, halved: limb (1,2) is PAF pair 6,
    # (1,5) pair 10, ..., (1,8) pair 0. The PAF codec writes and grouping reads this order.
    paf_channels=(6, 10, 7, 8, 11, 12, 0, 1, 2, 3, 4, 5, 14, 15, 17, 16, 18, 9, 13),
)

MPII16 = Skeleton(
    name="mpii16",
    keypoint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    ),  # fmt: skip
    flip_pairs=((0, 5), (1, 4), (2, 3), (10, 15), (11, 14), (12, 13)),
    limbs=((0, 1), (1, 2), (2, 6), (6, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (8, 12),
           (12, 11), (11, 10), (8, 13), (13, 14), (14, 15)),
    # MMPose's MPII sigmas ("adapted from COCO"); MPII itself is scored with PCKh.
    sigmas=(0.089, 0.083, 0.107, 0.107, 0.083, 0.089, 0.026, 0.026, 0.026, 0.026, 0.062, 0.072,
            0.179, 0.179, 0.072, 0.062),
    source="MPII Human Pose (sigmas from MMPose's mpii dataset info)",
)

CROWDPOSE14 = Skeleton(
    name="crowdpose14",
    keypoint_names=(
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle", "head_top", "neck",
    ),  # fmt: skip
    flip_pairs=((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11)),
    limbs=((10, 8), (8, 6), (11, 9), (9, 7), (6, 7), (0, 6), (1, 7), (0, 1), (0, 2), (1, 3),
           (2, 4), (3, 5), (12, 13), (1, 13), (0, 13)),
    sigmas=(0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
            0.079, 0.079),
    source="CrowdPose (Li et al. 2019; sigmas from crowdposetools)",
)

AIC14 = Skeleton(
    name="aic14",
    keypoint_names=(
        "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
        "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
        "left_ankle", "head_top", "neck",
    ),  # fmt: skip
    flip_pairs=((0, 3), (1, 4), (2, 5), (6, 9), (7, 10), (8, 11)),
    limbs=((2, 1), (1, 0), (0, 13), (13, 3), (3, 4), (4, 5), (8, 7), (7, 6), (6, 9), (9, 10),
           (10, 11), (12, 13), (0, 6), (3, 9)),
    # AI Challenger's official evaluation constants (delta = 2σ in its keypoint_eval.py).
    sigmas=(0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
            0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173),
    source="AI Challenger 2017 keypoints",
)

POSETRACK18 = Skeleton(
    name="posetrack18",
    keypoint_names=(
        "nose", "head_bottom", "head_top", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
        "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle",
    ),  # fmt: skip
    flip_pairs=((3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)),
    limbs=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
           (6, 8), (7, 9), (8, 10), (0, 1), (0, 2), (1, 5), (1, 6)),
    # PoseTrack reuses COCO's sigmas position by position (MMPose's posetrack18 dataset info).
    sigmas=_COCO_SIGMAS,
    source="PoseTrack 2018 (COCO-style 17 points; ears unannotated, head_bottom/head_top added)",
)

# The one explicit name → skeleton table (OCHuman uses COCO-17).
SKELETONS: dict[str, Skeleton] = {
    s.name: s for s in (COCO17, OPENPOSE18, MPII16, CROWDPOSE14, AIC14, POSETRACK18)
}
_ALIASES = {"coco": "coco17", "ochuman": "coco17", "openpose": "openpose18", "mpii": "mpii16",
            "crowdpose": "crowdpose14", "aic": "aic14"}


def get_skeleton(name: str | Skeleton) -> Skeleton:
    """Look a skeleton up by name (``coco17``, ``mpii``, …); a Skeleton passes through."""
    if isinstance(name, Skeleton):
        return name
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in SKELETONS:
        known = ", ".join(sorted(SKELETONS) + sorted(_ALIASES))
        raise ValueError(f"unknown skeleton {name!r}; known: {known}")
    return SKELETONS[key]


def conversion_table(src: Skeleton, dst: Skeleton) -> tuple[tuple[int, ...], ...]:
    """For each keypoint of ``dst``, the ``src`` indices that define it.

    One index copies the point; several mean "their midpoint, if all are labelled" (OpenPose's
    neck from COCO's shoulders); an empty tuple means ``dst`` has no counterpart in ``src``.
    Points are matched by name, which is the explicit contract of the tables above.
    """
    table = []
    for name in dst.keypoint_names:
        if name in src.keypoint_names:
            table.append((src.keypoint_names.index(name),))
        elif name in dst.derived and all(n in src.keypoint_names for n in dst.derived[name]):
            table.append(tuple(src.keypoint_names.index(n) for n in dst.derived[name]))
        else:
            table.append(())
    return tuple(table)


def convert_keypoints(keypoints: np.ndarray, src: Skeleton, dst: Skeleton) -> np.ndarray:
    """Convert (N, K_src, 3) keypoints to (N, K_dst, 3); unmatched points become (0, 0, 0).

    A derived point is labelled only when all its sources are (v > 0); its visibility/score is
    the minimum of theirs.
    """
    kpts = np.asarray(keypoints, dtype=np.float32)
    if kpts.ndim != 3 or kpts.shape[1:] != (src.num_keypoints, 3):
        raise ValueError(
            f"keypoints must be (N, {src.num_keypoints}, 3) for {src.name}, got {kpts.shape}"
        )
    out = np.zeros((kpts.shape[0], dst.num_keypoints, 3), dtype=np.float32)
    for j, sources in enumerate(conversion_table(src, dst)):
        if len(sources) == 1:
            out[:, j] = kpts[:, sources[0]]
        elif len(sources) > 1:
            parts = kpts[:, list(sources)]  # (N, S, 3)
            labelled = (parts[:, :, 2] > 0).all(axis=1)
            out[labelled, j, :2] = parts[labelled, :, :2].mean(axis=1)
            out[labelled, j, 2] = parts[labelled, :, 2].min(axis=1)
    return out
