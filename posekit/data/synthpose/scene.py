"""Scene composition: crowd levels, where people stand, drawing order, distractors and
occluders, and reading the ground truth (visibility, area, box) off the finished label map."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from posekit.data.synthpose.body import (
    _EXTRA_PART_TABLE,
    _MAT_BITS,
    _OWN_PART_TABLE,
    _OWNER_SHIFT,
    _PART_BITS,
    _PART_MASK,
    EXTRA_KEYPOINTS,
    PersonParams,
)
from posekit.data.synthpose.draw import _draw_object
from posekit.data.synthpose.figure import _build_figure, _Figure, _Shape
from posekit.data.synthpose.looks import _Cloth, _cloth, _random_colour
from posekit.data.synthpose.sampling import _gauss, _int, _u
from posekit.data.synthpose.styles import DEFAULT_STYLE, Style, get_style, parse_styles
from posekit.skeletons import COCO17, Skeleton

__all__ = ["CrowdLevel", "CROWD_LEVELS", "MIN_HEIGHT", "RenderedPerson", "RenderedImage",
           "render_image", "render_scene", "render_person", "image_rng"]


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
        extra: (4, 3) float64 x, y, v of :data:`EXTRA_KEYPOINTS` (head top, upper neck,
            thorax, pelvis), visibility read off the label map like the COCO points.
    """

    keypoints: np.ndarray
    self_hidden: np.ndarray
    owner_id: int
    area: int
    bbox: tuple[float, float, float, float]
    params: PersonParams
    extra: np.ndarray = field(default_factory=lambda: np.zeros((len(EXTRA_KEYPOINTS), 3)))

    @property
    def view(self) -> str:
        return self.params.view

    def keypoints_in(self, skeleton: Skeleton) -> np.ndarray:
        """(K, 3) x, y, v in ``skeleton`` (COCO-17 or MPII-16), points matched by name."""
        if skeleton.name == COCO17.name:
            return self.keypoints
        names = {n: row for n, row in zip(COCO17.keypoint_names, self.keypoints, strict=True)}
        names.update(zip(EXTRA_KEYPOINTS, self.extra, strict=True))
        missing = [n for n in skeleton.keypoint_names if n not in names]
        if missing:
            raise ValueError(f"SynthPose cannot annotate {skeleton.name}: no {missing}")
        return np.stack([names[n] for n in skeleton.keypoint_names])


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


def _placements(rng: np.random.Generator, level: CrowdLevel, size: int,
                num_people: int | None = None) -> list[tuple[float, tuple[float, float]]]:
    """(standing height, pelvis centre) of each person; dense levels gather people in groups.
    ``num_people`` fixes the count (otherwise drawn from the level's range)."""
    n = _int(rng, *level.people) if num_people is None else num_people
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


# Rows of every person's points in :func:`_result`: COCO-17, then the MPII extras.
_POINT_PART_TABLE = np.concatenate([_OWN_PART_TABLE, _EXTRA_PART_TABLE])  # (K + 4, 32)


def _visibility(xy: np.ndarray, hidden: np.ndarray, owner_id: int | np.ndarray,
                label: np.ndarray, table: np.ndarray = _OWN_PART_TABLE) -> np.ndarray:
    """COCO v per point (P,) from the label map at the nearest pixel centre (see the package
    doc); ``table[p, part]`` says whether ``part`` shows point p, which belongs to ``owner_id``
    (one id, or (P,) ids for the points of several people at once)."""
    size_y, size_x = label.shape
    u = np.floor(xy[:, 0] + 0.5).astype(np.int64)
    w = np.floor(xy[:, 1] + 0.5).astype(np.int64)
    inside = (u >= 0) & (u < size_x) & (w >= 0) & (w < size_y)
    v = np.zeros(len(xy), dtype=np.int64)
    lab = label[w[inside], u[inside]].astype(np.int64)
    ids = owner_id[inside] if isinstance(owner_id, np.ndarray) else owner_id
    own = ((lab >> _OWNER_SHIFT) == ids) & table[np.flatnonzero(inside), lab & _PART_MASK]
    v[inside] = np.where(own & ~hidden[inside], 2, 1)
    return v


