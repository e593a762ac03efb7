"""SynthPose: the embedded synthetic multi-person COCO-17 dataset, drawn procedurally.

Every image holds articulated people built from human proportions (REFERENCE.md "Human
proportions": Drillis & Contini via Winter, ±10 % per person, some children) with joint angles
from anatomical ranges, posed in 3-D, turned to a yaw (front, back, profile or three-quarter
view) and projected orthographically; they wear textured shirts and trousers, have a face on the
front of the head and hair on the back, overlap one another, are truncated by the image border
and sit in cluttered textured scenes with limb-like distractors and occluding objects.

Left and right are told apart only as in photos, by the way a person faces (face, neckline and
buttons on the front, hair on the back, feet pointing forward, limbs bending their anatomical
way, the far side hidden by the body in profile) and never by colour: both sides of a person share
one material each, and equal-depth overlaps are broken at random.

Drawing is back to front into the BGR image and, in step, into an integer label map that says for
each pixel which person or object owns it, which body part and which material. Visibility, `area`
and `bbox` are read from that map, so they are true to the drawing: a keypoint is v=2 when the
pixel nearest to it (pixel-centre convention of :mod:`posekit.structures`) shows one of its own
body parts (:data:`KEYPOINT_PARTS`) and its surface faces the camera, v=1 when it is inside the
image but covered (by a nearer person or object, by another of the person's parts, or by the
person's own head/body, e.g. the eyes of someone seen from behind), and v=0 outside the image.

Crowd levels (:data:`CROWD_LEVELS`): ``sparse`` draws 1–2 people per image, up to the full
image height; ``normal`` 1–5, up to 0.9 of it; ``dense`` 4–12 gathered around one or two centres
so they overlap heavily, up to 0.65 of it. Standing heights run from 24 px (at 256 × 256) up.

:func:`generate_dataset` writes COCO format (``images/{split}/{id:012d}.jpg`` and
``annotations/person_keypoints_{split}.json``), byte-identical for one seed whatever the number of
worker processes, because every image draws from its own generator seeded by
(seed, split, crowd, index). People with no visible pixel are not annotated; ``area`` is the
count of the person's visible pixels and ``bbox`` their tight box with edges on pixel borders
(x = leftmost pixel − 0.5); v=0 keypoints are written as (0, 0, 0), as COCO does.
"""

from __future__ import annotations

import colorsys
import functools
import json
import math
import multiprocessing
import os
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.skeletons import COCO17

__all__ = [
    "Part",
    "Material",
    "KEYPOINT_PARTS",
    "CrowdLevel",
    "CROWD_LEVELS",
    "PROPORTIONS",
    "PersonParams",
    "RenderedPerson",
    "RenderedImage",
    "view_of",
    "sample_person",
    "person_keypoints",
    "image_rng",
    "render_image",
    "render_person",
    "generate_dataset",
    "format_summary",
]

JPEG_QUALITY = 92
_SHIFT = 4  # OpenCV fixed-point bits: coordinates are drawn to 1/16 pixel
_ONE = 1 << _SHIFT


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


# --------------------------------------------------------------------------------------------
# Crowd levels
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrowdLevel:
    """How many people an image holds, how tall and how they gather.

    Attributes:
        people: inclusive range of people drawn per image (uniform).
        max_height: tallest standing height as a fraction of the image side.
        groups: people gather round this many centres (heavy overlap); None = placed independently.
        occluder_prob: chance that an image has 1–2 objects in front of people.
        distractors: inclusive range of limb-like capsules attached to nobody.
    """

    people: tuple[int, int]
    max_height: float
    groups: tuple[int, int] | None
    occluder_prob: float
    distractors: tuple[int, int]


CROWD_LEVELS: dict[str, CrowdLevel] = {
    "sparse": CrowdLevel(people=(1, 2), max_height=1.0, groups=None, occluder_prob=0.15,
                         distractors=(2, 5)),
    "normal": CrowdLevel(people=(1, 5), max_height=0.9, groups=None, occluder_prob=0.25,
                         distractors=(3, 8)),
    "dense": CrowdLevel(people=(4, 12), max_height=0.65, groups=(1, 2), occluder_prob=0.3,
                        distractors=(3, 8)),
}
MIN_HEIGHT = 24.0  # px at 256 × 256; scaled with the image side (never below 24 px)


# --------------------------------------------------------------------------------------------
# Body model
# --------------------------------------------------------------------------------------------

# Fractions of standing height H (REFERENCE.md "Human proportions", Winter / Drillis & Contini);
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


