"""The pose prior: who stands how. Body yaw, joint angles from a mixture of pose modes within
the usual anatomical joint ranges, segment lengths (±10 %, some children)."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from posekit.data.synthpose.body import PROPORTIONS, PersonParams
from posekit.data.synthpose.sampling import _gauss, _pick, _u

__all__ = ["sample_person", "sample_person_broad"]


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
    within the anatomical ranges: shoulder −45…180, elbow 0…150, hip −30…120, knee 0…150,
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



def _broad_pose(rng: np.random.Generator) -> tuple[str, dict[str, Any]]:
    """Pose modes beyond :func:`_sample_pose`'s (kicking, raised arms, crouching, lying, sports),
    still within the anatomical ranges; ``mode`` tells the caller how to rotate the body."""
    mode = ("classic", "kick", "arms_up", "crouch", "lying", "sport")[
        _pick(rng, (0.45, 0.1, 0.1, 0.12, 0.08, 0.15))]
    pose = _sample_pose(rng)
    if mode == "classic":
        return mode, pose
    s = 1 if rng.random() < 0.5 else 0  # which side leads
    if mode == "kick":
        hip = [0.0, 0.0]
        hip[s] = _u(rng, 50, 120)
        hip[1 - s] = _u(rng, -15, 10)
        knee = [0.0, 0.0]
        knee[s] = _u(rng, 0, 60)
        knee[1 - s] = _u(rng, 0, 30)
        pose.update(hip=tuple(hip), knee=tuple(knee), hip_plane=(_u(rng, 60, 90), _u(rng, 60, 90)),
                    shoulder=_pair(rng, 20, 110), lean=_gauss(rng, 10, -30, 30, -8))
    elif mode == "arms_up":
        pose.update(shoulder=_pair(rng, 130, 180), shoulder_plane=_pair(rng, 0, 90),
                    elbow=_pair(rng, 0, 90))
    elif mode == "crouch":
        h = _u(rng, 80, 120)
        pose.update(hip=(_gauss(rng, 8, 60, 120, h), _gauss(rng, 8, 60, 120, h)),
                    knee=_pair(rng, 110, 150), hip_plane=_pair(rng, 50, 90),
                    shoulder=_pair(rng, -10, 90), elbow=_pair(rng, 20, 140),
                    lean=_gauss(rng, 10, -30, 30, 10))
    elif mode == "lying":
        pose.update(hip=_pair(rng, -10, 40), knee=_pair(rng, 0, 60))
    else:  # sport: a lunge with one arm thrown up and back (throw, serve, swing)
        hip = [0.0, 0.0]
        hip[s] = _u(rng, 40, 90)
        hip[1 - s] = _u(rng, -30, 0)
        knee = [0.0, 0.0]
        knee[s] = _u(rng, 30, 90)
        knee[1 - s] = _u(rng, 0, 30)
        sh = [0.0, 0.0]
        sh[1 - s] = _u(rng, 100, 180)
        sh[s] = _u(rng, -30, 90)
        pose.update(hip=tuple(hip), knee=tuple(knee), shoulder=tuple(sh),
                    shoulder_plane=_pair(rng, 0, 90), elbow=_pair(rng, 0, 130),
                    hip_plane=_pair(rng, 60, 90), lean=_gauss(rng, 12, -30, 30))
    return mode, pose


def sample_person_broad(
    rng: np.random.Generator, height: float, center: tuple[float, float]
) -> PersonParams:
    """:func:`sample_person` with the broader prior of the randomised styles: more varied
    modes (kicking, raised arms, crouching, lying, sports) and more in-plane rotation (lying
    people turn by about ±90°, 10 % of everyone freely)."""
    p = sample_person(rng, height, center)
    mode, pose = _broad_pose(rng)
    if mode == "lying":
        rotation = (90.0 if rng.random() < 0.5 else -90.0) + _gauss(rng, 10, -30, 30)
    elif rng.random() < 0.1:
        rotation = _u(rng, -180, 180)
    else:
        rotation = _gauss(rng, 8, -25, 25)
    return dataclasses.replace(p, rotation=rotation, **pose)
