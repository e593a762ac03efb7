"""Drawing: people (skeletons, boxes, scores), heatmaps, Part Affinity Fields, contact sheets.

Everything here is numpy/OpenCV on BGR uint8 images and returns a new image (inputs are never
mutated). Coordinates follow :mod:`posekit.structures`: integer coordinates are pixel centres,
which is also OpenCV's drawing convention, so points are passed to OpenCV unchanged with
``_SHIFT`` fractional bits for sub-pixel, anti-aliased strokes.

Colours follow MMPose's COCO convention of one hue family per body side (left limbs green,
right limbs orange, centre limbs blue), with every limb a distinct shade inside its family, so
that a mirrored (left/right swapped) pose is visible at a glance.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from torch import Tensor

from posekit.skeletons import COCO17, SKELETONS, Skeleton, get_skeleton

__all__ = [
    "draw_people",
    "draw_heatmaps",
    "draw_pafs",
    "contact_sheet",
    "save_image",
    "limb_colors",
    "keypoint_colors",
    "resolve_skeleton",
]

_SHIFT = 4  # fractional bits of the fixed-point coordinates handed to OpenCV
_ONE = 1 << _SHIFT
_COORD_LIMIT = 1e5  # clip far-away points so fixed-point values stay inside int32
_FONT = cv2.FONT_HERSHEY_SIMPLEX

# OpenCV hue ranges (0–179) per body side: right warm, left green, centre blue/violet.
_SIDE_HUES = {"right": (0.0, 24.0), "left": (48.0, 84.0), "center": (100.0, 150.0)}


# --------------------------------------------------------------------------------------------
# Colours
# --------------------------------------------------------------------------------------------


def _side(names: Sequence[str]) -> str:
    """'left' / 'right' when every named point is on that side, else 'center'."""
    left = [n.startswith("left") for n in names]
    right = [n.startswith("right") for n in names]
    if all(left):
        return "left"
    if all(right):
        return "right"
    return "center"


def _hsv_to_bgr(hues: Sequence[float], sat: int = 255, val: int = 255) -> list[tuple[int, ...]]:
    hsv = np.zeros((1, len(hues), 3), dtype=np.uint8)
    hsv[0, :, 0] = np.round(np.asarray(hues, dtype=np.float64)).astype(np.uint8)
    hsv[0, :, 1] = sat
    hsv[0, :, 2] = val
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0]  # (n, 3)
    return [tuple(int(c) for c in px) for px in bgr]


def _side_palette(sides: Sequence[str]) -> list[tuple[int, ...]]:
    """One distinct shade per item inside its side's hue range, in item order."""
    count = defaultdict(int)
    for s in sides:
        count[s] += 1
    seen: dict[str, int] = defaultdict(int)
    hues = []
    for s in sides:
        lo, hi = _SIDE_HUES[s]
        n, i = count[s], seen[s]
        hues.append(lo + (hi - lo) * (i / (n - 1) if n > 1 else 0.5))
        seen[s] += 1
    return _hsv_to_bgr(hues)


def limb_colors(skeleton: Skeleton | str) -> list[tuple[int, ...]]:
    """BGR colour of each limb of ``skeleton``: hue family by body side, shade by limb index."""
    sk = get_skeleton(skeleton)
    names = sk.keypoint_names
    return _side_palette([_side((names[a], names[b])) for a, b in sk.limbs])


def keypoint_colors(skeleton: Skeleton | str) -> list[tuple[int, ...]]:
    """BGR colour of each keypoint of ``skeleton``, in the same side families as the limbs."""
    sk = get_skeleton(skeleton)
    return _side_palette([_side((n,)) for n in sk.keypoint_names])


def _rainbow(n: int) -> list[tuple[int, ...]]:
    """``n`` evenly spaced hues (OpenPose's per-limb colouring)."""
    return _hsv_to_bgr([179.0 * i / max(n, 1) for i in range(n)])