# Scalar draws in plain Python: numpy's per-call overhead on scalars dominated sampling time.
def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform in [lo, hi)."""
    return lo + (hi - lo) * rng.random()


def _gauss(rng: np.random.Generator, sigma: float, lo: float, hi: float, mean: float = 0.0
           ) -> float:
    """Normal(mean, sigma) clipped to [lo, hi]."""
    return min(max(mean + sigma * rng.standard_normal(), lo), hi)


def _int(rng: np.random.Generator, lo: int, hi: int) -> int:
    """Uniform integer in [lo, hi] (both inclusive)."""
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng: np.random.Generator, probs: Sequence[float]) -> int:
    """Index drawn with the given probabilities (summing to 1)."""
    u, acc = rng.random(), 0.0
    for i, q in enumerate(probs):
        acc += q
        if u < acc:
            return i
    return len(probs) - 1


def _sample_yaw(rng: np.random.Generator) -> float:
    """Body yaw: front 35 %, back 25 %, profile 25 %, three-quarter 15 %."""
    sign = 1.0 if rng.random() < 0.5 else -1.0
    kind = _pick(rng, (0.35, 0.25, 0.25, 0.15))
    if kind == 0:
        return _u(rng, -30, 30)
    if kind == 1:
        return 180.0 + _u(rng, -30, 30)
    if kind == 2:
        return sign * _u(rng, 65, 115)
    return sign * (_u(rng, 38, 62) if rng.random() < 0.5 else _u(rng, 118, 142))


def _pair(rng: np.random.Generator, lo: float, hi: float) -> tuple[float, float]:
    return (_u(rng, lo, hi), _u(rng, lo, hi))


def _raise_plane(rng: np.random.Generator, angle: float, free_up_to: float) -> float:
    """Plane of a raised limb: any plane for small raises, near-sagittal for big or backward."""
    if angle < 0 or angle > free_up_to:
        return _u(rng, 60, 90)
    return _u(rng, 0, 90)


def _sample_pose(rng: np.random.Generator) -> dict[str, Any]:
    """Joint angles from a mixture of standing, walking, free ("active") and sitting poses,
    within the ranges of REFERENCE.md: shoulder −45…180, elbow 0…150, hip −30…120, knee 0…150,
    neck ±45, torso lean ±30."""
    mode = _pick(rng, (0.4, 0.25, 0.25, 0.1))
    lean = _gauss(rng, 6, -30, 30)
    roll = _gauss(rng, 8, -45, 45)
    if mode == 0:  # standing
        shoulder = _pair(rng, -20, 35)
        elbow = _pair(rng, 0, 70)
        humeral = _pair(rng, -60, 60)
        hip = _pair(rng, -10, 15)
        hip_plane = _pair(rng, 30, 90)
        knee = _pair(rng, 0, 15)
    elif mode == 1:  # walking / running: legs and arms swing in opposite phase
        a = _u(rng, 15, 40) * (1 if rng.random() < 0.5 else -1)
        hip = (_gauss(rng, 5, -30, 120, a),
               _gauss(rng, 5, -30, 120, -a))
        knee = tuple(_u(rng, 10, 60) if h < 0 else _u(rng, 0, 25) for h in hip)
        shoulder = (_gauss(rng, 8, -45, 180, -0.7 * a),
                    _gauss(rng, 8, -45, 180, 0.7 * a))
        elbow = _pair(rng, 10, 90)
        humeral = _pair(rng, -30, 30)
        hip_plane = _pair(rng, 75, 90)
    elif mode == 2:  # anything in range
        shoulder = _pair(rng, -45, 180)
        elbow = _pair(rng, 0, 150)
        humeral = _pair(rng, -90, 60)
        hip = _pair(rng, -30, 120)
        hip_plane = tuple(_raise_plane(rng, h, 45) for h in hip)
        knee = _pair(rng, 0, 150)
        lean = _u(rng, -30, 30)
        roll = _u(rng, -45, 45)
    else:  # sitting / crouching
        shoulder = _pair(rng, -20, 60)
        elbow = _pair(rng, 0, 120)
        humeral = _pair(rng, -60, 60)
        h = _u(rng, 60, 110)
        hip = (_gauss(rng, 8, 60, 120, h),
               _gauss(rng, 8, 60, 120, h))
        hip_plane = _pair(rng, 70, 90)
        knee = _pair(rng, 60, 150)
        lean = _gauss(rng, 10, -30, 30)
    if mode != 1:
        shoulder_plane = tuple(_raise_plane(rng, s, 180) for s in shoulder)
    else:
        shoulder_plane = (90.0, 90.0)
    return dict(shoulder=tuple(shoulder), shoulder_plane=tuple(shoulder_plane),
                elbow=tuple(elbow), humeral=tuple(humeral), hip=tuple(hip),
                hip_plane=tuple(hip_plane), knee=tuple(knee), lean=lean, neck_roll=roll)


def sample_person(
    rng: np.random.Generator, height: float, center: tuple[float, float]
) -> PersonParams:
    """A random person of standing ``height`` px with the pelvis at ``center`` (image pixels).

    Segment lengths vary ±10 % each; 8 % are children (bigger head, shorter legs and shoulders).
    1 in 20 is rotated freely in the image plane (lying, acrobatics).
    """
    child = bool(rng.random() < 0.08)
    lengths = {k: v * height * _u(rng, 0.9, 1.1) for k, v in PROPORTIONS.items()}
    if child:  # about 5.5 heads tall instead of 7.5
        lengths["head"] *= 1.35
        for k in ("thigh", "shank", "shoulder_width", "hip_width", "upper_arm", "forearm"):
            lengths[k] *= 0.88
    yaw = _sample_yaw(rng)
    head_yaw = yaw + _gauss(rng, 15, -40, 40)
    if rng.random() < 0.05:
        rotation = _u(rng, -180, 180)
    else:
        rotation = _gauss(rng, 5, -15, 15)
    pose = _sample_pose(rng)
    return PersonParams(
        height=float(height), lengths=lengths, girth=_u(rng, 0.85, 1.2), yaw=yaw,
        head_yaw=head_yaw, rotation=rotation, center=(float(center[0]), float(center[1])),
        child=child, left_on_top=bool(rng.random() < 0.5), **pose,
    )


# ----- geometry ----------------------------------------------------------------------------------

_DOWN = np.array([0.0, -1.0, 0.0])
_FWD = np.array([0.0, 0.0, 1.0])


def _rodrigues(axis: np.ndarray, angle: float) -> np.ndarray:
    """3×3 rotation by ``angle`` radians about the unit ``axis`` (Rodrigues' formula)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


def _limb_rotation(side: int, angle: float, plane: float) -> np.ndarray:
    """Rotation that raises a hanging limb of the given side by ``angle`` degrees in ``plane``
    (0 = sideways away from the body, 90 = forwards)."""
    phi = math.radians(plane)
    axis = np.array([-math.sin(phi), 0.0, side * math.cos(phi)])  # down × (side cos φ, 0, sin φ)
    return _rodrigues(axis, math.radians(angle))


def _project(points: np.ndarray, yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Body frame (X = person's left, Y = up, Z = forward) → image plane (x right, y down) and
    depth (away from the camera) for a body turned by ``yaw`` degrees; orthographic camera."""
    c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cam = np.asarray(points, dtype=np.float64).reshape(-1, 3) @ np.array(
        [[c, 0.0, s], [0.0, -1.0, 0.0], [s, 0.0, -c]]).T  # (P, 3): x, y, depth
    return cam[:, :2], cam[:, 2]


def _affine(degrees: float, about: Sequence[float] = (0.0, 0.0),
            shift: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """(2, 3) image-plane rotation by ``degrees`` about ``about`` (y down, so clockwise on
    screen, as OpenCV's ellipse angle), followed by a translation by ``shift``."""
    a = math.radians(degrees)
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    about = np.asarray(about, dtype=np.float64)
    return np.concatenate([r, (about - r @ about + np.asarray(shift))[:, None]], axis=1)


def _then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(2, 3) affine applying ``first`` and then ``second``."""
    return np.concatenate([second[:, :2] @ first[:, :2],
                           (second[:, :2] @ first[:, 2] + second[:, 2])[:, None]], axis=1)


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to (P, 2) points."""
    return np.asarray(pts, dtype=np.float64).reshape(-1, 2) @ m[:, :2].T + m[:, 2]


@dataclass
class _Shape:
    """One filled OpenCV primitive in image pixels: poly (P, 2), circle, ellipse or capsule."""

    kind: str
    pts: np.ndarray  # poly: (P, 2); circle/ellipse: (1, 2) centre; capsule: (2, 2) ends
    size: tuple[float, ...] = ()  # circle (r,); ellipse (a, b, angle°); capsule (r0, r1)
    material: Material = Material.SKIN
    convex: bool = True


@dataclass
class _Group:
    """Shapes of one body part drawn together at one depth."""

    part: Part
    depth: float
    tie: int
    shapes: list[_Shape] = field(default_factory=list)


@dataclass(frozen=True)
class _Cloth:
    """A surface: 4 colour levels (BGR) indexed by a pattern from the bank (-1 = plain)."""

    levels: np.ndarray  # (4, 3) uint8
    pattern: int
    offset: tuple[int, int]

    def fill(self, shape: tuple[int, int], origin: tuple[int, int]) -> np.ndarray:
        """(h, w, 3) uint8 surface for a canvas at image position ``origin``."""
        if self.pattern < 0:
            return np.broadcast_to(self.levels[0], (*shape, 3))
        return np.take(self.levels, self.level_map(shape, origin), axis=0)

    def level_map(self, shape: tuple[int, int], origin: tuple[int, int]) -> np.ndarray:
        """(h, w) uint8 pattern levels 0–3 (all 0 for a plain surface)."""
        if self.pattern < 0:
            return np.zeros(shape, dtype=np.uint8)
        return _crop(_pattern_bank()[self.pattern], origin[0] + self.offset[0],
                     origin[1] + self.offset[1], shape)


@dataclass
class _Look:
    """Clothing and colouring of one person (BGR colours); left and right share all of it."""

    skin: tuple[int, int, int]
    hair: _Cloth
    hair_style: str  # short | long | hat
    hat: _Cloth
    shirt: _Cloth
    trousers: _Cloth
    shoes: tuple[int, int, int]
    trim: tuple[int, int, int]
    eye: tuple[int, int, int]
    mouth: tuple[int, int, int]
    sleeves: str  # none | short | long
    legs: str  # long | shorts
    neckline: str  # v | round | zip
    buttons: bool


@dataclass
class _Figure:
    """A person ready to draw: keypoints, self-occlusion flags and depth-sorted shape groups."""

    keypoints: np.ndarray  # (K, 2) image pixels
    self_hidden: np.ndarray  # (K,) bool: the keypoint's surface faces away from the camera
    groups: list[_Group]
    extent: np.ndarray  # (4,) x1, y1, x2, y2 bounding every shape


def _capsule(a: np.ndarray, b: np.ndarray, r0: float, r1: float, m: Material) -> _Shape:
    # At least 1 px, so the pixel nearest to a joint at either end is always covered.
    return _Shape("capsule", np.array([a, b]), (max(r0, 1.0), max(r1, 1.0)), m)


def _ellipse_points(a: float, b: float, t0: float, t1: float, n: int) -> np.ndarray:
    """(n, 2) points of the axis-aligned ellipse x = a sin t, y = -b cos t for t in [t0, t1]."""
    t = np.linspace(t0, t1, n)
    return np.column_stack([a * np.sin(t), -b * np.cos(t)])


def _hull(pts: np.ndarray) -> np.ndarray:
    return cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)  # (P, 2)


def _build_figure(p: PersonParams, look: _Look | None = None) -> _Figure:
    """Pose the body in 3-D, project it and lay out its shapes back to front."""
    L, H, g = p.lengths, p.height, p.girth
    sleeves = look.sleeves if look else "long"
    hair_style = look.hair_style if look else "short"
    r_arm = (0.040 * H * g, 0.030 * H * g, 0.028 * H * g, 0.021 * H * g)  # shoulder … wrist
    r_leg = (0.050 * H * g, 0.034 * H * g, 0.033 * H * g, 0.022 * H * g)  # hip … ankle
    torso, neck = L["torso"], L["neck"]
    rh = 0.5 * L["head"]  # head half-height; half-width rw
    rw = 0.78 * rh
    sh_x = 0.5 * L["shoulder_width"] - 0.3 * r_arm[0]  # shoulder joint, inside the acromion
    pelvis_x = 0.5 * L["hip_width"]  # greater trochanters: the pelvis sides
    hip_kp_x = 0.8 * pelvis_x  # COCO hips: on the pelvis sides, just inside its outline
    hip_pivot_x = max(pelvis_x - 0.9 * r_leg[0], 0.3 * pelvis_x)  # where the thigh turns
    half_depth = 0.055 * H * g
    c, s = math.cos(math.radians(p.yaw)), math.sin(math.radians(p.yaw))
    ch, sh = math.cos(math.radians(p.head_yaw)), math.sin(math.radians(p.head_yaw))

    neck_base_3d = np.array([0.0, torso, 0.0])
    neck_base = _project(neck_base_3d, p.yaw)[0][0]
    upper = _affine(p.lean)  # torso lean about the pelvis (the origin)
    waist_m = _affine(0.5 * p.lean)
    head_m = _then(_affine(p.neck_roll, neck_base), upper)  # neck roll, then lean
    roll = p.lean + p.neck_roll

    k = np.zeros((COCO17.num_keypoints, 2))
    hidden = np.zeros(COCO17.num_keypoints, dtype=bool)
    groups: list[_Group] = []

    # --- torso: convex hulls of shoulder, waist and pelvis "rings" (front and back corners) ---
    def ring(y: float, half_w: float) -> np.ndarray:
        return np.array([[sx * half_w, y, sz * half_depth] for sx in (-1, 1) for sz in (-1, 1)])

    top = _apply(upper, _project(ring(torso + 0.25 * r_arm[0], sh_x + 0.2 * r_arm[0]), p.yaw)[0])
    waist_w = max(0.78 * sh_x, pelvis_x)
    # The shirt reaches below the waistband, which the trousers (drawn after it) then cover.
    waist = _apply(waist_m, _project(ring(0.28 * torso, waist_w), p.yaw)[0])
    band = _apply(waist_m, _project(ring(0.34 * torso, waist_w), p.yaw)[0])
    bottom = _project(ring(-0.05 * H, pelvis_x), p.yaw)[0]
    tg = _Group(Part.TORSO, 0.0, 0, [
        _Shape("poly", _hull(np.vstack([top, waist])), material=Material.SHIRT),
        _Shape("poly", _hull(np.vstack([band, bottom])), material=Material.TROUSERS)])
    if c > 0.25 and look is not None:  # the front of the shirt faces the camera
        fz = half_depth * 0.98
        if look.neckline != "zip":
            w, d = 0.045 * H, (0.09 if look.neckline == "v" else 0.05) * H
            y0 = torso + 0.2 * r_arm[0]
            if look.neckline == "v":
                nl = np.array([[-w, y0, fz], [w, y0, fz], [0.0, y0 - d, fz]])
            else:
                t = np.linspace(0, math.pi, 9)
                nl = np.stack([-w * np.cos(t), y0 - d * np.sin(t), np.full(9, fz)], axis=1)
            tg.shapes.append(_Shape("poly", _apply(upper, _project(nl, p.yaw)[0])))
        line_bot = 0.36 * torso
        if look.neckline == "zip":
            zl = np.array([[-0.006 * H, torso, fz], [0.006 * H, torso, fz],
                           [0.006 * H, line_bot, fz], [-0.006 * H, line_bot, fz]])
            tg.shapes.append(_Shape("poly", _apply(upper, _project(zl, p.yaw)[0]),
                                    material=Material.TRIM))
        elif look.buttons:
            ys = np.linspace(torso - 0.09 * H, line_bot + 0.03 * H, 4)
            ctrs = _apply(upper, _project(np.stack([np.zeros(4), ys, np.full(4, fz)], 1),
                                          p.yaw)[0])
            for ctr in ctrs:
                tg.shapes.append(_Shape("circle", ctr[None], (max(0.009 * H, 0.5),),
                                        Material.TRIM))
    groups.append(tg)

    # --- neck and head ---
    chin = neck_base_3d + np.array([0.0, neck, 0.0])
    neck_ends = np.stack([_apply(upper, neck_base[None])[0],
                          _apply(head_m, _project(chin + [0.0, 0.3 * rh, 0.0], p.yaw)[0])[0]])
    groups.append(_Group(Part.NECK, 0.0, 1, [
        _capsule(neck_ends[0], neck_ends[1], 0.028 * H * g, 0.026 * H * g, Material.SKIN)]))
    head_c2 = _project(chin + [0.0, rh, 0.0], p.yaw)[0][0]  # head centre before roll and lean

    def head_pts(local: np.ndarray) -> np.ndarray:
        """Head-frame 3-D offsets (X left, Y up, Z forward) → image points, turned by head yaw."""
        return _apply(head_m, _project(local, p.head_yaw)[0] + head_c2)

    def head_2d(local_xy: np.ndarray) -> np.ndarray:
        """Image-plane offsets from the head centre (before roll and lean) → image points."""
        return _apply(head_m, local_xy + head_c2)

    # The head is an ellipsoid: half-width rw, half-height rh, half-depth rd (a head is about
    # 1.25 × longer front to back than it is wide).
    rd = 1.25 * rw
    face = head_pts(np.array([
        [0.0, -0.35 * rh, 1.1 * rd],  # nose tip, a third of the way from the eyes to the chin
        [0.41 * rw, 0.0, 0.88 * rd],  # eyes at mid-head height, 0.41 of the half-width out
        [-0.41 * rw, 0.0, 0.88 * rd],
        [1.04 * rw, -0.05 * rh, -0.05 * rd],  # ears on the sides, level with the eyes
        [-1.04 * rw, -0.05 * rh, -0.05 * rd],
    ]))
    for name, xy in zip(("nose", "left_eye", "right_eye", "left_ear", "right_ear"), face,
                        strict=True):
        k[_KP[name]] = xy
    # What the head itself hides, from the depth of the surface normals (eyes look 30° out);
    # an ear goes behind the head once turned 20° away.
    eye_az = math.radians(30.0)
    hidden[_KP["nose"]] = -ch > 0.3
    for side, prefix in ((+1, "left"), (-1, "right")):
        hidden[_KP[f"{prefix}_eye"]] = side * math.sin(eye_az) * sh - math.cos(eye_az) * ch > -0.05
        hidden[_KP[f"{prefix}_ear"]] = side * sh > math.sin(math.radians(20.0))
        hidden[_KP[f"{prefix}_shoulder"]] = side * s > 0.77  # that side turned > 50° away
        hidden[_KP[f"{prefix}_hip"]] = side * s > 0.77

    hg = _Group(Part.HEAD, 0.0, 2)
    half_w = math.hypot(rw * ch, rd * sh)  # silhouette half-width at this yaw
    hg.shapes.append(_Shape("ellipse", head_2d(np.zeros((1, 2))), (half_w, rh, roll),
                            Material.HAIR))
    # Face: the visible part of the front half, a "moon phase" between the silhouette on the
    # facing side and the projected mid-section (a half-ellipse of half-width rw·|cos yaw|).
    side_x = 1.0 if sh >= 0 else -1.0
    outer = _ellipse_points(half_w, rh, 0.0, math.pi, 17) * [side_x, 1.0]
    inner = _ellipse_points(rw * ch, rh, math.pi, 0.0, 17) * [-side_x, 1.0]
    if ch > -0.98:
        hg.shapes.append(_Shape("poly", head_2d(np.vstack([outer, inner])), convex=ch >= 0))
    t = math.acos(0.25 if hair_style == "hat" else 0.45)  # hairline / hat brim height
    hg.shapes.append(_Shape("poly", head_2d(_ellipse_points(half_w, rh, -t, t, 15)),
                            material=Material.HAT if hair_style == "hat" else Material.HAIR))
    # Features drawn where their keypoints are: nose, then eyes, then ears (so that in a
    # three-quarter view the far eye and far ear each keep their own pixel).
    if not hidden[_KP["nose"]]:
        if abs(sh) > 0.3:  # the nose sticks out of the silhouette when the head is turned
            bridge = head_pts(np.array([[0.0, 0.05 * rh, 0.95 * rd], [0.0, -0.45 * rh, 0.9 * rd]]))
            hg.shapes.append(_Shape("poly", np.vstack([bridge, k[_KP["nose"]][None]])))
        hg.shapes.append(_Shape("circle", k[_KP["nose"]][None], (max(0.1 * rw, 1.0),)))
    r = 0.13 * rw
    for prefix in ("left", "right"):
        if not hidden[_KP[f"{prefix}_eye"]]:
            hg.shapes.append(_Shape(
                "ellipse", k[_KP[f"{prefix}_eye"]][None],
                (max(r * (0.4 + 0.6 * abs(ch)), min(r, 1.0)), max(r, 0.5), roll), Material.EYE))
    for prefix in ("left", "right"):
        if not hidden[_KP[f"{prefix}_ear"]]:
            hg.shapes.append(_Shape("ellipse", k[_KP[f"{prefix}_ear"]][None],
                                    (max(rw * (0.08 + 0.12 * abs(sh)), 1.0), 0.28 * rh, roll)))
    if ch > 0.2:  # the mouth faces the camera
        hg.shapes.append(_Shape("ellipse", head_pts(np.array([0.0, -0.62 * rh, 0.78 * rd])),
                                (max(0.32 * rw * ch, 0.5), max(0.07 * rh, 0.5), roll),
                                Material.MOUTH))
    groups.append(hg)
    if hair_style == "long":  # hair hanging behind the head, down to the shoulders
        hb = np.array([[0.9 * rw, 0.1 * rh, -0.55 * rd], [-0.9 * rw, 0.1 * rh, -0.55 * rd],
                       [0.8 * rw, -(rh + 0.6 * neck + 0.03 * H), -0.6 * rd],
                       [-0.8 * rw, -(rh + 0.6 * neck + 0.03 * H), -0.6 * rd]])
        hb_xy, hb_depth = _project(hb, p.head_yaw)
        groups.append(_Group(Part.HAIR, float(hb_depth.mean()), 2, [
            _Shape("poly", _hull(_apply(head_m, hb_xy + head_c2)), material=Material.HAIR)]))

    # --- arms and legs ---
    for side, prefix in ((+1, "left"), (-1, "right")):
        i = 0 if side > 0 else 1
        arm, fore, hand, thigh, shank, foot = _SIDE_PARTS[side]
        tie = 0 if (side > 0) == p.left_on_top else 1
        # Arm: the elbow flexes towards the upper arm's front, turned by the humeral rotation.
        sh3 = np.array([side * sh_x, torso, 0.0])
        r1 = _limb_rotation(side, p.shoulder[i], p.shoulder_plane[i])
        d_up = r1 @ _DOWN
        bend = _rodrigues(d_up, math.radians(side * p.humeral[i])) @ (r1 @ _FWD)
        beta = math.radians(p.elbow[i])
        d_fore = math.cos(beta) * d_up + math.sin(beta) * bend
        el3 = sh3 + L["upper_arm"] * d_up
        wr3 = el3 + L["forearm"] * d_fore
        hd3 = wr3 + 0.45 * L["hand"] * d_fore
        xy, dep = _project(np.array([sh3, el3, wr3, hd3]), p.yaw)
        sh2, el2, wr2, hd2 = _apply(upper, xy)
        k[_KP[f"{prefix}_shoulder"]], k[_KP[f"{prefix}_elbow"]] = sh2, el2
        k[_KP[f"{prefix}_wrist"]] = wr2
        m_up = Material.SKIN if sleeves == "none" else Material.SHIRT
        m_fore = Material.SHIRT if sleeves == "long" else Material.SKIN
        groups.append(_Group(arm, 0.5 * float(dep[0] + dep[1]), 3 + tie,
                             [_capsule(sh2, el2, r_arm[0], r_arm[1], m_up)]))
        groups.append(_Group(fore, 0.5 * float(dep[1] + dep[2]), 5 + tie,
                             [_capsule(el2, wr2, r_arm[2], r_arm[3], m_fore)]))
        along = hd2 - wr2
        ratio = float(np.hypot(*along)) / max(0.45 * L["hand"], 1e-9)  # foreshortening
        hand_w = max(0.22 * L["hand"] * g, 1.0)
        angle = math.degrees(math.atan2(along[1], along[0])) if ratio > 1e-6 else 0.0
        groups.append(_Group(hand, 0.5 * float(dep[2] + dep[3]), 7 + tie, [_Shape(
            "ellipse", hd2[None], (max(0.5 * L["hand"] * ratio, hand_w), hand_w, angle))]))
        # Leg: the thigh turns about the hip joint; the knee flexes backwards only.
        pivot3 = np.array([side * hip_pivot_x, 0.0, 0.0])
        r2 = _limb_rotation(side, p.hip[i], p.hip_plane[i])
        d_th, fwd_th = r2 @ _DOWN, r2 @ _FWD
        kappa = math.radians(p.knee[i])
        d_sh = math.cos(kappa) * d_th - math.sin(kappa) * fwd_th
        fwd_sh = math.cos(kappa) * fwd_th + math.sin(kappa) * d_th  # the foot points this way
        kn3 = pivot3 + L["thigh"] * d_th
        an3 = kn3 + L["shank"] * d_sh
        sole = an3 + 0.5 * L["foot_height"] * d_sh
        xy, dep = _project(np.array([[side * hip_kp_x, 0.0, 0.0], pivot3, kn3, an3,
                                     sole - 0.22 * L["foot_length"] * fwd_sh,
                                     sole + 0.72 * L["foot_length"] * fwd_sh]), p.yaw)
        hp2, pv2, kn2, an2, heel2, toe2 = xy
        k[_KP[f"{prefix}_hip"]], k[_KP[f"{prefix}_knee"]], k[_KP[f"{prefix}_ankle"]] = hp2, kn2, an2
        m_shank = Material.SKIN if look is not None and look.legs == "shorts" else Material.TROUSERS
        groups.append(_Group(thigh, 0.5 * float(dep[1] + dep[2]), 3 + tie,
                             [_capsule(pv2, kn2, r_leg[0], r_leg[1], Material.TROUSERS)]))
        groups.append(_Group(shank, 0.5 * float(dep[2] + dep[3]), 5 + tie,
                             [_capsule(kn2, an2, r_leg[2], r_leg[3], m_shank)]))
        groups.append(_Group(foot, 0.5 * float(dep[4] + dep[5]), 7 + tie,
                             [_capsule(heel2, toe2, 0.024 * H * g, 0.022 * H * g, Material.SHOES)]))

    # Back to front: farther groups first; depths equal to 1 % of H keep torso, neck, head,
    # then limbs, and the side that wins such ties is random per person (so it is no cue).
    bucket = 0.01 * H
    groups.sort(key=lambda gr: (-round(gr.depth / bucket), gr.tie))
    # Whole-body rotation about the pelvis and placement, applied to every shape at once.
    place = _affine(p.rotation, shift=p.center)
    shapes = [shp for gr in groups for shp in gr.shapes]
    counts = np.cumsum([len(shp.pts) for shp in shapes])[:-1]
    placed = np.split(_apply(place, np.concatenate([shp.pts for shp in shapes])), counts)
    radius = 0.0
    for shp, pts in zip(shapes, placed, strict=True):
        shp.pts = pts
        if shp.kind == "ellipse":
            shp.size = (shp.size[0], shp.size[1], shp.size[2] + p.rotation)
        if shp.kind != "poly":
            radius = max(radius, *shp.size[:2])
    allpts = np.concatenate(placed)
    extent = np.concatenate([allpts.min(0) - radius, allpts.max(0) + radius])
    return _Figure(_apply(place, k), hidden, groups, extent)


def person_keypoints(params: PersonParams) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) COCO-17 keypoints in image pixels and (K,) flags for keypoints the person's own
    head/body turns away from the camera (e.g. the eyes of someone seen from behind)."""
    fig = _build_figure(params)
    return fig.keypoints, fig.self_hidden


# --------------------------------------------------------------------------------------------
# Colours and textures
# --------------------------------------------------------------------------------------------

_SKIN_RGB = ((255, 224, 189), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
             (90, 56, 37), (255, 205, 148), (234, 192, 134), (172, 112, 76))
_HAIR_RGB = ((25, 20, 18), (60, 40, 25), (110, 75, 45), (200, 170, 110), (150, 148, 145),
             (140, 60, 30), (220, 218, 210))
_TROUSER_RGB = ((50, 70, 120), (30, 30, 35), (110, 110, 115), (190, 170, 120), (90, 60, 40),
                (40, 55, 90), (25, 45, 30))
_BANK_SIDE = 256
_PERIODS = (3.0, 5.0, 8.0, 13.0, 21.0)  # stripe / check periods and noise cells, px
_ANGLES = 8  # stripe directions, every 22.5°
_LEVEL_STEPS = np.array([[0.0], [1 / 3], [2 / 3], [1.0]])  # (4, 1) blend towards colour 2


@functools.lru_cache(maxsize=1)
def _pattern_bank() -> np.ndarray:
    """(N, 256, 256) uint8 pattern levels 0–3, built once per process from a fixed seed:
    stripes (5 periods × 8 directions), checks (5 periods × 2 directions), smooth noise (5 cells).
    Garments, objects and backgrounds crop them at random offsets; built once because computing
    patterns per image dominated the render time."""
    n = _BANK_SIDE
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)  # (n, n) each
    tiles = []
    for period in _PERIODS:
        for j in range(_ANGLES):
            th = math.pi * j / _ANGLES
            tiles.append((((xs * math.cos(th) + ys * math.sin(th)) / period) % 1.0 < 0.5) * 3)
    for period in _PERIODS:
        for th in (0.0, math.pi / 4):
            u = xs * math.cos(th) + ys * math.sin(th)
            v = -xs * math.sin(th) + ys * math.cos(th)
            tiles.append(((np.floor(u / period) + np.floor(v / period)) % 2) * 3)
    rng = np.random.default_rng(20240531)
    for period in _PERIODS:
        cells = int(n / period) + 1
        noise = cv2.resize(rng.random((cells, cells), dtype=np.float32), (n, n),
                           interpolation=cv2.INTER_CUBIC)
        tiles.append(np.clip(noise * 4.0, 0, 3))
    return np.stack(tiles).astype(np.uint8)


def _pattern_index(kind: str, period_idx: int, angle_idx: int) -> int:
    if kind == "stripes":
        return period_idx * _ANGLES + angle_idx
    base = len(_PERIODS) * _ANGLES
    if kind == "checks":
        return base + 2 * period_idx + angle_idx % 2
    return base + 2 * len(_PERIODS) + period_idx  # noise


def _crop(tile: np.ndarray, x: int, y: int, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) window of a periodic-ish tile at (x, y), wrapping around its edges."""
    h, w = shape
    n = tile.shape[0]
    x, y = x % n, y % n
    if x + w <= n and y + h <= n:
        return tile[y:y + h, x:x + w]
    return np.take(np.take(tile, np.arange(y, y + h) % n, axis=0), np.arange(x, x + w) % n, axis=1)


def _bgr(rgb: Sequence[float], rng: np.random.Generator | None = None, jitter: int = 0
         ) -> tuple[int, int, int]:
    """RGB → BGR ints in 0–255, optionally jittered per channel."""
    out = [float(v) for v in rgb[::-1]]
    if rng is not None and jitter:
        out = [v + _int(rng, -jitter, jitter) for v in out]
    return tuple(int(min(max(v, 0.0), 255.0)) for v in out)  # type: ignore[return-value]


def _random_colour(rng: np.random.Generator, s: tuple[float, float] = (0.1, 1.0),
                   v: tuple[float, float] = (0.15, 1.0)) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), _u(rng, *s), _u(rng, *v))
    return _bgr((255 * r, 255 * g, 255 * b))


