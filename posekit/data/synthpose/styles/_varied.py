"""Shared machinery of the randomised styles: a look that also fixes how a body is drawn (limb
shape, outline, shading, light, clothing folds, a silhouette colour, a carried object, a ground
shadow) and one person renderer that honours it, plus people-part distractors.

Each randomised style module only says which of these options it draws, and with which odds.
Everything is drawn in step into the label map (the carried object's pixels belong to nobody),
so visibility stays true to the pixels.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import cv2
import numpy as np

from posekit.data.synthpose.body import (
    _KP,
    _MAT_BITS,
    _OWNER_SHIFT,
    _PART_BITS,
    _PART_MASK,
    Material,
    Part,
)
from posekit.data.synthpose.draw import _canvas_box, _draw_shapes
from posekit.data.synthpose.figure import _capsule, _Figure, _Shape
from posekit.data.synthpose.looks import (
    _HAIR_RGB,
    _SKIN_RGB,
    _bgr,
    _Cloth,
    _cloth,
    _Look,
    _random_colour,
    _sample_look,
)
from posekit.data.synthpose.sampling import _int, _pick, _u
from posekit.data.synthpose.styles.classic import _pattern_levels

if TYPE_CHECKING:
    from posekit.data.synthpose.styles import Style

__all__ = ["VariedLook", "LookOdds", "sample_varied_look", "draw_person_varied", "varied_style",
           "parts_distractor"]

_LIMB_PARTS = frozenset(int(p) for p in (
    Part.UPPER_ARM_L, Part.FOREARM_L, Part.UPPER_ARM_R, Part.FOREARM_R, Part.THIGH_L,
    Part.SHANK_L, Part.THIGH_R, Part.SHANK_R))
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


@dataclass
class VariedLook(_Look):
    """A :class:`_Look` plus how the body is drawn (see the module doc)."""

    limb: str = "capsule"  # capsule | tapered | boxy
    outline: tuple[int, int, int] | None = None  # silhouette outline colour (None = none)
    outline_width: int = 1
    inner_contours: bool = True  # darker lines where parts meet
    cylinder: float = 0.0  # 0..1: how much limbs darken towards their edges
    light: tuple[float, float, float] = (0.0, 0.0, 0.0)  # direction x, y and strength
    flat: tuple[int, int, int] | None = None  # one colour for the whole person (silhouette)
    folds: int = 0  # number of clothing fold lines
    carry: str = "none"  # none | bag | stick | ball
    carry_colour: tuple[int, int, int] = (0, 0, 0)
    shadow: float = 0.0  # darkness of the ground shadow (0 = none)


@dataclass(frozen=True)
class LookOdds:
    """Probabilities with which a style draws each option of :class:`VariedLook`."""

    limb: tuple[float, float, float] = (1.0, 0.0, 0.0)  # capsule, tapered, boxy
    outline: float = 0.3
    inner_contours: float = 0.5
    cylinder: float = 0.5
    light: float = 0.5
    flat: float = 0.0
    folds: float = 0.3
    carry: float = 0.2
    shadow: float = 0.4
    skin_any_colour: float = 0.0  # skin drawn as any colour (not only skin tones)


def sample_varied_look(rng: np.random.Generator, height: float, odds: LookOdds) -> VariedLook:
    base = _sample_look(rng, height)
    kw = {f.name: getattr(base, f.name) for f in fields(_Look)}
    if rng.random() < odds.skin_any_colour:
        kw["skin"] = _random_colour(rng)
    flat = _random_colour(rng) if rng.random() < odds.flat else None
    ang = _u(rng, 0, 2 * math.pi)
    return VariedLook(
        **kw,
        limb=("capsule", "tapered", "boxy")[_pick(rng, odds.limb)],
        outline=(_random_colour(rng, v=(0.0, 0.4)) if rng.random() < 0.7 else
                 _random_colour(rng)) if rng.random() < odds.outline else None,
        outline_width=_int(rng, 1, 2 if height < 80 else 3),
        inner_contours=bool(rng.random() < odds.inner_contours),
        cylinder=_u(rng, 0.2, 0.7) if rng.random() < odds.cylinder else 0.0,
        light=(math.cos(ang), math.sin(ang), _u(rng, 0.1, 0.5) if rng.random() < odds.light
               else 0.0),
        flat=flat,
        folds=_int(rng, 2, 8) if rng.random() < odds.folds else 0,
        carry=("bag", "stick", "ball")[_int(rng, 0, 2)] if rng.random() < odds.carry else "none",
        carry_colour=_random_colour(rng),
        shadow=_u(rng, 0.2, 0.6) if rng.random() < odds.shadow else 0.0,
    )


def _limb_shape(shp: _Shape, limb: str) -> _Shape:
    """A limb capsule redrawn as a tapered capsule or a box (same ends, so same joints)."""
    (a, b), (r0, r1) = shp.pts, shp.size
    if limb == "tapered":
        return _Shape("capsule", shp.pts, (max(1.25 * r0, 1.0), max(0.65 * r1, 1.0)),
                      shp.material)
    d = b - a
    n = float(np.hypot(*d))
    if n < 1e-6:
        return shp
    u = d / n
    nrm = np.array([-u[1], u[0]])
    a2, b2 = a - 0.6 * r0 * u, b + 0.6 * r1 * u  # boxes reach over the joints
    quad = np.array([a2, b2, b2, a2]) + np.array([[r0], [r1], [-r1], [-r0]]) * nrm  # (4, 2)
    return _Shape("poly", quad, material=shp.material)


def _carried(fig: _Figure, look: VariedLook, height: float, rng: np.random.Generator
             ) -> list[_Shape]:
    """A bag hanging from, a stick held in, or a ball by one hand (image pixels)."""
    side = "left" if rng.random() < 0.5 else "right"
    w = fig.keypoints[_KP[f"{side}_wrist"]]
    el = fig.keypoints[_KP[f"{side}_elbow"]]
    d = w - el
    n = float(np.hypot(*d))
    u = d / n if n > 1e-6 else np.array([0.0, 1.0])
    if look.carry == "bag":
        c = w + np.array([0.0, 0.1 * height])
        bw, bh = 0.12 * height, 0.14 * height
        return [_Shape("poly", c + np.array([[-bw, -bh], [bw, -bh], [bw, bh], [-bw, bh]]) / 2,
                       material=Material.OBJECT)]
    if look.carry == "stick":
        ang = math.atan2(u[1], u[0]) + math.radians(_u(rng, -60, 60))
        v = np.array([math.cos(ang), math.sin(ang)])
        return [_capsule(w - 0.1 * height * v, w + 0.45 * height * v, 0.012 * height + 0.5,
                         0.012 * height + 0.5, Material.OBJECT)]
    c = w + u * 0.12 * height
    return [_Shape("circle", c[None], (0.06 * height,), Material.OBJECT)]


def _shadow(image: np.ndarray, fig: _Figure, look: VariedLook, height: float) -> None:
    """Darken an ellipse on the ground under the feet, thrown away from the light."""
    ank = fig.keypoints[[_KP["left_ankle"], _KP["right_ankle"]]]
    foot = ank[np.argmax(ank[:, 1])]
    lx = look.light[0]
    c = (int(foot[0] - 0.25 * height * lx), int(foot[1] + 0.02 * height))
    axes = (max(int(0.3 * height), 2), max(int(0.05 * height), 1))
    size = image.shape[0]
    x0, x1 = max(c[0] - axes[0] - 1, 0), min(c[0] + axes[0] + 2, size)
    y0, y1 = max(c[1] - axes[1] - 1, 0), min(c[1] + axes[1] + 2, size)
    if x1 <= x0 or y1 <= y0:
        return
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.ellipse(m, (c[0] - x0, c[1] - y0), axes, 0.0, 0, 360, 1, -1)
    patch = image[y0:y1, x0:x1]
    dark = (patch.astype(np.float32) * (1.0 - look.shadow)).astype(np.uint8)
    cv2.copyTo(dark, m, patch)  # in place, into the view


def draw_person_varied(
    image: np.ndarray, label: np.ndarray, fig: _Figure, look: VariedLook, owner: int,
    height: float, rng: np.random.Generator,
) -> tuple[int, int, int, int] | None:
    """Draw a figure the way ``look`` says, into ``image`` and ``label`` (in place)."""
    if look.shadow > 0 and abs(fig.keypoints[_KP["left_ankle"], 1] - fig.keypoints[
            _KP["nose"], 1]) > 0.5 * height:  # roughly upright people only
        _shadow(image, fig, look, height)
    extra = _carried(fig, look, height, rng) if look.carry != "none" else []
    ext = fig.extent
    if extra:
        pts = np.concatenate([s.pts for s in extra])
        ext = np.concatenate([np.minimum(ext[:2], pts.min(0) - 0.1 * height),
                              np.maximum(ext[2:], pts.max(0) + 0.1 * height)])
    box = _canvas_box(ext, image.shape[0])
    if box is None:
        return None
    x0, y0, x1, y1 = box
    h, w = y1 - y0, x1 - x0
    canvas = np.zeros((h, w), dtype=np.uint16)
    shade = np.ones(1 << _PART_BITS, dtype=np.float32)
    shapes, values = [], []
    for gr in fig.groups:
        limb = int(gr.part) in _LIMB_PARTS and look.limb != "capsule"
        for shp in gr.shapes:
            if limb and shp.kind == "capsule":
                shp = _limb_shape(shp, look.limb)
            shapes.append(shp)
            values.append((int(shp.material) << _PART_BITS) | int(gr.part))
        shade[int(gr.part)] = 0.9 - 0.6 * min(max(gr.depth / height, -0.2), 0.2)
    _draw_shapes(canvas, shapes, values, x0, y0)
    held_in_front = rng.random() < 0.6
    for shp in extra:  # the carried object: in front of the body or behind it
        if held_in_front:
            _draw_shapes(canvas, [shp], [int(Material.OBJECT) << _PART_BITS], x0, y0)
        else:
            m = np.zeros((h, w), np.uint16)
            _draw_shapes(m, [shp], [int(Material.OBJECT) << _PART_BITS], x0, y0)
            np.copyto(canvas, m, where=(canvas == 0) & (m > 0))
    mask = canvas > 0
    if not mask.any():
        return None
    part = canvas & _PART_MASK
    mat = canvas >> _PART_BITS
    # colour per (level, material) from the look; a flat look paints every material alike
    colours = np.zeros((1 << _MAT_BITS, 4, 3), dtype=np.float32)
    cloths = (look.shirt, look.trousers, look.hair, look.hat)
    if look.flat is not None:
        colours[:] = look.flat
    else:
        for m, col in ((Material.SKIN, look.skin), (Material.SHOES, look.shoes),
                       (Material.EYE, look.eye), (Material.MOUTH, look.mouth),
                       (Material.TRIM, look.trim)):
            colours[int(m)] = col
        for m, cl in zip((Material.SHIRT, Material.TROUSERS, Material.HAIR, Material.HAT),
                         cloths, strict=True):
            colours[int(m)] = cl.levels
    colours[int(Material.OBJECT)] = look.carry_colour
    level = (np.zeros((h, w), np.uint8) if look.flat is not None
             else _pattern_levels(canvas, cloths, (x0, y0)))  # (h, w) garment level 0..3
    lit = np.take(colours.reshape(-1, 3), (mat << 2) | level, axis=0)  # (h, w, 3) float32
    gain = np.take(shade, part)  # (h, w)
    if look.cylinder > 0 or look.inner_contours:
        edge = (cv2.dilate(part, _CROSS) != cv2.erode(part, _CROSS)) | ~mask
        if look.cylinder > 0:  # rounder: darker towards every part's edge
            dist = cv2.distanceTransform((~edge).astype(np.uint8), cv2.DIST_L2, 3)
            rad = max(0.03 * height, 1.0)
            gain = gain * (1.0 - look.cylinder * np.exp(-dist / rad))
        if look.inner_contours and height >= 40:
            gain = np.where(edge & mask, gain * 0.7, gain)
    if look.light[2] > 0:  # directional light across the body
        ys, xs = np.arange(h)[:, None], np.arange(w)[None, :]  # (h, 1), (1, w)
        g = ((xs - w / 2) * look.light[0] + (ys - h / 2) * look.light[1]) / max(h, w, 1)
        gain = gain * (1.0 + look.light[2] * 2.0 * g)
    if look.folds:
        fold = np.zeros((h, w), np.uint8)
        for _ in range(look.folds):
            p0 = (_int(rng, 0, w - 1), _int(rng, 0, h - 1))
            ang = _u(rng, 0, math.pi)
            ln = 0.08 * height
            cv2.line(fold, p0, (int(p0[0] + ln * math.cos(ang)), int(p0[1] + ln * math.sin(ang))),
                     1, max(1, int(0.01 * height)))
        cloth = (mat == int(Material.SHIRT)) | (mat == int(Material.TROUSERS))
        gain = np.where((fold > 0) & cloth, gain * 0.7, gain)
    lit = cv2.multiply(lit.astype(gain.dtype, copy=False), cv2.merge([gain, gain, gain]))
    if look.outline is not None:
        inner = cv2.erode(mask.astype(np.uint8), _CROSS, iterations=look.outline_width) > 0
        lit[mask & ~inner] = look.outline
    lit = np.clip(lit, 0, 255).astype(np.uint8)
    on = mask.view(np.uint8)
    cv2.copyTo(lit, on, image[y0:y1, x0:x1])  # in place, into the views
    lab = np.where(part > 0, (owner << _OWNER_SHIFT) | canvas, 0).astype(np.uint16)
    cv2.copyTo(lab, on, label[y0:y1, x0:x1])
    return box


def parts_distractor(rng: np.random.Generator, size: int, ref_h: float
                     ) -> tuple[list[_Shape], _Cloth]:
    """Things shaped like people's parts, attached to nobody: a limb chain (1–3 capsules), a
    lone head, a hand, or a torso-like block, in skin, hair or cloth colours."""
    kind = _pick(rng, (0.55, 0.15, 0.15, 0.15))
    a = rng.uniform(0, size, 2)
    if kind == 0:
        shapes = []
        ang = _u(rng, 0, 2 * math.pi)
        r = ref_h * _u(rng, 0.02, 0.05)
        for _ in range(_int(rng, 1, 3)):
            b = a + ref_h * _u(rng, 0.12, 0.3) * np.array([math.cos(ang), math.sin(ang)])
            r2 = r * _u(rng, 0.6, 1.0)
            shapes.append(_capsule(a, b, r, r2, Material.NONE))
            a, r = b, r2
            ang += math.radians(_u(rng, 0, 150)) * (1 if rng.random() < 0.5 else -1)
    elif kind == 1:  # head
        r = ref_h / 15.0 * _u(rng, 0.8, 1.3)
        shapes = [_Shape("ellipse", a[None], (0.78 * r, r, _u(rng, -30, 30)))]
    elif kind == 2:  # hand
        r = ref_h * 0.05 * _u(rng, 0.8, 1.3)
        shapes = [_Shape("ellipse", a[None], (r, 0.45 * r, _u(rng, 0, 180)))]
    else:  # torso-like block
        w, hh = ref_h * _u(rng, 0.15, 0.28), ref_h * _u(rng, 0.2, 0.35)
        th = math.radians(_u(rng, -30, 30))
        u, v = np.array([math.cos(th), math.sin(th)]), np.array([-math.sin(th), math.cos(th)])
        shapes = [_Shape("poly", np.stack([a - w / 2 * u - hh / 2 * v, a + w / 2 * u - hh / 2 * v,
                                           a + 0.4 * w * u + hh / 2 * v,
                                           a - 0.4 * w * u + hh / 2 * v]))]
    col = _pick(rng, (0.4, 0.15, 0.45))
    if col == 0:
        base = _bgr(_SKIN_RGB[_int(rng, 0, len(_SKIN_RGB) - 1)], rng, 12)
        return shapes, _cloth(rng, base, ref_h, (1.0, 0.0, 0.0, 0.0))
    if col == 1:
        base = _bgr(_HAIR_RGB[_int(rng, 0, len(_HAIR_RGB) - 1)], rng, 10)
        return shapes, _cloth(rng, base, ref_h, (0.5, 0.0, 0.0, 0.5))
    return shapes, _cloth(rng, _random_colour(rng), ref_h)


def varied_style(name: str, odds: LookOdds, *, distractor_scale: float = 1.0) -> Style:
    """A randomised style: these look odds on the shared hooks (natural backgrounds, the broad
    pose prior, varied figures, people-part distractors, photo finish and camera warp)."""
    from posekit.data.synthpose.backgrounds import natural_background
    from posekit.data.synthpose.camera import camera_warp, photo_finish
    from posekit.data.synthpose.prior import sample_person_broad
    from posekit.data.synthpose.styles import Style
    from posekit.data.synthpose.styles.classic import occluder

    return Style(
        name,
        background=natural_background,
        sample_person=sample_person_broad,
        sample_look=functools.partial(sample_varied_look, odds=odds),
        draw_person=draw_person_varied,
        distractor=parts_distractor,
        occluder=occluder,
        finish=photo_finish,
        camera=camera_warp,
        distractor_scale=distractor_scale,
    )
