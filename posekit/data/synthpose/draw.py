"""Drawing primitives into single-channel canvases in OpenCV fixed point (1/16 pixel), and
plain objects (distractors, occluders) into the image and label map."""

from __future__ import annotations

import math

import cv2
import numpy as np

from posekit.data.synthpose.body import _OWNER_SHIFT
from posekit.data.synthpose.figure import _Shape
from posekit.data.synthpose.looks import _Cloth

__all__: list[str] = []

_SHIFT = 4  # OpenCV fixed-point bits: coordinates are drawn to 1/16 pixel
_ONE = 1 << _SHIFT


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