def _cloth(rng: np.random.Generator, base: tuple[int, int, int], scale: float,
           kinds: Sequence[float] = (0.4, 0.25, 0.15, 0.2),
           second: tuple[int, int, int] | None = None) -> _Cloth:
    """A surface of colour ``base``: plain / stripes / checks / noise with probabilities
    ``kinds``, pattern period about 3–10 % of ``scale`` px, blended towards a second colour."""
    kind = ("plain", "stripes", "checks", "noise")[_pick(rng, kinds)]
    c2 = np.asarray(second if second is not None else _random_colour(rng), dtype=np.float64)
    c1 = np.asarray(base, dtype=np.float64)
    levels = (c1 + (c2 - c1) * _LEVEL_STEPS).astype(np.uint8)  # (4, 3)
    if kind == "plain":
        return _Cloth(levels, -1, (0, 0))
    period = scale * _u(rng, 0.03, 0.1)
    pi = min(range(len(_PERIODS)), key=lambda j: abs(math.log(period / _PERIODS[j])))
    pattern = _pattern_index(kind, pi, _int(rng, 0, _ANGLES - 1))
    offset = (_int(rng, 0, _BANK_SIDE - 1), _int(rng, 0, _BANK_SIDE - 1))
    return _Cloth(levels, pattern, offset)


