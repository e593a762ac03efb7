"""The ``classic`` style: SynthPose as first drawn (the default; its bytes per seed are fixed).

People in textured shirts and trousers with faces, hair and hats, depth shading and dark contours
where parts meet; cluttered backgrounds (gradients, smooth noise, textures, wall/floor) with random
shapes; limb-like capsule distractors; boxes, poles, tables and bushes as occluders; a mild
photometric finish (lighting, blur, noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from posekit.data.synthpose.body import (
    _MAT_BITS,
    _OWNER_SHIFT,
    _PART_BITS,
    _PART_MASK,
    Material,
)
from posekit.data.synthpose.draw import _canvas_box, _draw_shapes
from posekit.data.synthpose.figure import _capsule, _Figure, _Shape
from posekit.data.synthpose.looks import (
    _SKIN_RGB,
    _bgr,
    _Cloth,
    _cloth,
    _Look,
    _random_colour,
)
from posekit.data.synthpose.sampling import _int, _u
from posekit.data.synthpose.styles import Style

__all__ = ["draw_person", "background", "distractor", "occluder", "finish"]


# Canvas value (material << 5 | part) → which garment pattern it takes: 0 none, 1 shirt,
# 2 trousers, 3 hair, 4 hat.
_PATTERN_SLOT = np.zeros(1 << (_PART_BITS + _MAT_BITS), dtype=np.uint8)
for _m, _slot in ((Material.SHIRT, 1), (Material.TROUSERS, 2), (Material.HAIR, 3),
                  (Material.HAT, 4)):
    _PATTERN_SLOT[int(_m) << _PART_BITS:(int(_m) + 1) << _PART_BITS] = _slot
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _pattern_levels(canvas: np.ndarray, cloths: Sequence[_Cloth],
                    origin: tuple[int, int]) -> np.ndarray:
    """(h, w) uint8 garment pattern level 0..3 of each canvas pixel: the level map of the cloth
    (shirt, trousers, hair, hat) its material wears, 0 elsewhere and for plain cloths."""
    level = np.zeros(canvas.shape, dtype=np.uint8)
    slots = np.take(_PATTERN_SLOT, canvas)  # (h, w)
    for slot, cl in enumerate(cloths, 1):
        if cl.pattern >= 0:
            cv2.copyTo(cl.level_map(canvas.shape, origin), (slots == slot).view(np.uint8), level)
    return level


def draw_person(
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
    groups = fig.groups
    _draw_shapes(canvas, [shp for gr in groups for shp in gr.shapes],
                 [(int(shp.material) << _PART_BITS) | int(gr.part)
                  for gr in groups for shp in gr.shapes], x0, y0)
    # Nearer parts brighter, farther ones darker (depth in units of H), and a little random
    # (one uniform in [0, 0.04) per group, in order: the stream of one scalar draw per group).
    depth = np.array([gr.depth for gr in groups], dtype=np.float64) / height
    shade[[int(gr.part) for gr in groups]] = (0.86 - 0.7 * np.clip(depth, -0.2, 0.2)
                                              - 0.04 * rng.random(len(groups)))
    mask = canvas > 0
    if not mask.any():
        return None
    cloths = (look.shirt, look.trousers, look.hair, look.hat)
    level = _pattern_levels(canvas, cloths, (x0, y0))  # (h, w) in 0..3
    idx = canvas | (level.astype(np.uint16) << _OWNER_SHIFT)
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
    on = mask.view(np.uint8)
    cv2.copyTo(lit, on, image[y0:y1, x0:x1])  # in place, into the views
    cv2.copyTo((owner << _OWNER_SHIFT) | canvas, on, label[y0:y1, x0:x1])
    return box



def background(rng: np.random.Generator, size: int) -> np.ndarray:
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


def distractor(rng: np.random.Generator, size: int, ref_h: float) -> tuple[list[_Shape], _Cloth]:
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


def occluder(rng: np.random.Generator, target: np.ndarray, h: float) -> list[_Shape]:
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


def finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
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


def _style() -> Style:
    from posekit.data.synthpose.looks import _sample_look
    from posekit.data.synthpose.prior import sample_person

    return Style("classic", background=background, sample_person=sample_person,
                 sample_look=_sample_look, draw_person=draw_person, distractor=distractor,
                 occluder=occluder, finish=finish)


STYLE = _style()