def _render_once(rng: np.random.Generator, size: int, crowd: str, level: CrowdLevel,
                 style: Style, num_people: int | None = None) -> RenderedImage:
    image = style.background(rng, size)
    label = np.zeros((size, size), dtype=np.uint16)  # owner << 9 | material << 5 | part
    places = _placements(rng, level, size, num_people)
    # Nearer people tend to be bigger: draw in order of height with some shuffling.
    order = np.argsort([h * math.exp(rng.normal(0, 0.25)) for h, _ in places], kind="stable")
    params = [style.sample_person(rng, *places[i]) for i in order]
    looks = [style.sample_look(rng, p.height) for p in params]
    figures = [_build_figure(p, lk) for p, lk in zip(params, looks, strict=True)]
    ref_h = float(np.median([p.height for p in params]))
    next_id = len(params) + 1
    # Distractors: most lie behind everyone, some between people.
    between: dict[int, list[tuple[list[_Shape], _Cloth]]] = {}
    lo, hi = level.distractors
    if style.distractor_scale != 1.0:
        lo, hi = round(lo * style.distractor_scale), round(hi * style.distractor_scale)
    for _ in range(int(rng.integers(lo, hi + 1))):
        shapes, fill = style.distractor(rng, size, ref_h)
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
                style.occluder(rng, kp[int(rng.integers(len(kp)))], params[i].height))
    boxes = []
    for i, (fig, lk, p) in enumerate(zip(figures, looks, params, strict=True)):
        boxes.append(style.draw_person(image, label, fig, lk, i + 1, p.height, rng))
        for shapes, fill in between.get(i, []):
            _draw_object(image, label, shapes, next_id, fill)
            next_id += 1
        for shapes in occluders.get(i, []):
            _draw_object(image, label, shapes, next_id,
                         _cloth(rng, _random_colour(rng), p.height))
            next_id += 1
    assert next_id < 1 << (16 - _OWNER_SHIFT), "owner ids must fit in the label map"
    image = style.finish(rng, image)
    points = [(f.keypoints, f.extra) for f in figures]
    if style.camera is not None:
        image, label, points = style.camera(rng, image, label, points)
        boxes = [(0, 0, size, size) if b is not None else None for b in boxes]
    return _result(image, label, figures, points, params, boxes, crowd)


def _result(image: np.ndarray, label: np.ndarray, figures: list[_Figure],
            points: list[tuple[np.ndarray, np.ndarray]], params: list[PersonParams],
            boxes: list[tuple[int, int, int, int] | None], crowd: str) -> RenderedImage:
    """Read every person's visibility, area and box off the finished label map."""
    owner = (label >> _OWNER_SHIFT).astype(np.int32)
    people = []
    # Every person's COCO-17 and extra points at once: (N·(K + 4), 2), ids and flags alike.
    n, kk = len(figures), COCO17.num_keypoints
    per = kk + len(EXTRA_KEYPOINTS)
    xy = np.round(np.concatenate([a for pts in points for a in pts]), 2)  # as the json stores
    no_hidden = np.zeros(len(EXTRA_KEYPOINTS), dtype=bool)
    hidden = np.concatenate([h for f in figures for h in (f.self_hidden, no_hidden)])
    ids = np.repeat(np.arange(1, n + 1), per)
    v = _visibility(xy, hidden, ids, label, np.tile(_POINT_PART_TABLE, (n, 1)))
    rows = np.concatenate([xy, v[:, None].astype(np.float64)], axis=1)  # (N·(K + 4), 3)
    for i, (fig, p, box) in enumerate(zip(figures, params, boxes, strict=True)):
        kps, ext = rows[i * per:i * per + kk].copy(), rows[i * per + kk:(i + 1) * per].copy()
        area, bbox = 0, (0.0, 0.0, 0.0, 0.0)
        if box is not None:
            x0, y0, x1, y1 = box
            mine = (owner[y0:y1, x0:x1] == i + 1).view(np.uint8)
            area = cv2.countNonZero(mine)
            if area:
                bx, by, bw, bh = cv2.boundingRect(mine)  # tight box of the non-zero pixels
                bbox = (x0 + bx - 0.5, y0 + by - 0.5, float(bw), float(bh))
        people.append(RenderedPerson(kps, fig.self_hidden.copy(), i + 1, area, bbox, p, ext))
    return RenderedImage(
        image=image, owner=owner, part=(label & _PART_MASK).astype(np.uint8),
        material=((label >> _PART_BITS) & ((1 << _MAT_BITS) - 1)).astype(np.uint8),
        people=people, crowd=crowd,
    )