def _sample_look(rng: np.random.Generator, height: float) -> _Look:
    """Random clothing, skin, hair and facial colours."""
    skin = _bgr(_SKIN_RGB[_int(rng, 0, len(_SKIN_RGB) - 1)], rng, 12)
    if rng.random() < 0.7:
        trousers = _bgr(_TROUSER_RGB[_int(rng, 0, len(_TROUSER_RGB) - 1)], rng, 15)
    else:
        trousers = _random_colour(rng)
    hair = _bgr(_HAIR_RGB[_int(rng, 0, len(_HAIR_RGB) - 1)], rng, 10)
    return _Look(
        skin=skin,
        hair=_cloth(rng, hair, 0.5 * height, (0.3, 0.0, 0.0, 0.7),
                    second=tuple(int(0.6 * v) for v in hair)),  # type: ignore[arg-type]
        hair_style=("short", "long", "hat")[_pick(rng, (0.55, 0.33, 0.12))],
        hat=_cloth(rng, _random_colour(rng), height),
        shirt=_cloth(rng, _random_colour(rng), height),
        trousers=_cloth(rng, trousers, height),
        shoes=_random_colour(rng, (0.0, 0.5), (0.05, 0.9)), trim=_random_colour(rng),
        eye=_bgr((30, 25, 25), rng, 10), mouth=_bgr((150, 60, 60), rng, 20),
        sleeves=("none", "short", "long")[_pick(rng, (0.15, 0.45, 0.4))],
        legs="shorts" if rng.random() < 0.2 else "long",
        neckline=("v", "round", "zip")[_pick(rng, (0.4, 0.4, 0.2))],
        buttons=bool(rng.random() < 0.6),
    )


