"""Backgrounds with natural-image statistics for the randomised styles: 1/f ("pink") noise,
gradients, blurred shapes, pattern-bank textures, repeated structures (bricks, tiles, windows,
fences), wall/floor splits; each can be blurred and overlaid with clutter."""

from __future__ import annotations

import cv2
import numpy as np

from posekit.data.synthpose.looks import _cloth, _random_colour
from posekit.data.synthpose.sampling import _int, _pick, _u

__all__ = ["natural_background", "pink_noise"]


def pink_noise(rng: np.random.Generator, size: int, colour: bool = True) -> np.ndarray:
    """(S, S, 3) float32 in [-1, 1] (one channel repeated unless ``colour``): octaves of white
    noise, each upsampled into the next with half the amplitude (a Laplacian-pyramid sum), so the
    amplitude spectrum falls roughly as 1/f, like natural images'."""
    ch = 3 if colour else 1
    n, amp = 2, 1.0
    out = rng.standard_normal((n, n, ch), dtype=np.float32)
    while 2 * n <= size // 2:  # the finest octave (1/8 of the power) is left out: it costs most
        n *= 2
        amp *= 0.5
        out = cv2.resize(out, (n, n), interpolation=cv2.INTER_LINEAR).reshape(n, n, ch)
        out += amp * rng.standard_normal((n, n, ch), dtype=np.float32)
    out = cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR).reshape(size, size, ch)
    out /= max(float(np.abs(out).max()), 1e-6)
    return out if colour else cv2.merge([out[..., 0]] * 3)


def _tint(rng: np.random.Generator, noise: np.ndarray) -> np.ndarray:
    """Map zero-centred noise to colours between two random colours (+ a little chroma)."""
    c1 = np.asarray(_random_colour(rng), np.float32)
    c2 = np.asarray(_random_colour(rng), np.float32)
    d = c2 - c1
    t = 0.5 + 0.5 * noise[..., 0]  # (S, S)
    # c1 + (c2 - c1) t + 40 noise in float32, one plane per channel (faster than interleaved)
    img = cv2.merge([c1[i] + d[i] * t + 40.0 * plane for i, plane in enumerate(cv2.split(noise))])
    return np.clip(img, 0, 255, out=img).astype(np.uint8)


def _repeated(rng: np.random.Generator, size: int) -> np.ndarray:
    """Bricks, tiles, windows or a fence: one cell repeated over the image."""
    base = np.asarray(_random_colour(rng), np.uint8)
    img = np.empty((size, size, 3), np.uint8)
    img[:] = base
    line = _random_colour(rng)
    kind = _pick(rng, (0.3, 0.25, 0.25, 0.2))
    cw = int(size * _u(rng, 0.05, 0.25))
    ch = int(cw * _u(rng, 0.3, 1.2)) if kind != 3 else size
    ch = max(ch, 4)
    thick = _int(rng, 1, max(1, cw // 8))
    for r, y in enumerate(range(0, size, ch)):
        off = (cw // 2) * (r % 2) if kind == 0 else 0  # bricks are staggered
        for x in range(-off, size, cw):
            if kind == 2:  # windows: a filled inner rectangle
                m = max(2, cw // 5)
                cv2.rectangle(img, (x + m, y + m), (x + cw - m, y + ch - m), line, -1)
            else:
                cv2.rectangle(img, (x, y), (x + cw, y + ch), line, thick)
    if rng.random() < 0.5:  # seen at an angle
        s = size
        d = s * _u(rng, 0.0, 0.25)
        src = np.float32([[0, 0], [s, 0], [s, s], [0, s]])
        dst = np.float32([[0, d], [s, 0], [s, s], [0, s - d]]) if rng.random() < 0.5 else \
            np.float32([[d, 0], [s - d, 0], [s, s], [0, s]])
        img = cv2.warpPerspective(img, cv2.getPerspectiveTransform(src, dst), (s, s),
                                  borderMode=cv2.BORDER_REFLECT)
    return img


def _blurred_shapes(rng: np.random.Generator, img: np.ndarray, n: int, blur: float) -> None:
    size = img.shape[0]
    layer = img.copy()
    for _ in range(n):
        col = _random_colour(rng)
        c = (int(_u(rng, 0, size)), int(_u(rng, 0, size)))
        r = int(size * _u(rng, 0.03, 0.3))
        k = _int(rng, 0, 2)
        if k == 0:
            cv2.circle(layer, c, r, col, -1)
        elif k == 1:
            cv2.rectangle(layer, c, (c[0] + r, c[1] + int(r * _u(rng, 0.3, 2))), col, -1)
        else:
            cv2.ellipse(layer, c, (r, max(1, int(r * _u(rng, 0.1, 1)))), _u(rng, 0, 180), 0, 360,
                        col, -1)
    if blur > 2.0:  # a wide blur is as good at a quarter of the resolution, and 16× cheaper
        small = cv2.resize(layer, (size // 4, size // 4), interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), blur / 4)
        layer = cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR)
    elif blur > 0:
        layer = cv2.GaussianBlur(layer, (0, 0), blur)
    img[:] = layer


def natural_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """(S, S, 3) uint8 BGR background drawn from a mixture of natural-statistics families."""
    kind = _pick(rng, (0.3, 0.15, 0.2, 0.2, 0.15))
    if kind == 0:  # 1/f noise
        img = _tint(rng, pink_noise(rng, size, colour=rng.random() < 0.6))
    elif kind == 1:  # gradient
        grid = np.array([[_random_colour(rng) for _ in range(3)] for _ in range(3)], np.uint8)
        img = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    elif kind == 2:  # texture from the pattern bank, sometimes at a coarse scale
        img = _cloth(rng, _random_colour(rng), size * _u(rng, 0.5, 4.0),
                     (0.0, 0.4, 0.25, 0.35)).fill((size, size), (0, 0)).copy()
    elif kind == 3:
        img = _repeated(rng, size)
    else:  # wall above, floor below
        img = np.empty((size, size, 3), np.uint8)
        y = _int(rng, size // 5, 4 * size // 5)
        img[:y] = _cloth(rng, _random_colour(rng), size).fill((y, size), (0, 0))
        img[y:] = _cloth(rng, _random_colour(rng), size).fill((size - y, size), (0, y))
    img = np.ascontiguousarray(img)
    if rng.random() < 0.7:
        _blurred_shapes(rng, img, _int(rng, 2, 10), _u(rng, 0.0, 0.03) * size)
    if rng.random() < 0.4:  # texture noise on top
        n = pink_noise(rng, size, colour=False)
        img = cv2.add(img, (n * _u(rng, 5, 30)).astype(np.int16), dtype=cv2.CV_8U)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), _u(rng, 0.5, 3.0))
    return np.ascontiguousarray(img)
