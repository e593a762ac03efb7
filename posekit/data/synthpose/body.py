"""The SynthPose body: parts and materials of the label map, which parts show each keypoint,
human proportions (Drillis & Contini's segment fractions, as tabled in Winter's "Biomechanics
and Motor Control of Human Movement") and the parameters that fix one person's geometry.

Label map bits: ``owner << 9 | material << 5 | part`` (owner 0 = background, < 128).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from posekit.skeletons import COCO17

__all__ = ["Part", "Material", "KEYPOINT_PARTS", "PROPORTIONS", "PersonParams", "view_of",
           "EXTRA_KEYPOINTS", "EXTRA_KEYPOINT_PARTS"]


class Part(IntEnum):
    """Body part drawn at a pixel (low 5 bits of the label map); 0 = not a person's pixel."""

    NONE = 0
    TORSO = 1
    NECK = 2
    HEAD = 3
    UPPER_ARM_L = 4
    FOREARM_L = 5
    HAND_L = 6
    UPPER_ARM_R = 7
    FOREARM_R = 8
    HAND_R = 9
    THIGH_L = 10
    SHANK_L = 11
    FOOT_L = 12
    THIGH_R = 13
    SHANK_R = 14
    FOOT_R = 15
    HAIR = 16  # long hair hanging behind the head (it can cover the ears, neck and shoulders)


class Material(IntEnum):
    """What a person's pixel shows (bits 5–8 of the label map)."""

    NONE = 0
    SKIN = 1
    HAIR = 2
    SHIRT = 3
    TROUSERS = 4
    SHOES = 5
    EYE = 6
    MOUTH = 7
    TRIM = 8
    HAT = 9
    OBJECT = 10  # something a person carries (randomised styles; its pixels are no one's)


# Limb parts of the person's left (+1) and right (-1) side: arm, forearm, hand, thigh, shank, foot.
_SIDE_PARTS = {
    +1: (Part.UPPER_ARM_L, Part.FOREARM_L, Part.HAND_L, Part.THIGH_L, Part.SHANK_L, Part.FOOT_L),
    -1: (Part.UPPER_ARM_R, Part.FOREARM_R, Part.HAND_R, Part.THIGH_R, Part.SHANK_R, Part.FOOT_R),
}


def _keypoint_parts() -> tuple[frozenset[Part], ...]:
    """For each COCO-17 keypoint, the body parts whose pixels show it (looked up by name)."""
    parts: dict[str, frozenset[Part]] = {
        "nose": frozenset({Part.HEAD}),
        "left_eye": frozenset({Part.HEAD}),
        "right_eye": frozenset({Part.HEAD}),
        "left_ear": frozenset({Part.HEAD}),
        "right_ear": frozenset({Part.HEAD}),
    }
    for side, prefix in ((+1, "left"), (-1, "right")):
        arm, fore, hand, thigh, shank, foot = _SIDE_PARTS[side]
        parts[f"{prefix}_shoulder"] = frozenset({Part.TORSO, arm})
        parts[f"{prefix}_elbow"] = frozenset({arm, fore})
        parts[f"{prefix}_wrist"] = frozenset({fore, hand})
        parts[f"{prefix}_hip"] = frozenset({Part.TORSO, thigh})
        parts[f"{prefix}_knee"] = frozenset({thigh, shank})
        parts[f"{prefix}_ankle"] = frozenset({shank, foot})
    return tuple(parts[name] for name in COCO17.keypoint_names)


KEYPOINT_PARTS: tuple[frozenset[Part], ...] = _keypoint_parts()
# Label map bits: owner << 9 | material << 5 | part (owner 0 = background, < 128).
_PART_BITS, _MAT_BITS = 5, 4
_OWNER_SHIFT = _PART_BITS + _MAT_BITS
_PART_MASK = (1 << _PART_BITS) - 1
# (K, 32) lookup: is part p one of keypoint k's own parts?
_OWN_PART_TABLE = np.zeros((COCO17.num_keypoints, 1 << _PART_BITS), dtype=bool)
for _k, _parts in enumerate(KEYPOINT_PARTS):
    _OWN_PART_TABLE[_k, [int(p) for p in _parts]] = True