# --------------------------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------------------------


def _fx(v: float) -> int:
    """Pixel coordinate → OpenCV fixed point."""
    return int(round(v * _ONE))


def _draw_shape(canvas: np.ndarray, shp: _Shape, value: int, ox: float, oy: float) -> None:
    """Draw one filled primitive of ``value`` into a single-channel canvas whose top-left
    pixel is image pixel (ox, oy)."""
    if shp.kind == "poly":
        pts = np.round((shp.pts - (ox, oy)) * _ONE).astype(np.int32)
        if shp.convex:
            cv2.fillConvexPoly(canvas, pts, value, cv2.LINE_8, _SHIFT)
        else:
            cv2.fillPoly(canvas, [pts], value, cv2.LINE_8, _SHIFT)
        return
    if shp.kind == "circle":
        (x, y), = shp.pts.tolist()
        cv2.circle(canvas, (_fx(x - ox), _fx(y - oy)), _fx(shp.size[0]), value, -1, cv2.LINE_8,
                   _SHIFT)
        return
    if shp.kind == "ellipse":
        (x, y), = shp.pts.tolist()
        cv2.ellipse(canvas, (_fx(x - ox), _fx(y - oy)), (_fx(shp.size[0]), _fx(shp.size[1])),
                    float(shp.size[2]), 0.0, 360.0, value, -1, cv2.LINE_8, _SHIFT)
        return
    assert shp.kind == "capsule", shp.kind
    (ax, ay), (bx, by) = shp.pts.tolist()
    r0, r1 = shp.size
    ax, ay, bx, by = ax - ox, ay - oy, bx - ox, by - oy
    n = math.hypot(bx - ax, by - ay)
    if n > 1e-6:
        nx, ny = -(by - ay) / n, (bx - ax) / n
        quad = np.array([
            [_fx(ax + r0 * nx), _fx(ay + r0 * ny)], [_fx(bx + r1 * nx), _fx(by + r1 * ny)],
            [_fx(bx - r1 * nx), _fx(by - r1 * ny)], [_fx(ax - r0 * nx), _fx(ay - r0 * ny)],
        ], dtype=np.int32)
        cv2.fillConvexPoly(canvas, quad, value, cv2.LINE_8, _SHIFT)
    cv2.circle(canvas, (_fx(ax), _fx(ay)), _fx(r0), value, -1, cv2.LINE_8, _SHIFT)
    cv2.circle(canvas, (_fx(bx), _fx(by)), _fx(r1), value, -1, cv2.LINE_8, _SHIFT)


def _canvas_box(extent: np.ndarray, size: int) -> tuple[int, int, int, int] | None:
    """Pixel box (x0, y0, x1, y1) covering ``extent``, clipped to the image; None if empty."""
    x0 = max(int(math.floor(extent[0])) - 2, 0)
    y0 = max(int(math.floor(extent[1])) - 2, 0)
    x1 = min(int(math.ceil(extent[2])) + 3, size)
    y1 = min(int(math.ceil(extent[3])) + 3, size)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


