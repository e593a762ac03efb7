"""What a person wears and how surfaces look: skin, hair and cloth colours, and the pattern bank
(stripes, checks, smooth noise) that garments, objects and backgrounds crop from."""

from __future__ import annotations

import colorsys
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from posekit.data.synthpose.sampling import _int, _pick, _u

__all__: list[str] = []


@dataclass(frozen=True)
class _Cloth:
    """A surface: 4 colour levels (BGR) indexed by a pattern from the bank (-1 = plain)."""

    levels: np.ndarray  # (4, 3) uint8
    pattern: int
    offset: tuple[int, int]

    def fill(self, shape: tuple[int, int], origin: tuple[int, int],
             out: np.ndarray | None = None) -> np.ndarray:
        """(h, w, 3) uint8 surface for a canvas at image position ``origin`` (written into
        ``out`` when given; otherwise a read-only broadcast for a plain surface)."""
        if self.pattern < 0:
            if out is None:
                return np.broadcast_to(self.levels[0], (*shape, 3))
            out[:] = self.levels[0]
            return out
        return np.take(self.levels, self.level_map(shape, origin), axis=0, out=out)

    def level_map(self, shape: tuple[int, int], origin: tuple[int, int]) -> np.ndarray:
        """(h, w) uint8 pattern levels 0–3 (all 0 for a plain surface)."""
        if self.pattern < 0:
            return np.zeros(shape, dtype=np.uint8)
        return _crop(_pattern_bank()[self.pattern], origin[0] + self.offset[0],
                     origin[1] + self.offset[1], shape)


@dataclass
class _Look:
    """Clothing and colouring of one person (BGR colours); left and right share all of it."""

    skin: tuple[int, int, int]
    hair: _Cloth
    hair_style: str  # short | long | hat
    hat: _Cloth
    shirt: _Cloth
    trousers: _Cloth
    shoes: tuple[int, int, int]
    trim: tuple[int, int, int]
    eye: tuple[int, int, int]
    mouth: tuple[int, int, int]
    sleeves: str  # none | short | long
    legs: str  # long | shorts
    neckline: str  # v | round | zip
    buttons: bool



_SKIN_RGB = ((255, 224, 189), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36),
             (90, 56, 37), (255, 205, 148), (234, 192, 134), (172, 112, 76))
_HAIR_RGB = ((25, 20, 18), (60, 40, 25), (110, 75, 45), (200, 170, 110), (150, 148, 145),
             (140, 60, 30), (220, 218, 210))
_TROUSER_RGB = ((50, 70, 120), (30, 30, 35), (110, 110, 115), (190, 170, 120), (90, 60, 40),
                (40, 55, 90), (25, 45, 30))
_BANK_SIDE = 256
_PERIODS = (3.0, 5.0, 8.0, 13.0, 21.0)  # stripe / check periods and noise cells, px
_ANGLES = 8  # stripe directions, every 22.5°
_LEVEL_T = (0.0, 1 / 3, 2 / 3, 1.0)  # blend of each level towards colour 2


@functools.lru_cache(maxsize=1)
def _pattern_bank() -> np.ndarray:
    """(N, 256, 256) uint8 pattern levels 0–3, built once per process from a fixed seed:
    stripes (5 periods × 8 directions), checks (5 periods × 2 directions), smooth noise (5 cells).
    Garments, objects and backgrounds crop them at random offsets; built once because computing
    patterns per image dominated the render time."""
    n = _BANK_SIDE
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)  # (n, n) each
    tiles = []
    for period in _PERIODS:
        for j in range(_ANGLES):
            th = math.pi * j / _ANGLES
            tiles.append((((xs * math.cos(th) + ys * math.sin(th)) / period) % 1.0 < 0.5) * 3)
    for period in _PERIODS:
        for th in (0.0, math.pi / 4):
            u = xs * math.cos(th) + ys * math.sin(th)
            v = -xs * math.sin(th) + ys * math.cos(th)
            tiles.append(((np.floor(u / period) + np.floor(v / period)) % 2) * 3)
    rng = np.random.default_rng(20240531)
    for period in _PERIODS:
        cells = int(n / period) + 1
        noise = cv2.resize(rng.random((cells, cells), dtype=np.float32), (n, n),
                           interpolation=cv2.INTER_CUBIC)
        tiles.append(np.clip(noise * 4.0, 0, 3))
    return np.stack(tiles).astype(np.uint8)


def _pattern_index(kind: str, period_idx: int, angle_idx: int) -> int:
    if kind == "stripes":
        return period_idx * _ANGLES + angle_idx
    base = len(_PERIODS) * _ANGLES
    if kind == "checks":
        return base + 2 * period_idx + angle_idx % 2
    return base + 2 * len(_PERIODS) + period_idx  # noise