_KP = {name: i for i, name in enumerate(COCO17.keypoint_names)}

# Points beyond COCO-17 that the figure also places (MPII-16's, by MPII's names).
EXTRA_KEYPOINTS: tuple[str, ...] = ("head_top", "upper_neck", "thorax", "pelvis")
EXTRA_KEYPOINT_PARTS: tuple[frozenset[Part], ...] = (
    frozenset({Part.HEAD}), frozenset({Part.NECK, Part.HEAD}),
    frozenset({Part.TORSO, Part.NECK}), frozenset({Part.TORSO}),
)
_EXTRA_PART_TABLE = np.zeros((len(EXTRA_KEYPOINTS), 1 << _PART_BITS), dtype=bool)
for _k, _parts in enumerate(EXTRA_KEYPOINT_PARTS):
    _EXTRA_PART_TABLE[_k, [int(p) for p in _parts]] = True


# Fractions of standing height H (Winter, after Drillis & Contini);
# foot length 0.152 H is Winter's; head height H / 7.5; widths are girths of our capsules.
PROPORTIONS: dict[str, float] = {
    "upper_arm": 0.186, "forearm": 0.146, "hand": 0.108, "thigh": 0.245, "shank": 0.246,
    "foot_height": 0.039, "foot_length": 0.152, "shoulder_width": 0.259, "hip_width": 0.191,
    "torso": 0.818 - 0.530,  # shoulders above the hips (trochanter)
    "neck": 0.870 - 0.818,  # chin above the shoulders
    "head": 1.0 / 7.5,
}  # fmt: skip

_VIEWS = ("front", "three_quarter", "profile", "back")


def view_of(yaw: float) -> str:
    """Name of the view of a body turned by ``yaw`` degrees (0 = facing the camera):
    front |yaw| ≤ 35°, profile 65–115°, back ≥ 145°, otherwise three-quarter."""
    a = abs((yaw + 180.0) % 360.0 - 180.0)
    if a <= 35.0:
        return "front"
    if a >= 145.0:
        return "back"
    if 65.0 <= a <= 115.0:
        return "profile"
    return "three_quarter"


@dataclass(frozen=True)
class PersonParams:
    """Everything that fixes one person's geometry (angles in degrees, lengths in pixels).

    Limb angles are (left, right) pairs; a limb angle of 0 means hanging straight down.
    ``*_plane`` picks the plane the limb is raised in: 0 = sideways (abduction), 90 = forwards
    (flexion; negative angles then swing backwards). ``yaw`` turns the body about the vertical:
    0 faces the camera (the person's left on the image right), 90 faces the image right.
    """

    height: float
    lengths: dict[str, float]  # segment lengths in px, keys of PROPORTIONS
    girth: float  # multiplies limb/torso thickness
    yaw: float
    head_yaw: float
    lean: float  # torso lean in the image plane, about the pelvis
    neck_roll: float  # head tilt in the image plane, about the neck base
    rotation: float  # whole-body in-plane rotation about the pelvis
    center: tuple[float, float]  # pelvis (mid-hip) position in image pixels
    shoulder: tuple[float, float]
    shoulder_plane: tuple[float, float]
    elbow: tuple[float, float]
    humeral: tuple[float, float]  # rotation of the upper arm about its axis (where the elbow bends)
    hip: tuple[float, float]
    hip_plane: tuple[float, float]
    knee: tuple[float, float]
    child: bool = False
    left_on_top: bool = True  # which side wins an exact depth tie (random, so it is no cue)

    @property
    def view(self) -> str:
        return view_of(self.yaw)