# Canvas value (material << 5 | part) → which garment pattern it takes: 0 none, 1 shirt,
# 2 trousers, 3 hair, 4 hat.
_PATTERN_SLOT = np.zeros(1 << (_PART_BITS + _MAT_BITS), dtype=np.uint8)
for _m, _slot in ((Material.SHIRT, 1), (Material.TROUSERS, 2), (Material.HAIR, 3),
                  (Material.HAT, 4)):
    _PATTERN_SLOT[int(_m) << _PART_BITS:(int(_m) + 1) << _PART_BITS] = _slot
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _draw_person(
    image: np.ndarray, label: np.ndarray, fig: _Figure, look: _Look, owner: int, height: float,
    rng: np.random.Generator,
) -> tuple[int, int, int, int] | None:
    """Draw a figure into ``image`` and ``label`` (in place); returns the canvas box it touched.

    The person is first drawn as a small map of (material << 5 | part) values, back to front;
    colours then come from one lookup table indexed by that value, the garment pattern level
    and a contour flag, which applies material colour, depth shading and contours at once.
    """
    box = _canvas_box(fig.extent, image.shape[0])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint16)
    shade = np.ones(1 << _PART_BITS, dtype=np.float32)
    for gr in fig.groups:
        for shp in gr.shapes:
            _draw_shape(canvas, shp, (int(shp.material) << _PART_BITS) | int(gr.part), x0, y0)
        # Nearer parts brighter, farther ones darker (depth in units of H).
        shade[int(gr.part)] = 0.86 - 0.7 * min(max(gr.depth / height, -0.2), 0.2) - _u(
            rng, 0.0, 0.04)
    mask = canvas > 0
    if not mask.any():
        return None
    cloths = (look.shirt, look.trousers, look.hair, look.hat)
    slots = np.take(_PATTERN_SLOT, canvas)  # (h, w)
    choices = [np.uint8(0)] + [
        cl.level_map(canvas.shape, (x0, y0)) if cl.pattern >= 0 else np.uint8(0) for cl in cloths]
    level = np.choose(slots, choices).astype(np.uint16)  # (h, w) in 0..3
    idx = canvas | (level << _OWNER_SHIFT)
    if height >= 48:  # dark contour where parts meet, as shading does in photos
        part = canvas & _PART_MASK
        edge = cv2.dilate(part, _CROSS) != cv2.erode(part, _CROSS)
        idx |= edge.astype(np.uint16) << (_OWNER_SHIFT + 2)
    # Lookup table over (edge, level, material, part): (2, 4, 16 materials, 32 parts, 3).
    colours = np.zeros((1 << _MAT_BITS, 4, 3), dtype=np.float32)  # material × level
    for m, col in ((Material.SKIN, look.skin), (Material.SHOES, look.shoes),
                   (Material.EYE, look.eye), (Material.MOUTH, look.mouth),
                   (Material.TRIM, look.trim)):
        colours[int(m)] = col
    for m, cl in zip((Material.SHIRT, Material.TROUSERS, Material.HAIR, Material.HAT), cloths,
                     strict=True):
        colours[int(m)] = cl.levels
    lut = colours.transpose(1, 0, 2)[:, :, None, :] * shade[None, None, :, None]  # (4,16,32,3)
    lut = np.stack([lut, 0.75 * lut]).reshape(-1, 3).astype(np.uint8)  # (4096, 3)
    lit = np.take(lut, idx, axis=0)  # (h, w, 3)
    np.copyto(image[y0:y1, x0:x1], lit, where=mask[..., None])
    np.copyto(label[y0:y1, x0:x1], (owner << _OWNER_SHIFT) | canvas, where=mask)
    return box