def _instance_colors(indices: Sequence[int]) -> list[tuple[int, ...]]:
    """Well-separated colours for person boxes (by index or track id): golden-ratio hue steps."""
    return _hsv_to_bgr([(i * 0.618034 % 1.0) * 179.0 for i in indices], sat=200, val=255)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _as_bgr(image: np.ndarray, name: str = "image") -> np.ndarray:
    """A contiguous (H, W, 3) uint8 copy of a BGR or grayscale image; errors name what came."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (BGR 0–255), got dtype {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3) BGR or (H, W) grayscale, got {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {image.shape}")
    return np.ascontiguousarray(image).copy()


def _fx(points: np.ndarray) -> np.ndarray:
    """Float pixel coordinates → OpenCV fixed-point ints (pixel-centre convention kept)."""
    clipped = np.clip(points, -_COORD_LIMIT, _COORD_LIMIT)
    return np.round(clipped * _ONE).astype(np.int64)


def _pt(xy: np.ndarray) -> tuple[int, int]:
    p = _fx(np.asarray(xy, dtype=np.float64))
    return int(p[0]), int(p[1])


def resolve_skeleton(skeleton: Skeleton | str | None, num_keypoints: int) -> Skeleton:
    """The skeleton to draw ``num_keypoints`` points with: given, COCO-17 for K=17, or the one
    registered skeleton with K points (an error when none or several match)."""
    if skeleton is not None:
        sk = get_skeleton(skeleton)
        if sk.num_keypoints != num_keypoints:
            raise ValueError(
                f"skeleton {sk.name} has {sk.num_keypoints} keypoints, people have {num_keypoints}"
            )
        return sk
    if num_keypoints == COCO17.num_keypoints:
        return COCO17
    matches = [s for s in SKELETONS.values() if s.num_keypoints == num_keypoints]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(f"{s.name} ({s.num_keypoints})" for s in SKELETONS.values())
        raise ValueError(f"no skeleton with {num_keypoints} keypoints; known: {known}")
    names = ", ".join(s.name for s in matches)
    raise ValueError(f"{num_keypoints} keypoints is ambiguous ({names}); pass skeleton=")


class People(Protocol):
    """What drawing reads of :class:`posekit.structures.PoseInstances` (boxes xyxy, keypoints,
    scores); a protocol, so this floor-one module need not import the structures."""

    boxes: Tensor
    keypoints: Any
    scores: Tensor


def _people_arrays(people: People) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 4) boxes, (N, K, 3) keypoints, (N,) scores of ``people`` as float64 numpy arrays."""
    if not all(hasattr(people, a) for a in ("boxes", "keypoints", "scores")):
        raise TypeError(f"people must be a PoseInstances, got {type(people).__name__}")
    boxes = np.asarray(people.boxes.detach().cpu(), dtype=np.float64)
    kpts = np.asarray(people.keypoints.data.detach().cpu(), dtype=np.float64)
    scores = np.asarray(people.scores.detach().cpu(), dtype=np.float64)
    return boxes, kpts, scores


def _put_label(
    image: np.ndarray, text: str, origin: tuple[int, int], color: tuple[int, ...], scale: float
) -> None:
    """Text on a filled ``color`` tag whose bottom-left corner is ``origin`` (kept in view)."""
    thick = max(1, round(scale * 2))
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, thick)
    h, w = image.shape[:2]
    x = int(np.clip(origin[0], 0, max(w - tw - 2, 0)))
    y = int(np.clip(origin[1], th + base + 2, h))
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 2, y), color, cv2.FILLED)
    ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    cv2.putText(image, text, (x + 1, y - base - 1), _FONT, scale, ink, thick, cv2.LINE_AA)


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