def render_person(params: PersonParams, size: int = 256, seed: int = 0,
                  style: str = DEFAULT_STYLE) -> RenderedImage:
    """Draw one person alone on a plain grey background, with clothes drawn from ``seed``;
    for looking at (and testing) the figure itself without clutter, occlusion or noise."""
    size = _check_size(size)
    sty = get_style(style)
    rng = np.random.default_rng(seed)
    image = np.full((size, size, 3), 160, dtype=np.uint8)
    label = np.zeros((size, size), dtype=np.uint16)
    look = sty.sample_look(rng, params.height)
    fig = _build_figure(params, look)
    box = sty.draw_person(image, label, fig, look, 1, params.height, rng)
    return _result(image, label, [fig], [(fig.keypoints, fig.extra)], [params], [box],
                   "single")


def _pick_style(gen: np.random.Generator, style: str | Style) -> Style:
    styles = parse_styles(style)
    if len(styles) == 1:  # no draw: a one-style image stream is that style's stream
        return styles[0]
    return styles[int(gen.random() * len(styles))]


def render_image(rng: np.random.Generator | int, size: int = 256, crowd: str = "normal",
                 style: str | Style = DEFAULT_STYLE) -> RenderedImage:
    """Draw one SynthPose image of ``size`` × ``size`` at a crowd level.

    Args:
        rng: a numpy Generator (consumed) or an int seed.
        size: image side in pixels (≥ 64).
        crowd: ``sparse`` (1–2 people), ``normal`` (1–5) or ``dense`` (4–12, in overlapping groups).
        style: a style, a comma-separated list of styles or a family (:mod:`.styles`); with
            several, each image draws one of them.
    """
    level = _check_crowd(crowd)
    size = _check_size(size)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    sty = _pick_style(gen, style)
    out = _render_once(gen, size, crowd, level, sty)
    for _ in range(8):  # everybody hidden or outside (rare): draw again from the same stream
        if any(p.area > 0 for p in out.people):
            break
        out = _render_once(gen, size, crowd, level, sty)
    return out


def render_scene(rng: np.random.Generator | int, size: int = 256, *, num_people: int,
                 crowd: str = "normal", style: str | Style = DEFAULT_STYLE) -> RenderedImage:
    """Draw one image holding exactly ``num_people`` people (drawn, though some may end up
    hidden or outside the frame), placed and sized as at the crowd level ``crowd``; for
    benchmarks that need a known number of people per image (``posekit bench``)."""
    if isinstance(num_people, bool) or not isinstance(num_people, (int, np.integer)):
        raise TypeError(f"num_people must be an int, got {type(num_people).__name__}")
    if not 1 <= num_people < 100:
        raise ValueError(f"num_people must be in 1..99, got {num_people}")
    level = _check_crowd(crowd)
    size = _check_size(size)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return _render_once(gen, size, crowd, level, _pick_style(gen, style), int(num_people))


def image_rng(seed: int, split: str, crowd: str, index: int, style: str = DEFAULT_STYLE
              ) -> np.random.Generator:
    """The generator of image ``index``: independent of every other image and of worker count
    (the style joins the key only when it is not the default, whose streams predate styles)."""
    key = [int(seed), zlib.crc32(split.encode()), zlib.crc32(crowd.encode()), int(index)]
    if style != DEFAULT_STYLE:
        key.append(zlib.crc32(style.encode()))
    return np.random.default_rng(np.random.SeedSequence(key))