def _draw_object(image: np.ndarray, label: np.ndarray, shapes: list[_Shape], owner: int,
                 cloth: _Cloth) -> None:
    """Fill ``shapes`` as one object with a surface and mark its owner id in ``label``."""
    pts = np.concatenate([s.pts for s in shapes])
    r = max([max(s.size[:2]) for s in shapes if s.kind != "poly"], default=0.0)
    box = _canvas_box(np.concatenate([pts.min(0) - r, pts.max(0) + r]), image.shape[0])
    if box is None:
        return
    x0, y0, x1, y1 = box
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    for shp in shapes:
        _draw_shape(canvas, shp, 1, x0, y0)
    mask = canvas > 0
    np.copyto(image[y0:y1, x0:x1], cloth.fill(canvas.shape, (x0, y0)), where=mask[..., None])
    np.copyto(label[y0:y1, x0:x1], np.uint16(owner << _OWNER_SHIFT), where=mask)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Cluttered scene: gradient, smooth noise, texture or wall/floor split, then random shapes."""
    kind = int(rng.integers(4))
    if kind == 0:  # gradient: bilinear upsampling of a 2 × 2 colour grid
        grid = np.array([[_random_colour(rng) for _ in range(2)] for _ in range(2)], np.uint8)
        img = cv2.resize(grid, (size, size), interpolation=cv2.INTER_LINEAR)
    elif kind == 1:  # smooth colour noise
        n = int(rng.integers(3, 10))
        img = cv2.resize(rng.integers(0, 256, (n, n, 3), dtype=np.uint8), (size, size),
                         interpolation=cv2.INTER_CUBIC)
    elif kind == 2:
        img = _cloth(rng, _random_colour(rng), size, (0.1, 0.35, 0.25, 0.3)).fill(
            (size, size), (0, 0)).copy()
    else:  # wall above, floor below
        img = np.empty((size, size, 3), np.uint8)
        y = int(rng.integers(size // 4, 3 * size // 4))
        img[:y] = _cloth(rng, _random_colour(rng), size).fill((y, size), (0, 0))
        img[y:] = _cloth(rng, _random_colour(rng), size).fill((size - y, size), (0, y))
    img = np.ascontiguousarray(img)
    for _ in range(int(rng.integers(4, 15))):
        col = _random_colour(rng)
        c = rng.uniform(0, size, 2)
        r = size * _u(rng, 0.03, 0.2)
        shape_kind = int(rng.integers(5))
        if shape_kind == 0:
            p1 = (int(c[0]), int(c[1]))
            p2 = (int(c[0] + r * _u(rng, 0.5, 2)), int(c[1] + r * _u(rng, 0.5, 2)))
            cv2.rectangle(img, p1, p2, col, -1)
        elif shape_kind == 1:
            cv2.circle(img, (int(c[0]), int(c[1])), int(r), col, -1, cv2.LINE_AA)
        elif shape_kind == 2:
            cv2.ellipse(img, (int(c[0]), int(c[1])), (int(r), int(r * _u(rng, 0.2, 1))),
                        _u(rng, 0, 180), 0, 360, col, -1, cv2.LINE_AA)
        elif shape_kind == 3:
            pts = (c + rng.uniform(-r, r, (int(rng.integers(3, 7)), 2))).astype(np.int32)
            cv2.fillPoly(img, [pts], col, cv2.LINE_AA)
        else:
            q = c + rng.uniform(-2 * r, 2 * r, 2)
            cv2.line(img, (int(c[0]), int(c[1])), (int(q[0]), int(q[1])), col,
                     int(rng.integers(1, max(2, size // 40))), cv2.LINE_AA)
    return img


def _distractor(rng: np.random.Generator, size: int, ref_h: float) -> tuple[list[_Shape], _Cloth]:
    """A limb-like chain of 1–2 capsules in skin or cloth colours, attached to nobody."""
    a = rng.uniform(0, size, 2)
    shapes = []
    ang = _u(rng, 0, 2 * math.pi)
    r = ref_h * _u(rng, 0.02, 0.05)
    for _ in range(int(rng.integers(1, 3))):
        b = a + ref_h * _u(rng, 0.12, 0.3) * np.array([math.cos(ang), math.sin(ang)])
        r2 = r * _u(rng, 0.65, 1.0)
        shapes.append(_capsule(a, b, r, r2, Material.NONE))
        a, r = b, r2
        ang += math.radians(_u(rng, 0, 150)) * (1 if rng.random() < 0.5 else -1)
    if rng.random() < 0.45:
        skin = _bgr(_SKIN_RGB[_int(rng, 0, len(_SKIN_RGB) - 1)], rng, 12)
        return shapes, _cloth(rng, skin, ref_h, (1.0, 0.0, 0.0, 0.0))
    return shapes, _cloth(rng, _random_colour(rng), ref_h)


def _occluder(rng: np.random.Generator, target: np.ndarray, h: float) -> list[_Shape]:
    """An object in front of a person: box, pole, table/wall or bush over ``target`` (image px)."""
    kind = int(rng.integers(4))
    c = target + rng.normal(0, 0.1 * h, 2)
    if kind == 3:
        return [_Shape("ellipse", c[None], (h * _u(rng, 0.08, 0.25), h * _u(rng, 0.06, 0.2),
                                            _u(rng, 0, 180)))]
    if kind == 0:  # box / sign
        w, hh = h * _u(rng, 0.15, 0.45), h * _u(rng, 0.1, 0.4)
    elif kind == 1:  # pole
        w, hh = h * _u(rng, 0.03, 0.08), h * _u(rng, 0.6, 1.5)
    else:  # table / low wall
        w, hh = h * _u(rng, 0.5, 1.2), h * _u(rng, 0.1, 0.25)
    th = math.radians(_u(rng, -20, 20) if kind != 0 else _u(rng, 0, 180))
    u, v = np.array([math.cos(th), math.sin(th)]), np.array([-math.sin(th), math.cos(th)])
    quad = np.stack([c - w / 2 * u - hh / 2 * v, c + w / 2 * u - hh / 2 * v,
                     c + w / 2 * u + hh / 2 * v, c - w / 2 * u + hh / 2 * v])
    return [_Shape("poly", quad)]


def _finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Photometric finish: smooth lighting, slight blur and sensor noise (labels unchanged)."""
    size = img.shape[0]
    if rng.random() < 0.7:
        light = cv2.resize(rng.uniform(0.7, 1.2, (3, 3)).astype(np.float32), (size, size),
                           interpolation=cv2.INTER_CUBIC)
        img = cv2.multiply(img, cv2.merge([light, light, light]), dtype=cv2.CV_8U)
    if rng.random() < 0.4:
        img = cv2.GaussianBlur(img, (0, 0), _u(rng, 0.5, 1.1))
    if rng.random() < 0.5:
        tile = rng.normal(0.0, _u(rng, 2, 7), (64, 64, 3)).astype(np.int16)
        reps = -(-size // 64)
        noise = np.tile(tile, (reps, reps, 1))[:size, :size]
        img = cv2.add(img, noise, dtype=cv2.CV_8U)
    return img


# --------------------------------------------------------------------------------------------
# One image
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedPerson:
    """One drawn person and its ground truth.

    Attributes:
        keypoints: (K, 3) float64: x, y in image pixels (true positions, also for v=0) and v.
        self_hidden: (K,) bool, the keypoint's surface faces away (e.g. face seen from behind).
        owner_id: the person's value in :attr:`RenderedImage.owner`.
        area: pixels the person owns in the final image (0 = fully hidden or outside).
        bbox: tight (x, y, w, h) around those pixels, edges on pixel borders (pixel-centre
            convention: a pixel u spans [u − 0.5, u + 0.5]); zeros when ``area`` is 0.
        params: the geometry it was drawn from (view, yaw, rotation, lean, height, …).
    """

    keypoints: np.ndarray
    self_hidden: np.ndarray
    owner_id: int
    area: int
    bbox: tuple[float, float, float, float]
    params: PersonParams

    @property
    def view(self) -> str:
        return self.params.view


@dataclass(frozen=True)
class RenderedImage:
    """A rendered SynthPose image with its label maps.

    Attributes:
        image: (S, S, 3) uint8 BGR.
        owner: (S, S) int32: 0 background, ``i + 1`` for ``people[i]``, larger ids for objects.
        part: (S, S) uint8 :class:`Part` of a person's pixel (0 elsewhere).
        material: (S, S) uint8 :class:`Material` of a person's pixel (0 elsewhere).
        people: everybody drawn, back to front (including the fully hidden, with ``area`` 0).
        crowd: the crowd level it was drawn at.
    """

    image: np.ndarray
    owner: np.ndarray
    part: np.ndarray
    material: np.ndarray
    people: list[RenderedPerson]
    crowd: str


def _check_crowd(crowd: str) -> CrowdLevel:
    if crowd not in CROWD_LEVELS:
        raise ValueError(f"crowd must be one of {sorted(CROWD_LEVELS)}, got {crowd!r}")
    return CROWD_LEVELS[crowd]


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    if size < 64:
        raise ValueError(f"size must be at least 64 pixels, got {size}")
    return int(size)


def _placements(rng: np.random.Generator, level: CrowdLevel, size: int
                ) -> list[tuple[float, tuple[float, float]]]:
    """(standing height, pelvis centre) of each person; dense levels gather people in groups."""
    n = _int(rng, *level.people)
    h_min = max(MIN_HEIGHT, MIN_HEIGHT * size / 256.0)
    h_max = max(level.max_height * size, h_min * 1.5)

    def height() -> float:
        # Log-scale position u^0.5: median at ~70 % of the log range (about half the image
        # side for sparse), with a long tail of small people.
        return h_min * (h_max / h_min) ** math.sqrt(rng.random())

    def centre(h: float, slack: float, margin: float) -> tuple[float, float]:
        # x: big people nearer the middle; y: up to ``slack`` of the body outside the image
        # (the head is 0.47 h above the pelvis, the feet 0.53 h below).
        m = max(0.3 * h - 0.15 * size, margin * size)
        lo_y, hi_y = 0.47 * h - slack * h, size - 0.53 * h + slack * h
        return (_u(rng, min(m, size - m), max(m, size - m)),
                _u(rng, min(lo_y, hi_y), max(lo_y, hi_y)))

    if level.groups is None:
        out = []
        for _ in range(n):
            h = height()
            out.append((h, centre(h, 0.35, -1.0)))
        return out
    hubs = []
    for _ in range(_int(rng, *level.groups)):
        h = height()
        hubs.append((h, centre(h, 0.1, 0.2)))  # groups stand well inside the image
    out = []
    for i in range(n):
        gh, (gx, gy) = hubs[i % len(hubs)]
        h = min(max(gh * math.exp(_gauss(rng, 0.2, -0.6, 0.6)), h_min), h_max)
        out.append((h, (gx + 0.35 * gh * rng.standard_normal(),
                        gy + 0.08 * gh * rng.standard_normal())))
    return out


def _visibility(xy: np.ndarray, hidden: np.ndarray, owner_id: int, label: np.ndarray
                ) -> np.ndarray:
    """COCO v per keypoint from the label map at the nearest pixel centre (see module doc)."""
    size_y, size_x = label.shape
    u = np.floor(xy[:, 0] + 0.5).astype(np.int64)
    w = np.floor(xy[:, 1] + 0.5).astype(np.int64)
    inside = (u >= 0) & (u < size_x) & (w >= 0) & (w < size_y)
    v = np.zeros(len(xy), dtype=np.int64)
    lab = label[w[inside], u[inside]].astype(np.int64)
    own = ((lab >> _OWNER_SHIFT) == owner_id) & _OWN_PART_TABLE[np.flatnonzero(inside),
                                                                lab & _PART_MASK]
    v[inside] = np.where(own & ~hidden[inside], 2, 1)
    return v


def _render_once(rng: np.random.Generator, size: int, crowd: str, level: CrowdLevel
                 ) -> RenderedImage:
    image = _background(rng, size)
    label = np.zeros((size, size), dtype=np.uint16)  # owner << 9 | material << 5 | part
    places = _placements(rng, level, size)
    # Nearer people tend to be bigger: draw in order of height with some shuffling.
    order = np.argsort([h * math.exp(rng.normal(0, 0.25)) for h, _ in places], kind="stable")
    params = [sample_person(rng, *places[i]) for i in order]
    looks = [_sample_look(rng, p.height) for p in params]
    figures = [_build_figure(p, lk) for p, lk in zip(params, looks, strict=True)]
    ref_h = float(np.median([p.height for p in params]))
    next_id = len(params) + 1
    # Distractors: most lie behind everyone, some between people.
    between: dict[int, list[tuple[list[_Shape], _Cloth]]] = {}
    for _ in range(int(rng.integers(level.distractors[0], level.distractors[1] + 1))):
        shapes, fill = _distractor(rng, size, ref_h)
        if rng.random() < 0.8:
            _draw_object(image, label, shapes, next_id, fill)
            next_id += 1
        else:
            between.setdefault(int(rng.integers(len(params))), []).append((shapes, fill))
    occluders: dict[int, list[list[_Shape]]] = {}
    if rng.random() < level.occluder_prob:
        for _ in range(int(rng.integers(1, 3))):
            i = int(rng.integers(len(params)))
            kp = figures[i].keypoints
            occluders.setdefault(i, []).append(
                _occluder(rng, kp[int(rng.integers(len(kp)))], params[i].height))
    boxes = []
    for i, (fig, lk, p) in enumerate(zip(figures, looks, params, strict=True)):
        boxes.append(_draw_person(image, label, fig, lk, i + 1, p.height, rng))
        for shapes, fill in between.get(i, []):
            _draw_object(image, label, shapes, next_id, fill)
            next_id += 1
        for shapes in occluders.get(i, []):
            _draw_object(image, label, shapes, next_id,
                         _cloth(rng, _random_colour(rng), p.height))
            next_id += 1
    assert next_id < 1 << (16 - _OWNER_SHIFT), "owner ids must fit in the label map"
    return _result(_finish(rng, image), label, figures, params, boxes, crowd)


def _result(image: np.ndarray, label: np.ndarray, figures: list[_Figure],
            params: list[PersonParams], boxes: list[tuple[int, int, int, int] | None],
            crowd: str) -> RenderedImage:
    """Read every person's visibility, area and box off the finished label map."""
    owner = (label >> _OWNER_SHIFT).astype(np.int32)
    people = []
    for i, (fig, p, box) in enumerate(zip(figures, params, boxes, strict=True)):
        xy = np.round(fig.keypoints, 2)  # what the json stores, so v is exact for it
        v = _visibility(xy, fig.self_hidden, i + 1, label)
        area, bbox = 0, (0.0, 0.0, 0.0, 0.0)
        if box is not None:
            x0, y0, x1, y1 = box
            mine = owner[y0:y1, x0:x1] == i + 1
            area = int(mine.sum())
            if area:
                cols, rows = np.flatnonzero(mine.any(0)), np.flatnonzero(mine.any(1))
                bbox = (x0 + cols[0] - 0.5, y0 + rows[0] - 0.5,
                        float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))
        kps = np.concatenate([xy, v[:, None].astype(np.float64)], axis=1)  # (K, 3)
        people.append(RenderedPerson(kps, fig.self_hidden.copy(), i + 1, area, bbox, p))
    return RenderedImage(
        image=image, owner=owner, part=(label & _PART_MASK).astype(np.uint8),
        material=((label >> _PART_BITS) & ((1 << _MAT_BITS) - 1)).astype(np.uint8),
        people=people, crowd=crowd,
    )