def _crop(tile: np.ndarray, x: int, y: int, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) window of a periodic-ish tile at (x, y), wrapping around its edges."""
    h, w = shape
    n = tile.shape[0]
    x, y = x % n, y % n
    if x + w <= n and y + h <= n:
        return tile[y:y + h, x:x + w]
    return np.take(np.take(tile, np.arange(y, y + h) % n, axis=0), np.arange(x, x + w) % n, axis=1)


def _bgr(rgb: Sequence[float], rng: np.random.Generator | None = None, jitter: int = 0
         ) -> tuple[int, int, int]:
    """RGB → BGR ints in 0–255, optionally jittered per channel."""
    r, g, b = float(rgb[0]), float(rgb[1]), float(rgb[2])
    if rng is not None and jitter:  # drawn in B, G, R order
        b += _int(rng, -jitter, jitter)
        g += _int(rng, -jitter, jitter)
        r += _int(rng, -jitter, jitter)
    return (int(min(max(b, 0.0), 255.0)), int(min(max(g, 0.0), 255.0)),
            int(min(max(r, 0.0), 255.0)))


def _random_colour(rng: np.random.Generator, s: tuple[float, float] = (0.1, 1.0),
                   v: tuple[float, float] = (0.15, 1.0)) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), _u(rng, *s), _u(rng, *v))
    return _bgr((255 * r, 255 * g, 255 * b))


def _cloth(rng: np.random.Generator, base: tuple[int, int, int], scale: float,
           kinds: Sequence[float] = (0.4, 0.25, 0.15, 0.2),
           second: tuple[int, int, int] | None = None) -> _Cloth:
    """A surface of colour ``base``: plain / stripes / checks / noise with probabilities
    ``kinds``, pattern period about 3–10 % of ``scale`` px, blended towards a second colour."""
    kind = ("plain", "stripes", "checks", "noise")[_pick(rng, kinds)]
    c2 = second if second is not None else _random_colour(rng)
    # c1 + (c2 - c1) t for t in 0, 1/3, 2/3, 1, truncated (in [0, 255]); plain floats, as fast
    levels = np.array([[int(a + (b - a) * t) for a, b in zip(base, c2, strict=True)]
                       for t in _LEVEL_T], dtype=np.uint8)  # (4, 3)
    if kind == "plain":
        return _Cloth(levels, -1, (0, 0))
    period = scale * _u(rng, 0.03, 0.1)
    pi = min(range(len(_PERIODS)), key=lambda j: abs(math.log(period / _PERIODS[j])))
    pattern = _pattern_index(kind, pi, _int(rng, 0, _ANGLES - 1))
    offset = (_int(rng, 0, _BANK_SIDE - 1), _int(rng, 0, _BANK_SIDE - 1))
    return _Cloth(levels, pattern, offset)


def _sample_look(rng: np.random.Generator, height: float) -> _Look:
    """Random clothing, skin, hair and facial colours."""
    skin = _bgr(_SKIN_RGB[_int(rng, 0, len(_SKIN_RGB) - 1)], rng, 12)
    if rng.random() < 0.7:
        trousers = _bgr(_TROUSER_RGB[_int(rng, 0, len(_TROUSER_RGB) - 1)], rng, 15)
    else:
        trousers = _random_colour(rng)
    hair = _bgr(_HAIR_RGB[_int(rng, 0, len(_HAIR_RGB) - 1)], rng, 10)
    return _Look(
        skin=skin,
        hair=_cloth(rng, hair, 0.5 * height, (0.3, 0.0, 0.0, 0.7),
                    second=tuple(int(0.6 * v) for v in hair)),  # type: ignore[arg-type]
        hair_style=("short", "long", "hat")[_pick(rng, (0.55, 0.33, 0.12))],
        hat=_cloth(rng, _random_colour(rng), height),
        shirt=_cloth(rng, _random_colour(rng), height),
        trousers=_cloth(rng, trousers, height),
        shoes=_random_colour(rng, (0.0, 0.5), (0.05, 0.9)), trim=_random_colour(rng),
        eye=_bgr((30, 25, 25), rng, 10), mouth=_bgr((150, 60, 60), rng, 20),
        sleeves=("none", "short", "long")[_pick(rng, (0.15, 0.45, 0.4))],
        legs="shorts" if rng.random() < 0.2 else "long",
        neckline=("v", "round", "zip")[_pick(rng, (0.4, 0.4, 0.2))],
        buttons=bool(rng.random() < 0.6),
    )