def draw_people(
    image: np.ndarray,
    people: People,
    skeleton: Skeleton | str | None = None,
    *,
    kpt_thresh: float = 0.3,
    draw_boxes: bool = True,
    draw_scores: bool = False,
    radius: int | None = None,
    thickness: int | None = None,
    style: str = "auto",
    track_ids: Sequence[int] | None = None,
) -> np.ndarray:
    """Draw skeletons (and boxes, scores, track ids) of ``people`` on a copy of a BGR uint8 image.

    ``style="gt"`` reads the third keypoint column as COCO visibility: v=2 filled dot, v=1
    hollow ring (labelled but occluded), v=0 not drawn. ``style="pred"`` reads it as confidence
    and draws points with conf ≥ ``kpt_thresh``. ``"auto"`` picks "gt" when every value is 0, 1
    or 2. A limb is drawn when both its ends are. Unset ``radius``/``thickness`` scale with the
    image and shrink for small people. With ``track_ids`` (one per person, e.g.
    ``PoseInstances.track_ids``) each box takes its id's colour and an "id N" tag, so a person
    keeps one colour through a video.

    Args:
        image: (H, W, 3) BGR uint8 (or (H, W) grayscale); not modified.
        people: boxes (N, 4) and keypoints (N, K, 3) in image pixels.
        skeleton: limbs to draw; default COCO-17 for K=17, else the registered K-point skeleton.
    Returns:
        (H, W, 3) BGR uint8 drawing.
    """
    out = _as_bgr(image)
    boxes, kpts, scores = _people_arrays(people)
    if style not in ("auto", "gt", "pred"):
        raise ValueError(f"style must be 'auto', 'gt' or 'pred', got {style!r}")
    if len(kpts) == 0:
        return out
    for name, value in (("radius", radius), ("thickness", thickness)):
        if value is not None and (not isinstance(value, int | np.integer) or value < 1):
            raise ValueError(f"{name} must be a positive int or None, got {value!r}")
    sk = resolve_skeleton(skeleton, kpts.shape[1])
    conf = kpts[..., 2]  # (N, K)
    xy_ok = np.isfinite(kpts[..., :2]).all(axis=-1)  # (N, K)
    if style == "auto":
        style = "gt" if np.isin(conf[np.isfinite(conf)], (0.0, 1.0, 2.0)).all() else "pred"
    if style == "gt":
        shown = (conf > 0) & xy_ok
        hollow = np.isclose(conf, 1.0) & shown
    else:
        shown = (conf >= kpt_thresh) & xy_ok
        hollow = np.zeros_like(shown)

    h, w = out.shape[:2]
    # Image-level sizes: ~2 px lines and ~4 px dots on a 640-pixel image.
    base_t = thickness or max(1, round(max(h, w) / 320))
    base_r = radius or max(2, round(max(h, w) / 160))
    kpt_cols = keypoint_colors(sk)
    limb_cols = limb_colors(sk)
    if track_ids is not None and len(track_ids) != len(kpts):
        raise ValueError(f"got {len(track_ids)} track_ids for {len(kpts)} people")
    box_cols = _instance_colors(range(len(kpts)) if track_ids is None else track_ids)
    text_scale = max(0.4, max(h, w) / 1000)

    for i in range(len(kpts)):
        # Person-level sizes: a small person gets thinner strokes so its limbs stay separate.
        ext = kpts[i, shown[i], :2]
        diag = float(np.hypot(*np.ptp(ext, axis=0))) if len(ext) > 1 else 0.0
        if np.all(np.isfinite(boxes[i])):
            diag = max(diag, float(np.hypot(*(boxes[i, 2:] - boxes[i, :2]))))
        t = thickness or int(np.clip(round(diag / 80), 1, base_t))
        r = radius or int(np.clip(round(diag / 40), 2, base_r))
        ring_t = max(1, r // 3)

        if draw_boxes and np.all(np.isfinite(boxes[i])) and np.any(boxes[i, 2:] > boxes[i, :2]):
            cv2.rectangle(out, _pt(boxes[i, :2]), _pt(boxes[i, 2:]), box_cols[i], t,
                          cv2.LINE_AA, _SHIFT)  # fmt: skip
        tag = [f"id {track_ids[i]}"] if track_ids is not None else []
        if draw_scores:
            tag.append(f"{scores[i]:.2f}")
        if tag:
            box_ok = np.all(np.isfinite(boxes[i])) and np.any(boxes[i, 2:] > boxes[i, :2])
            anchor = boxes[i, :2] if box_ok or len(ext) == 0 else ext.min(axis=0)
            if np.all(np.isfinite(anchor)):
                x0, y0 = np.clip(anchor, -_COORD_LIMIT, _COORD_LIMIT)
                _put_label(out, " ".join(tag), (int(x0), int(y0)), box_cols[i], text_scale)

        for (a, b), col in zip(sk.limbs, limb_cols, strict=True):
            if not (shown[i, a] and shown[i, b]):
                continue
            pa, pb = kpts[i, a, :2], kpts[i, b, :2]
            d = float(np.hypot(*(pb - pa)))
            # Stop the stroke at a ring's edge so the ring stays hollow.
            trim_a = r + ring_t if hollow[i, a] else 0.0
            trim_b = r + ring_t if hollow[i, b] else 0.0
            if d <= trim_a + trim_b:
                continue
            u = (pb - pa) / d
            cv2.line(out, _pt(pa + u * trim_a), _pt(pb - u * trim_b), col, t, cv2.LINE_AA, _SHIFT)

        for k in np.flatnonzero(shown[i]):
            fill = ring_t if hollow[i, k] else cv2.FILLED
            cv2.circle(out, _pt(kpts[i, k, :2]), r * _ONE, kpt_cols[k], fill, cv2.LINE_AA, _SHIFT)
    return out


# --------------------------------------------------------------------------------------------
# Heatmaps and PAFs
# --------------------------------------------------------------------------------------------


def draw_heatmaps(
    image: np.ndarray, heatmaps: np.ndarray, alpha: float = 0.5, vmax: float | None = None
) -> np.ndarray:
    """Blend the max over channels of ``heatmaps`` (JET colour map) onto a copy of ``image``.

    Values are clipped to ``[0, vmax]``; ``vmax`` defaults to max(1, peak) so Gaussian targets
    keep their absolute scale while unnormalised outputs are scaled to their peak. The map is
    resized to the image with OpenCV's half-pixel alignment, i.e. heatmap cell centres land on
    ``(i + 0.5) · stride − 0.5`` (the pixel-centre convention).

    Args:
        image: (H, W, 3) BGR uint8.
        heatmaps: (K, h, w) or (h, w) float.
        alpha: weight of the colour map in the blend, in [0, 1].
    """
    out = _as_bgr(image)
    hm = np.asarray(heatmaps, dtype=np.float32)
    if hm.ndim == 2:
        hm = hm[None]
    if hm.ndim != 3 or hm.shape[0] == 0 or min(hm.shape[1:]) == 0:
        raise ValueError(f"heatmaps must be (K, h, w) or (h, w), got {np.shape(heatmaps)}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    heat = np.nan_to_num(hm, nan=0.0, posinf=0.0, neginf=0.0).max(axis=0)  # (h, w)
    top = max(1.0, float(heat.max())) if vmax is None else float(vmax)
    if top <= 0:
        raise ValueError(f"vmax must be positive, got {vmax}")
    # Interpolate values, not colours, so in-between pixels get the colour of their value.
    heat = cv2.resize(heat, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
    gray = np.round(np.clip(heat / top, 0.0, 1.0) * 255).astype(np.uint8)  # (H, W)
    colour = cv2.applyColorMap(gray, cv2.COLORMAP_JET)  # (H, W, 3)
    return cv2.addWeighted(out, 1.0 - alpha, colour, alpha, 0.0)


def draw_pafs(
    image: np.ndarray,
    pafs: np.ndarray,
    stride: float | None = None,
    step: int | None = None,
    *,
    thresh: float = 0.1,
    mode: str = "arrows",
    skeleton: Skeleton | str | None = None,
    alpha: float = 0.6,
) -> np.ndarray:
    """Draw Part Affinity Fields on a copy of ``image``: a quiver and/or a direction overlay.

    ``mode="arrows"`` samples every ``step`` cells and draws, for each limb whose vector there
    is at least ``thresh`` long, an arrow centred on the cell, pointing along the vector, as long
    as ``step`` cells at magnitude 1, coloured per limb. ``mode="hue"`` blends an overlay whose
    hue is the direction and whose opacity is the magnitude of the strongest limb per cell (the
    optical-flow colour wheel: +x red). ``"both"`` does both.

    Args:
        image: (H, W, 3) BGR uint8.
        pafs: (2L, h, w) with channels (x_0, y_0, x_1, y_1, …), or (L, 2, h, w).
        stride: image pixels per PAF cell; default image size / PAF size (per axis).
        step: sampling step in PAF cells; default about 24 arrows along the longer side.
        skeleton: colour limbs as :func:`draw_people` does (needs L limbs); default a rainbow.
    """
    out = _as_bgr(image)
    field = np.asarray(pafs, dtype=np.float32)
    if field.ndim == 3 and field.shape[0] % 2 == 0 and field.shape[0] > 0:
        field = field.reshape(field.shape[0] // 2, 2, *field.shape[1:])  # (L, 2, h, w)
    if field.ndim != 4 or field.shape[1] != 2 or 0 in field.shape:
        raise ValueError(f"pafs must be (2L, h, w) or (L, 2, h, w), got {np.shape(pafs)}")
    if mode not in ("arrows", "hue", "both"):
        raise ValueError(f"mode must be 'arrows', 'hue' or 'both', got {mode!r}")
    field = np.nan_to_num(field, nan=0.0, posinf=0.0, neginf=0.0)
    num_limbs, _, fh, fw = field.shape
    H, W = out.shape[:2]
    if stride is not None and stride <= 0:
        raise ValueError(f"stride must be positive, got {stride}")
    sx, sy = (float(stride), float(stride)) if stride is not None else (W / fw, H / fh)
    if skeleton is not None:
        sk = get_skeleton(skeleton)
        if len(sk.limbs) != num_limbs:
            raise ValueError(f"skeleton {sk.name} has {len(sk.limbs)} limbs, pafs have {num_limbs}")
        colours = limb_colors(sk)
    else:
        colours = _rainbow(num_limbs)
    mag = np.hypot(field[:, 0], field[:, 1])  # (L, h, w)

    if mode in ("hue", "both"):
        best = mag.argmax(axis=0)  # (h, w)
        vx = np.take_along_axis(field[:, 0], best[None], axis=0)[0]
        vy = np.take_along_axis(field[:, 1], best[None], axis=0)[0]
        strength = np.clip(mag.max(axis=0), 0.0, 1.0)  # (h, w)
        # OpenCV hue is degrees / 2 in [0, 180); angles are in image axes (+y down).
        hue = np.round(np.degrees(np.arctan2(vy, vx)) % 360.0 / 2.0) % 180
        hsv = np.stack([hue, np.full_like(hue, 255), np.full_like(hue, 255)], -1)  # (h, w, 3)
        colour = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)  # (h, w, 3)
        colour = cv2.resize(colour, (W, H), interpolation=cv2.INTER_NEAREST).astype(np.float32)
        weight = cv2.resize(strength, (W, H), interpolation=cv2.INTER_LINEAR)[..., None] * alpha
        out = np.round(out * (1.0 - weight) + colour * weight).astype(np.uint8)

    if mode in ("arrows", "both"):
        step = step or max(1, round(max(fh, fw) / 24))
        if step < 1:
            raise ValueError(f"step must be a positive int, got {step}")
        ys = np.arange(step // 2, fh, step)
        xs = np.arange(step // 2, fw, step)
        sub = mag[:, ys][:, :, xs]  # (L, ny, nx)
        t = max(1, round(max(H, W) / 400))
        full = step * min(sx, sy) * 0.9  # arrow length at magnitude 1, in image pixels
        for limb, iy, ix in zip(*np.nonzero(sub >= thresh), strict=True):
            cy, cx = ys[iy], xs[ix]
            v = field[limb, :, cy, cx].astype(np.float64)
            m = float(np.hypot(*v))
            centre = np.array([(cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5])
            half = v / m * (min(m, 1.0) * full / 2.0)
            cv2.arrowedLine(out, _pt(centre - half), _pt(centre + half), colours[limb], t,
                            cv2.LINE_AA, _SHIFT, 0.3)  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------
# Contact sheets and files
# --------------------------------------------------------------------------------------------


def _letterbox(image: np.ndarray, size: int, fill: int) -> np.ndarray:
    """Fit ``image`` inside a ``size``² square, aspect kept, centred on ``fill``."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    canvas = np.full((size, size, 3), fill, dtype=np.uint8)
    y0, x0 = (size - nh) // 2, (size - nw) // 2
    canvas[y0:y0 + nh, x0:x0 + nw] = resized
    return canvas


def _fit_text(text: str, width: int, scale: float) -> tuple[str, float]:
    """Shrink ``scale`` (down to 0.3) and then cut ``text`` until it fits ``width`` pixels."""
    while scale > 0.3 and cv2.getTextSize(text, _FONT, scale, 1)[0][0] > width:
        scale = max(0.3, scale - 0.05)
    while len(text) > 1 and cv2.getTextSize(text, _FONT, scale, 1)[0][0] > width:
        text = text[:-4] + "..." if len(text) > 4 else text[:-1]
    return text, scale


def contact_sheet(
    images: Sequence[np.ndarray],
    ncols: int | None = None,
    labels: Sequence[str] | None = None,
    cell: int = 256,
) -> np.ndarray:
    """Tile images into one BGR sheet of ``cell``² cells (aspect kept, letterboxed).

    Each image is fitted inside its cell with a 2-pixel margin; a label, when given, is written
    on a dark band across the top of its cell. Cells fill row by row.

    Args:
        images: BGR uint8 (H, W, 3) or grayscale (H, W) images, any sizes.
        ncols: columns; default ceil(sqrt(N)).
        labels: one string per image.
    Returns:
        (rows · cell, ncols · cell, 3) uint8 with rows = ceil(N / ncols).
    """
    if len(images) == 0:
        raise ValueError("contact_sheet needs at least one image, got none")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(labels)} labels for {len(images)} images")
    if cell < 16:
        raise ValueError(f"cell must be at least 16 pixels, got {cell}")
    n = len(images)
    ncols = ncols if ncols is not None else math.ceil(math.sqrt(n))
    if ncols < 1:
        raise ValueError(f"ncols must be positive, got {ncols}")
    nrows = math.ceil(n / ncols)
    margin = 2
    sheet = np.full((nrows * cell, ncols * cell, 3), 24, dtype=np.uint8)
    for i, img in enumerate(images):
        tile = _letterbox(_as_bgr(img, name=f"images[{i}]"), cell - 2 * margin, fill=48)
        if labels is not None and labels[i]:
            text, scale = _fit_text(str(labels[i]), tile.shape[1] - 6, max(0.35, cell / 560))
            (_, th), base = cv2.getTextSize(text, _FONT, scale, 1)
            band = th + base + 6
            tile[:band] = (tile[:band] * 0.35).astype(np.uint8)
            cv2.putText(tile, text, (3, band - base - 3), _FONT, scale, (255, 255, 255), 1,
                        cv2.LINE_AA)  # fmt: skip
        r, c = divmod(i, ncols)
        y0, x0 = r * cell + margin, c * cell + margin
        sheet[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
    return sheet


def save_image(path: str | Path, image: np.ndarray) -> Path:
    """Write a BGR uint8 image in the format its suffix names (``.png`` → PNG); creates parent
    folders. Raises ``OSError`` naming the path when it cannot be written."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not suffix:
        raise ValueError(f"cannot tell the image format of {path}: give it a suffix like .png")
    img = _as_bgr(image)
    try:
        ok, buf = cv2.imencode(suffix, img)
    except cv2.error as e:
        raise ValueError(f"OpenCV cannot write {suffix!r} images ({path}): {e}") from None
    if not ok:
        raise ValueError(f"OpenCV failed to encode {path} as {suffix!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.tobytes())
    except OSError as e:
        raise OSError(f"could not write image {path}: {e.strerror or e}") from e
    return path
