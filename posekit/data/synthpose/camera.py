"""Camera effects for the randomised styles.

:func:`camera_warp` is a geometric camera change applied to the finished scene: zoom (people from
tiny to filling the frame), in-plane rotation and a perspective tilt (out-of-plane rotation of
the camera, which foreshortens the scene). The image is warped bilinearly, the label map with
nearest neighbour and every keypoint with the same homography, so the visibility read off the
warped label map afterwards is true to the warped image. What the warp brings in from outside
the scene is a flat colour that belongs to nobody.

:func:`photo_finish` is photometric only (labels unchanged): uneven light, colour cast, gamma,
motion or defocus blur, sensor noise and JPEG compression at a random quality.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from posekit.data.synthpose.sampling import _int, _pick, _u

__all__ = ["camera_warp", "photo_finish"]


def _homography(rng: np.random.Generator, size: int) -> np.ndarray:
    """3×3 map from scene to image pixels: zoom about a random point, rotate, tilt."""
    c = size / 2.0
    zoom = math.exp(_u(rng, math.log(0.85), math.log(2.2))) if rng.random() < 0.6 else 1.0
    angle = _u(rng, -30, 30) if rng.random() < 0.5 else 0.0
    if rng.random() < 0.1:
        angle = _u(rng, -180, 180)
    # zoom about a point of the scene, which lands at the image centre
    fx, fy = _u(rng, 0.3, 0.7) * size, _u(rng, 0.3, 0.7) * size
    a = math.radians(angle)
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * zoom
    m = np.eye(3)
    m[:2, :2] = r
    m[:2, 2] = np.array([c, c]) - r @ np.array([fx, fy])
    if rng.random() < 0.6:  # perspective tilt: the far edge shrinks
        t = _u(rng, 0.0, 0.6) / size
        ang = _u(rng, 0, 2 * math.pi)
        p = np.eye(3)
        p[2, :2] = (t * math.cos(ang), t * math.sin(ang))
        p[2, 2] = 1.0 - p[2, :2] @ np.array([c, c])  # keeps the centre fixed
        # re-centre: p moves points; conjugate so the image centre stays put
        m = p @ m
        centre = m @ np.array([fx, fy, 1.0])
        shift = np.eye(3)
        shift[:2, 2] = np.array([c, c]) - centre[:2] / centre[2]
        m = shift @ m
    return m


def _warp_points(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h = np.concatenate([pts, np.ones((len(pts), 1))], axis=1) @ m.T
    behind = h[:, 2] <= 0.05  # beyond the horizon of the tilt: far outside, never inside
    out = h[:, :2] / np.where(behind, 1.0, h[:, 2])[:, None]
    out[behind] = -1e4
    return out


def camera_warp(rng: np.random.Generator, image: np.ndarray, label: np.ndarray,
                points: list[tuple[np.ndarray, np.ndarray]]
                ) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Warp image, label map and keypoints by one random camera change (see module doc).
    Pixel centres are at integer coordinates throughout, as OpenCV's warps assume."""
    if rng.random() < 0.3:
        return image, label, points
    size = image.shape[0]
    m = _homography(rng, size)
    fill = tuple(int(v) for v in cv2.mean(image)[:3])
    img = cv2.warpPerspective(image, m, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=fill)
    lab = cv2.warpPerspective(label, m, (size, size), flags=cv2.INTER_NEAREST,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = [(_warp_points(m, k), _warp_points(m, e)) for k, e in points]
    return img, lab, out


def _motion_kernel(length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2.0
    dx, dy = math.cos(angle) * c, math.sin(angle) * c
    cv2.line(k, (int(round(c - dx)), int(round(c - dy))), (int(round(c + dx)), int(round(c + dy))),
             1.0, 1)
    return k / max(float(k.sum()), 1e-6)


def photo_finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Photometric changes of a camera (labels unchanged); see the module doc."""
    size = img.shape[0]
    if rng.random() < 0.7:  # uneven light and a colour cast
        light = cv2.resize(rng.uniform(0.55, 1.3, (3, 3)).astype(np.float32), (size, size),
                           interpolation=cv2.INTER_CUBIC)
        cast = rng.uniform(0.85, 1.15, 3).astype(np.float32)
        # float32 light × cast per channel, then × pixel, truncated (planar, for speed)
        lit = cv2.multiply(img, cv2.merge([light * cast[0], light * cast[1], light * cast[2]]),
                           dtype=cv2.CV_32F)
        img = np.minimum(lit, 255.0, out=lit).astype(np.uint8)
    if rng.random() < 0.3:  # gamma
        g = _u(rng, 0.6, 1.6)
        lut = np.clip(255.0 * (np.arange(256) / 255.0) ** g, 0, 255).astype(np.uint8)
        img = cv2.LUT(img, lut)
    blur = _pick(rng, (0.5, 0.25, 0.25))
    if blur == 1:  # motion blur
        img = cv2.filter2D(img, -1, _motion_kernel(2 * _int(rng, 1, 4) + 1, _u(rng, 0, math.pi)))
    elif blur == 2:  # defocus
        img = cv2.GaussianBlur(img, (0, 0), _u(rng, 0.6, 2.0))
    if rng.random() < 0.1:
        img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.6:  # sensor noise
        sigma = _u(rng, 2, 12)
        tile = rng.normal(0.0, sigma, (64, 64, 3)).astype(np.int16)
        reps = -(-size // 64)
        img = cv2.add(img, np.tile(tile, (reps, reps, 1))[:size, :size], dtype=cv2.CV_8U)
    if rng.random() < 0.6:  # JPEG at a random quality
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, _int(rng, 25, 90)])
        if ok:
            img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return img
