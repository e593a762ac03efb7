"""The figure: a person posed in 3-D, turned to its yaw, projected orthographically and laid out
as depth-sorted groups of filled primitives (capsules, ellipses, polygons), one group per body
part, plus its COCO-17 keypoints and the MPII extras (head top, upper neck, thorax, pelvis).

How the shapes are coloured is the rendering style's business (:mod:`.styles`); the figure only
fixes geometry, which parts a pixel belongs to and which material it shows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from posekit.data.synthpose.body import _KP, _SIDE_PARTS, Material, Part, PersonParams
from posekit.data.synthpose.looks import _Look
from posekit.skeletons import COCO17

__all__ = ["person_keypoints"]


# ----- geometry ----------------------------------------------------------------------------------

_DOWN = np.array([0.0, -1.0, 0.0])
_FWD = np.array([0.0, 0.0, 1.0])


_EYE3 = np.eye(3)


def _rodrigues(axis: Sequence[float], angle: float) -> np.ndarray:
    """3×3 rotation by ``angle`` radians about the unit ``axis`` (Rodrigues' formula)."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return _EYE3 + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


def _limb_rotation(side: int, angle: float, plane: float) -> np.ndarray:
    """Rotation that raises a hanging limb of the given side by ``angle`` degrees in ``plane``
    (0 = sideways away from the body, 90 = forwards)."""
    phi = math.radians(plane)
    axis = (-math.sin(phi), 0.0, side * math.cos(phi))  # down × (side cos φ, 0, sin φ)
    return _rodrigues(axis, math.radians(angle))


def _projection(yaw: float) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Body frame (X = person's left, Y = up, Z = forward) → image plane (x right, y down) and
    depth (away from the camera) for a body turned by ``yaw`` degrees; orthographic camera.
    Returns the map of (P, 3) points to (P, 2) image points and (P,) depths."""
    c, s = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    mt = np.array([[c, 0.0, s], [0.0, -1.0, 0.0], [s, 0.0, -c]]).T

    def project(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = np.asarray(points, dtype=np.float64).reshape(-1, 3) @ mt  # (P, 3): x, y, depth
        return cam[:, :2], cam[:, 2]

    return project


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



@dataclass
class _Figure:
    """A person ready to draw: keypoints, self-occlusion flags and depth-sorted shape groups."""

    keypoints: np.ndarray  # (K, 2) image pixels
    self_hidden: np.ndarray  # (K,) bool: the keypoint's surface faces away from the camera
    groups: list[_Group]
    extent: np.ndarray  # (4,) x1, y1, x2, y2 bounding every shape
    extra: np.ndarray  # (4, 2) image pixels of EXTRA_KEYPOINTS (head top … pelvis)


def _capsule(a: np.ndarray, b: np.ndarray, r0: float, r1: float, m: Material) -> _Shape:
    # At least 1 px, so the pixel nearest to a joint at either end is always covered.
    return _Shape("capsule", np.array([a, b]), (max(r0, 1.0), max(r1, 1.0)), m)


@functools.lru_cache(maxsize=8)
def _arc(t0: float, t1: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n,) sin t and cos t for t = linspace(t0, t1, n) (a handful of fixed arcs)."""
    t = np.linspace(t0, t1, n)
    return np.sin(t), np.cos(t)


def _ellipse_points(a: float, b: float, t0: float, t1: float, n: int) -> np.ndarray:
    """(n, 2) points of the axis-aligned ellipse x = a sin t, y = -b cos t for t in [t0, t1]."""
    sin_t, cos_t = _arc(t0, t1, n)
    return np.stack([a * sin_t, -b * cos_t], axis=1)


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

    project, project_head = _projection(p.yaw), _projection(p.head_yaw)
    neck_base_3d = np.array([0.0, torso, 0.0])
    neck_base = project(neck_base_3d)[0][0]
    upper = _affine(p.lean)  # torso lean about the pelvis (the origin)
    waist_m = _affine(0.5 * p.lean)
    head_m = _then(_affine(p.neck_roll, neck_base), upper)  # neck roll, then lean
    roll = p.lean + p.neck_roll

    k = np.zeros((COCO17.num_keypoints, 2))
    hidden = np.zeros(COCO17.num_keypoints, dtype=bool)
    groups: list[_Group] = []

    # --- torso: convex hulls of shoulder, waist and pelvis "rings" (front and back corners) ---
    waist_w = max(0.78 * sh_x, pelvis_x)
    # Shoulder, waist, waistband and pelvis rings; the shirt reaches below the waistband,
    # which the trousers (drawn after it) then cover.
    rings = project(np.array([
        [sx * ring_w, y, sz * half_depth]
        for y, ring_w in ((torso + 0.25 * r_arm[0], sh_x + 0.2 * r_arm[0]),
                          (0.28 * torso, waist_w), (0.34 * torso, waist_w),
                          (-0.05 * H, pelvis_x))
        for sx in (-1, 1) for sz in (-1, 1)]))[0]  # (16, 2)
    top = _apply(upper, rings[:4])
    waist_band = _apply(waist_m, rings[4:12])
    waist, band, bottom = waist_band[:4], waist_band[4:], rings[12:]
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
            tg.shapes.append(_Shape("poly", _apply(upper, project(nl)[0])))
        line_bot = 0.36 * torso
        if look.neckline == "zip":
            zl = np.array([[-0.006 * H, torso, fz], [0.006 * H, torso, fz],
                           [0.006 * H, line_bot, fz], [-0.006 * H, line_bot, fz]])
            tg.shapes.append(_Shape("poly", _apply(upper, project(zl)[0]),
                                    material=Material.TRIM))
        elif look.buttons:
            ys = np.linspace(torso - 0.09 * H, line_bot + 0.03 * H, 4)
            ctrs = _apply(upper, project(np.stack([np.zeros(4), ys, np.full(4, fz)], 1))[0])
            for ctr in ctrs:
                tg.shapes.append(_Shape("circle", ctr[None], (max(0.009 * H, 0.5),),
                                        Material.TRIM))
    groups.append(tg)

    # --- neck and head ---
    chin = neck_base_3d + np.array([0.0, neck, 0.0])
    # neck top, head centre and chin, turned by the body's yaw (before roll and lean)
    chins = project(np.stack([chin + [0.0, 0.3 * rh, 0.0], chin + [0.0, rh, 0.0], chin]))[0]
    head_c2 = chins[1]
    neck_base_up = _apply(upper, neck_base[None])[0]
    # The head is an ellipsoid: half-width rw, half-height rh, half-depth rd (a head is about
    # 1.25 × longer front to back than it is wide). Every head point is an offset from the head
    # centre, turned by the head's yaw (3-D points) or already in the image plane (outlines),
    # then rolled and leaned with the head. Single points go through _apply alone: a one-row
    # product rounds differently from a batched one, and the output bytes are kept.
    rd = 1.25 * rw
    drop = -(rh + 0.6 * neck + 0.03 * H)
    local3 = np.array([  # head frame: X left, Y up, Z forward
        [0.0, -0.35 * rh, 1.1 * rd],  # nose tip, a third of the way from the eyes to the chin
        [0.41 * rw, 0.0, 0.88 * rd],  # eyes at mid-head height, 0.41 of the half-width out
        [-0.41 * rw, 0.0, 0.88 * rd],
        [1.04 * rw, -0.05 * rh, -0.05 * rd],  # ears on the sides, level with the eyes
        [-1.04 * rw, -0.05 * rh, -0.05 * rd],
        [0.0, 0.05 * rh, 0.95 * rd], [0.0, -0.45 * rh, 0.9 * rd],  # nose bridge
        # long hair hanging behind the head, down to the shoulders
        [0.9 * rw, 0.1 * rh, -0.55 * rd], [-0.9 * rw, 0.1 * rh, -0.55 * rd],
        [0.8 * rw, drop, -0.6 * rd], [-0.8 * rw, drop, -0.6 * rd],
    ])
    xy3, dep3 = project_head(local3)
    half_w = math.hypot(rw * ch, rd * sh)  # silhouette half-width at this yaw
    # Face: the visible part of the front half, a "moon phase" between the silhouette on the
    # facing side and the projected mid-section (a half-ellipse of half-width rw·|cos yaw|).
    side_x = 1.0 if sh >= 0 else -1.0
    outer = _ellipse_points(half_w, rh, 0.0, math.pi, 17) * [side_x, 1.0]
    inner = _ellipse_points(rw * ch, rh, math.pi, 0.0, 17) * [-side_x, 1.0]
    t = math.acos(0.25 if hair_style == "hat" else 0.45)  # hairline / hat brim height
    head = _apply(head_m, np.concatenate([
        xy3, outer, inner, _ellipse_points(half_w, rh, -t, t, 15)]) + head_c2)  # (60, 2)
    face, bridge, hair_back = head[:5], head[5:7], head[7:11]
    moon, hairline = head[11:45], head[45:60]
    centre = _apply(head_m, np.zeros((1, 2)) + head_c2)
    head_top = _apply(head_m, np.array([[0.0, -rh]]) + head_c2)[0]
    neck_top = _apply(head_m, chins[:1])[0]
    chin_up = _apply(head_m, chins[2:])[0]
    groups.append(_Group(Part.NECK, 0.0, 1, [
        _capsule(neck_base_up, neck_top, 0.028 * H * g, 0.026 * H * g, Material.SKIN)]))
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
    hg.shapes.append(_Shape("ellipse", centre, (half_w, rh, roll), Material.HAIR))
    if ch > -0.98:
        hg.shapes.append(_Shape("poly", moon, convex=ch >= 0))
    hg.shapes.append(_Shape("poly", hairline,
                            material=Material.HAT if hair_style == "hat" else Material.HAIR))
    # Features drawn where their keypoints are: nose, then eyes, then ears (so that in a
    # three-quarter view the far eye and far ear each keep their own pixel).
    if not hidden[_KP["nose"]]:
        if abs(sh) > 0.3:  # the nose sticks out of the silhouette when the head is turned
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
        mouth = _apply(head_m, project_head(np.array([0.0, -0.62 * rh, 0.78 * rd]))[0] + head_c2)
        hg.shapes.append(_Shape("ellipse", mouth,
                                (max(0.32 * rw * ch, 0.5), max(0.07 * rh, 0.5), roll),
                                Material.MOUTH))
    groups.append(hg)
    # MPII's extra points: head top (top of the head ellipse), upper neck (the chin, where
    # neck meets head), thorax (neck base between the shoulders), pelvis (mid-hip, the origin).
    extra = np.stack([head_top, chin_up, neck_base_up, np.zeros(2)])
    if hair_style == "long":
        groups.append(_Group(Part.HAIR, float(dep3[7:11].mean()), 2, [
            _Shape("poly", _hull(hair_back), material=Material.HAIR)]))

    # --- arms and legs: 3-D joints of both sides, then one projection ---
    joints = []
    for i, side in enumerate((+1, -1)):
        # Arm: the elbow flexes towards the upper arm's front, turned by the humeral rotation.
        sh3 = np.array([side * sh_x, torso, 0.0])
        r1 = _limb_rotation(side, p.shoulder[i], p.shoulder_plane[i])
        d_up = r1 @ _DOWN
        bend = _rodrigues(d_up.tolist(), math.radians(side * p.humeral[i])) @ (r1 @ _FWD)
        beta = math.radians(p.elbow[i])
        d_fore = math.cos(beta) * d_up + math.sin(beta) * bend
        el3 = sh3 + L["upper_arm"] * d_up
        wr3 = el3 + L["forearm"] * d_fore
        hd3 = wr3 + 0.45 * L["hand"] * d_fore
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
        joints += [sh3, el3, wr3, hd3, [side * hip_kp_x, 0.0, 0.0], pivot3, kn3, an3,
                   sole - 0.22 * L["foot_length"] * fwd_sh, sole + 0.72 * L["foot_length"] * fwd_sh]
    xy, dep = project(np.array(joints))  # (20, 2), (20,): per side 4 arm and 6 leg points
    arms = _apply(upper, xy[[0, 1, 2, 3, 10, 11, 12, 13]])  # the arms lean with the torso
    m_up = Material.SKIN if sleeves == "none" else Material.SHIRT
    m_fore = Material.SHIRT if sleeves == "long" else Material.SKIN
    m_shank = Material.SKIN if look is not None and look.legs == "shorts" else Material.TROUSERS
    hand_w = max(0.22 * L["hand"] * g, 1.0)
    for i, (side, prefix) in enumerate(((+1, "left"), (-1, "right"))):
        arm, fore, hand, thigh, shank, foot = _SIDE_PARTS[side]
        tie = 0 if (side > 0) == p.left_on_top else 1
        da, dl = dep[10 * i:10 * i + 4], dep[10 * i + 4:10 * i + 10]
        sh2, el2, wr2, hd2 = arms[4 * i:4 * i + 4]
        k[_KP[f"{prefix}_shoulder"]], k[_KP[f"{prefix}_elbow"]] = sh2, el2
        k[_KP[f"{prefix}_wrist"]] = wr2
        groups.append(_Group(arm, 0.5 * float(da[0] + da[1]), 3 + tie,
                             [_capsule(sh2, el2, r_arm[0], r_arm[1], m_up)]))
        groups.append(_Group(fore, 0.5 * float(da[1] + da[2]), 5 + tie,
                             [_capsule(el2, wr2, r_arm[2], r_arm[3], m_fore)]))
        along = hd2 - wr2
        ratio = float(np.hypot(*along)) / max(0.45 * L["hand"], 1e-9)  # foreshortening
        angle = math.degrees(math.atan2(along[1], along[0])) if ratio > 1e-6 else 0.0
        groups.append(_Group(hand, 0.5 * float(da[2] + da[3]), 7 + tie, [_Shape(
            "ellipse", hd2[None], (max(0.5 * L["hand"] * ratio, hand_w), hand_w, angle))]))
        hp2, pv2, kn2, an2, heel2, toe2 = xy[10 * i + 4:10 * i + 10]
        k[_KP[f"{prefix}_hip"]], k[_KP[f"{prefix}_knee"]], k[_KP[f"{prefix}_ankle"]] = hp2, kn2, an2
        groups.append(_Group(thigh, 0.5 * float(dl[1] + dl[2]), 3 + tie,
                             [_capsule(pv2, kn2, r_leg[0], r_leg[1], Material.TROUSERS)]))
        groups.append(_Group(shank, 0.5 * float(dl[2] + dl[3]), 5 + tie,
                             [_capsule(kn2, an2, r_leg[2], r_leg[3], m_shank)]))
        groups.append(_Group(foot, 0.5 * float(dl[4] + dl[5]), 7 + tie,
                             [_capsule(heel2, toe2, 0.024 * H * g, 0.022 * H * g, Material.SHOES)]))

    # Back to front: farther groups first; depths equal to 1 % of H keep torso, neck, head,
    # then limbs, and the side that wins such ties is random per person (so it is no cue).
    bucket = 0.01 * H
    groups.sort(key=lambda gr: (-round(gr.depth / bucket), gr.tie))
    # Whole-body rotation about the pelvis and placement, applied to every shape at once.
    place = _affine(p.rotation, shift=p.center)
    shapes = [shp for gr in groups for shp in gr.shapes]
    placed = _apply(place, np.concatenate([shp.pts for shp in shapes] + [k, extra]))
    radius, at = 0.0, 0
    for shp in shapes:
        shp.pts = placed[at:at + len(shp.pts)]
        at += len(shp.pts)
        if shp.kind == "ellipse":
            shp.size = (shp.size[0], shp.size[1], shp.size[2] + p.rotation)
        if shp.kind != "poly":
            radius = max(radius, *shp.size[:2])
    allpts = placed[:at]
    extent = np.concatenate([allpts.min(0) - radius, allpts.max(0) + radius])
    kn = len(k)
    return _Figure(placed[at:at + kn], hidden, groups, extent, placed[at + kn:])


def person_keypoints(params: PersonParams) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) COCO-17 keypoints in image pixels and (K,) flags for keypoints the person's own
    head/body turns away from the camera (e.g. the eyes of someone seen from behind)."""
    fig = _build_figure(params)
    return fig.keypoints, fig.self_hidden