def render_person(params: PersonParams, size: int = 256, seed: int = 0) -> RenderedImage:
    """Draw one person alone on a plain grey background, with clothes drawn from ``seed``;
    for looking at (and testing) the figure itself without clutter, occlusion or noise."""
    size = _check_size(size)
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 160, dtype=np.uint8)
    label = np.zeros((size, size), dtype=np.uint16)
    look = _sample_look(rng, params.height)
    fig = _build_figure(params, look)
    box = _draw_person(image, label, fig, look, 1, params.height, rng)
    return _result(image, label, [fig], [params], [box], "single")


def render_image(rng: np.random.Generator | int, size: int = 256, crowd: str = "normal"
                 ) -> RenderedImage:
    """Draw one SynthPose image of ``size`` × ``size`` at a crowd level.

    Args:
        rng: a numpy Generator (consumed) or an int seed.
        size: image side in pixels (≥ 64).
        crowd: ``sparse`` (1–2 people), ``normal`` (1–5) or ``dense`` (4–12, in overlapping groups).
    """
    level = _check_crowd(crowd)
    size = _check_size(size)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    out = _render_once(gen, size, crowd, level)
    for _ in range(8):  # everybody hidden or outside (rare): draw again from the same stream
        if any(p.area > 0 for p in out.people):
            break
        out = _render_once(gen, size, crowd, level)
    return out


def image_rng(seed: int, split: str, crowd: str, index: int) -> np.random.Generator:
    """The generator of image ``index``: independent of every other image and of worker count."""
    key = [int(seed), zlib.crc32(split.encode()), zlib.crc32(crowd.encode()), int(index)]
    return np.random.default_rng(np.random.SeedSequence(key))


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


def _annotate(person: RenderedPerson) -> dict[str, Any]:
    """COCO annotation fields of a visible person (ids are assigned by the caller)."""
    flat: list[float | int] = []
    for x, y, v in person.keypoints:
        flat += [float(x), float(y), int(v)] if v > 0 else [0, 0, 0]  # COCO: v=0 → (0, 0)
    return {
        "keypoints": flat,
        "num_keypoints": int((person.keypoints[:, 2] > 0).sum()),
        "bbox": [float(b) for b in person.bbox],
        "area": int(person.area),
        "iscrowd": 0,
        "category_id": 1,
        "view": person.view,
    }


def _render_to_file(task: tuple[int, int, str, str, int, str]) -> list[dict[str, Any]]:
    """Worker: render image ``index``, write its JPEG, return its annotations (without ids)."""
    seed, index, split, crowd, size, image_dir = task
    out = render_image(image_rng(seed, split, crowd, index), size, crowd)
    ok, buf = cv2.imencode(".jpg", out.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError(f"JPEG encoding failed for image {index}")
    Path(image_dir, f"{index + 1:012d}.jpg").write_bytes(buf.tobytes())
    return [_annotate(p) for p in out.people if p.area > 0]


def _worker_init() -> None:
    cv2.setNumThreads(1)  # one process per core already


def _check_split(split: str) -> str:
    if not isinstance(split, str):
        raise TypeError(f"split must be a str, got {type(split).__name__}")
    if not split or split in {".", ".."} or any(ch in split for ch in "/\\:"):
        raise ValueError(f"split must be a plain folder name like 'val', got {split!r}")
    return split


def generate_dataset(
    out_dir: str | Path, num_images: int, *, seed: int = 0, size: int = 256,
    crowd: str = "normal", split: str = "val", workers: int = 1,
) -> dict[str, Any]:
    """Write a SynthPose COCO keypoints dataset and return its summary.

    Files: ``out_dir/images/{split}/{image_id:012d}.jpg`` (image ids from 1) and
    ``out_dir/annotations/person_keypoints_{split}.json``. Output bytes depend only on
    (seed, split, crowd, size, num_images), never on ``workers``. With ``workers > 1`` the
    images are drawn in processes started from a fork server, so a script calling this must
    do so under ``if __name__ == "__main__":`` (the usual multiprocessing rule).

    Returns:
        summary dict (see :func:`format_summary`): counts, people per image, visibility
        fractions, person sizes, views and images/s.
    """
    for name, value in (("num_images", num_images), ("seed", seed), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    size = _check_size(size)
    _check_crowd(crowd)
    split = _check_split(split)
    root = Path(out_dir)
    image_dir = root / "images" / split
    ann_dir = root / "annotations"
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    tasks = [(int(seed), i, split, crowd, size, str(image_dir)) for i in range(int(num_images))]
    workers = min(int(workers), len(tasks))
    if workers == 1:
        results = [_render_to_file(t) for t in tasks]
    else:
        # Not "fork": a child forked from a process whose thread pools (OpenCV's, torch's
        # OpenMP) have run can deadlock. The fork server imports this module once, in a fresh
        # process, and forks the workers from that. An executor, unlike multiprocessing.Pool,
        # raises BrokenProcessPool instead of waiting forever if a worker dies.
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([__name__])
        else:
            ctx = multiprocessing.get_context("spawn")
        chunk = max(1, len(tasks) // (workers * 8))
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
            results = list(pool.map(_render_to_file, tasks, chunksize=chunk))

    images, annotations = [], []
    for i, anns in enumerate(results):
        image_id = i + 1
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": size,
                       "height": size, "crowd": crowd, "seed": int(seed)})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    categories = [{
        "id": 1, "name": "person", "supercategory": "person",
        "keypoints": list(COCO17.keypoint_names),
        "skeleton": [[a + 1, b + 1] for a, b in COCO17.limbs],  # COCO's 1-based links
    }]
    dataset = {
        "info": {"description": "SynthPose (posekit procedural multi-person COCO-17 dataset)",
                 "seed": int(seed), "crowd": crowd, "size": size, "split": split},
        "images": images, "annotations": annotations, "categories": categories,
    }
    ann_file = ann_dir / f"person_keypoints_{split}.json"
    tmp = ann_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dataset, separators=(",", ":")))
    os.replace(tmp, ann_file)
    seconds = time.perf_counter() - start
    return _summary(dataset, root, ann_file, seconds, int(workers))


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    if not len(values):
        return {"p10": 0.0, "p50": 0.0, "p90": 0.0}
    q = np.quantile(np.asarray(values, dtype=np.float64), [0.1, 0.5, 0.9])
    return {"p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2])}


def _summary(dataset: dict, root: Path, ann_file: Path, seconds: float, workers: int
             ) -> dict[str, Any]:
    anns = dataset["annotations"]
    per_image = np.bincount([a["image_id"] for a in anns], minlength=len(dataset["images"]) + 1)
    per_image = per_image[1:]
    v = np.array([a["keypoints"][2::3] for a in anns], dtype=np.int64).reshape(-1)  # (N·K,)
    views = [a["view"] for a in anns]
    info = dataset["info"]
    n_img = len(dataset["images"])
    return {
        "out_dir": str(root), "annotation_file": str(ann_file), "split": info["split"],
        "crowd": info["crowd"], "size": info["size"], "seed": info["seed"], "workers": workers,
        "num_images": n_img, "num_people": len(anns),
        "people_per_image": {"mean": float(per_image.mean()), "min": int(per_image.min()),
                             "max": int(per_image.max())},
        "visibility": {f"v{k}": float((v == k).mean()) if v.size else 0.0 for k in (0, 1, 2)},
        "sqrt_area": _quantiles([math.sqrt(a["area"]) for a in anns]),
        "box_height": _quantiles([a["bbox"][3] for a in anns]),
        "views": {name: views.count(name) / max(len(views), 1) for name in _VIEWS},
        "seconds": seconds, "images_per_s": n_img / max(seconds, 1e-9),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """Multi-line human summary of :func:`generate_dataset`'s result (``posekit synth``)."""
    s = summary
    ppi, vis, sa, bh = s["people_per_image"], s["visibility"], s["sqrt_area"], s["box_height"]
    views = "  ".join(f"{k} {100 * v:.0f}%" for k, v in s["views"].items())
    return "\n".join([
        f"SynthPose: {s['num_images']} images {s['size']}x{s['size']} (crowd={s['crowd']}, "
        f"seed={s['seed']}, split={s['split']}) -> {s['out_dir']}",
        f"  annotations: {s['annotation_file']}",
        f"  people: {s['num_people']} (per image mean {ppi['mean']:.2f}, min {ppi['min']}, "
        f"max {ppi['max']})",
        f"  keypoints: v=2 visible {100 * vis['v2']:.1f}%  v=1 occluded {100 * vis['v1']:.1f}%  "
        f"v=0 outside {100 * vis['v0']:.1f}%",
        f"  person size sqrt(area) px: p10 {sa['p10']:.1f}  p50 {sa['p50']:.1f}  "
        f"p90 {sa['p90']:.1f};  box height px: p10 {bh['p10']:.1f}  p50 {bh['p50']:.1f}  "
        f"p90 {bh['p90']:.1f}",
        f"  views: {views}",
        f"  speed: {s['images_per_s']:.1f} images/s ({s['seconds']:.2f} s, "
        f"{s['workers']} worker{'s' if s['workers'] != 1 else ''})",
    ])
