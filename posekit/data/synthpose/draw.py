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


def _draw_shapes(canvas: np.ndarray, shapes: list[_Shape], values: list[int], ox: float,
                 oy: float) -> None:
    """Draw filled primitives in order, ``shapes[i]`` with ``values[i]``, into a single-channel
    canvas whose top-left pixel is image pixel (ox, oy).

    Every coordinate goes to fixed point in one NumPy pass (the same float operations, and the
    same round-half-to-even, as rounding each value alone), then one OpenCV call per primitive;
    a capsule is a quad between two end circles.
    """
    if not shapes:
        return
    counts = [len(shp.pts) for shp in shapes]
    starts, at = [], 0
    for c in counts:
        starts.append(at)
        at += c
    pts = np.concatenate([shp.pts for shp in shapes]) - (ox, oy)  # (T, 2) canvas pixels
    fixed = np.round(pts * _ONE).astype(np.int32)  # (T, 2)
    curved = [i for i, shp in enumerate(shapes) if shp.kind != "poly"]
    # radii / half-axes of the round shapes in fixed point, (R, 2) (a circle repeats its r)
    radii = np.array([shapes[i].size[:2] if shapes[i].kind != "circle" else shapes[i].size * 2
                      for i in curved], dtype=np.float64).reshape(-1, 2)
    sizes = dict(zip(curved, np.round(radii * _ONE).astype(np.int64).tolist(), strict=True))
    caps = [j for j, i in enumerate(curved) if shapes[i].kind == "capsule"]
    quads: dict[int, np.ndarray] = {}
    if caps:
        first = np.array([starts[curved[j]] for j in caps])
        a, b = pts[first], pts[first + 1]  # (C, 2) capsule ends
        d = b - a
        n = np.array([math.hypot(dx, dy) for dx, dy in d.tolist()])  # (C,) as math.hypot
        ok = n > 1e-6
        nrm = d[:, ::-1] * (-1.0, 1.0) / np.where(ok, n, 1.0)[:, None]  # (C, 2) unit normals
        r = radii[caps]  # (C, 2) r0, r1
        r0, r1 = r[:, :1] * nrm, r[:, 1:] * nrm
        q = np.empty((len(caps), 4, 2))  # (C, 4, 2) quad between the end circles
        np.add(a, r0, out=q[:, 0])
        np.add(b, r1, out=q[:, 1])
        np.subtract(b, r1, out=q[:, 2])
        np.subtract(a, r0, out=q[:, 3])
        q = np.round(q * _ONE).astype(np.int32)
        quads = {curved[j]: q[m] for m, j in enumerate(caps) if ok[m]}  # (4, 2) each
    xy = fixed.tolist()
    for i, (shp, value) in enumerate(zip(shapes, values, strict=True)):
        kind, at = shp.kind, starts[i]
        if kind == "poly":
            poly = fixed[at:at + counts[i]]
            if shp.convex:
                cv2.fillConvexPoly(canvas, poly, value, cv2.LINE_8, _SHIFT)
            else:
                cv2.fillPoly(canvas, [poly], value, cv2.LINE_8, _SHIFT)
        elif kind == "circle":
            cv2.circle(canvas, xy[at], sizes[i][0], value, -1, cv2.LINE_8, _SHIFT)
        elif kind == "ellipse":
            cv2.ellipse(canvas, xy[at], sizes[i], float(shp.size[2]), 0.0, 360.0, value, -1,
                        cv2.LINE_8, _SHIFT)
        else:
            assert kind == "capsule", kind
            if i in quads:
                cv2.fillConvexPoly(canvas, quads[i], value, cv2.LINE_8, _SHIFT)
            cv2.circle(canvas, xy[at], sizes[i][0], value, -1, cv2.LINE_8, _SHIFT)
            cv2.circle(canvas, xy[at + 1], sizes[i][1], value, -1, cv2.LINE_8, _SHIFT)


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
    _draw_shapes(canvas, shapes, [1] * len(shapes), x0, y0)
    # The canvas (0/1) is the mask; cv2.copyTo writes in place into the views.
    surface = cloth.fill(canvas.shape, (x0, y0), np.empty((*canvas.shape, 3), dtype=np.uint8))
    cv2.copyTo(surface, canvas, image[y0:y1, x0:x1])
    cv2.copyTo(np.full(canvas.shape, owner << _OWNER_SHIFT, dtype=np.uint16), canvas,
               label[y0:y1, x0:x1])
