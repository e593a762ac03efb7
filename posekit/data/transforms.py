"""Data transforms: person box → centre/scale, affine crop, flip, half-body, jitter (top-down),
and the whole-image random affine of the models trained on full images (bottom-up, one-stage).

numpy + OpenCV only (data layer). Coordinates follow :mod:`posekit.structures`: image pixels,
x right, y down, integer coordinates are pixel centres, which is also ``cv2.warpAffine``'s
convention, so one 2×3 matrix moves both the pixels and the keypoints.

Conventions, checked against MMPose 1.x (``mmpose/structures/bbox/transforms.py`` and
``mmpose/datasets/transforms``):

- A box becomes ``center`` (x, y) and ``scale`` (w, h) in pixels, padded ×1.25, and the shorter
  side is then grown so that w/h equals the model input's (``fix_aspect_ratio``).
- The plain matrix maps ``center`` to ``(out_w / 2, out_h / 2)`` with ``out / scale`` pixels per
  image pixel, exactly MMPose's ``get_warp_matrix``. That is half a pixel away from the crop's
  true centre ``(out - 1) / 2``, the bias UDP removes: with ``udp=True`` the box edges land on the
  centres of the first and last crop pixels, ``(out - 1) / scale`` per pixel.
- Rotation: a positive ``rot_deg`` turns the image content counter-clockwise as seen on screen,
  as ``cv2.getRotationMatrix2D`` and MMPose's ``get_warp_matrix`` do. MMPose's
  ``get_udp_warp_matrix`` uses the opposite sign (harmless there, its angles are sampled
  symmetrically); posekit uses one sign for both.
- Flip: ``x' = W - 1 - x`` for points and boxes alike, left/right labels swapped. In
  :class:`TopDownAugment` the flip is folded into the crop matrix instead of copying the whole
  image; the crop is the same because a flip moves whole pixels.

Augmentation order and defaults are MMPose 1.x's top-down training pipeline:
``GetBBoxCenterScale → RandomFlip → RandomHalfBody → RandomBBoxTransform → TopdownAffine``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from posekit.skeletons import Skeleton

__all__ = [
    "CropSample",
    "TopDownAugment",
    "WholeImageAffine",
    "adjust_color",
    "apply_affine",
    "box_to_center_scale",
    "color_jitter",
    "crop_matrix_float32",
    "crop_to_image",
    "fix_aspect_ratio",
    "flip_box_xywh",
    "flip_image",
    "flip_keypoints",
    "get_affine_matrix",
    "half_body_center_scale",
    "upper_lower_ids",
    "warp_image",
]

# Name tokens that put a keypoint in the upper or the lower half of the body (half-body
# augmentation). Matched against whole "_"-separated tokens, so "forearm" is not an "ear".
_UPPER_TOKENS = frozenset({
    "nose", "eye", "ear", "mouth", "chin", "head", "neck", "thorax", "shoulder", "elbow",
    "wrist", "hand", "finger", "thumb",
})  # fmt: skip
_LOWER_TOKENS = frozenset({"pelvis", "hip", "knee", "ankle", "heel", "toe", "foot"})


# ----------------------------------------------------------------------------- input checks


def _vec2(value: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (2,) or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be 2 finite numbers, got {value!r}")
    return arr


def _positive_vec2(value: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    arr = _vec2(value, name)
    if (arr <= 0).any():
        raise ValueError(f"{name} must be positive (w, h), got {tuple(arr.tolist())}")
    return arr


def _size(output_size: Sequence[int], name: str = "output_size") -> tuple[int, int]:
    if len(output_size) != 2 or any(int(s) != s or s < 1 for s in output_size):
        raise ValueError(f"{name} must be two positive integers (w, h), got {output_size!r}")
    return int(output_size[0]), int(output_size[1])


def _matrix(matrix: np.ndarray) -> np.ndarray:
    mat = np.asarray(matrix, dtype=np.float64)
    if mat.shape != (2, 3):
        raise ValueError(f"affine matrix must be (2, 3), got {mat.shape}")
    return mat


def _keypoints_k3(keypoints: np.ndarray, name: str = "keypoints") -> np.ndarray:
    kpts = np.asarray(keypoints, dtype=np.float32)
    if kpts.ndim != 2 or kpts.shape[1] != 3:
        raise ValueError(f"{name} must be (K, 3) x, y, v, got {kpts.shape}")
    return kpts


def _bgr_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be (H, W, 3) BGR uint8, got {image.shape} {image.dtype}")
    return image


def _flip_permutation(flip_indices: Sequence[int], num_keypoints: int) -> np.ndarray:
    perm = np.asarray(flip_indices, dtype=np.int64)
    if perm.shape != (num_keypoints,) or sorted(perm.tolist()) != list(range(num_keypoints)):
        raise ValueError(
            f"flip_indices must be a permutation of range({num_keypoints}) "
            f"(Skeleton.flip_indices), got {list(flip_indices)}"
        )
    return perm


# ----------------------------------------------------------------------------- boxes


def box_to_center_scale(
    bbox_xywh: Sequence[float] | np.ndarray, *, padding: float = 1.25
) -> tuple[np.ndarray, np.ndarray]:
    """COCO box (x, y, w, h) → centre (x, y) and padded size (w, h), both (2,) float64 pixels.

    The ×1.25 margin is MMPose's ``GetBBoxCenterScale`` default, so limbs just outside a tight
    detector box stay in the crop. Computed in float32 from the corners, as MMPose's
    ``bbox_xyxy2cs`` (see :func:`crop_matrix_float32` for why the last bits matter).
    """
    box = np.asarray(bbox_xywh, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(f"bbox_xywh must be 4 finite numbers (x, y, w, h), got {bbox_xywh!r}")
    if box[2] <= 0 or box[3] <= 0:
        raise ValueError(f"bbox_xywh must have positive width and height, got {box.tolist()}")
    if padding <= 0:
        raise ValueError(f"padding must be positive, got {padding}")
    corners = np.concatenate([box[:2], box[:2] + box[2:]]).astype(np.float32)  # x1, y1, x2, y2
    center = (corners[:2] + corners[2:]) * np.float32(0.5)
    scale = (corners[2:] - corners[:2]) * np.float32(padding)
    return center.astype(np.float64), scale.astype(np.float64)


def fix_aspect_ratio(scale: Sequence[float] | np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow the shorter side of ``scale`` (w, h) so that w / h == ``aspect_ratio``.

    The crop then never squashes the person; MMPose's ``TopdownAffine`` rule.
    """
    s = _vec2(scale, "scale")
    if aspect_ratio <= 0:
        raise ValueError(f"aspect_ratio must be positive, got {aspect_ratio}")
    w, h = s
    if w > h * aspect_ratio:
        return np.array([w, w / aspect_ratio])
    return np.array([h * aspect_ratio, h])


def flip_box_xywh(bbox_xywh: Sequence[float] | np.ndarray, image_width: int) -> np.ndarray:
    """Mirror a COCO box (x, y, w, h) left-right with the same ``x' = W - 1 - x`` map as points.

    The right edge ``x + w`` becomes the new left edge, so a point inside the box stays inside.
    """
    box = np.asarray(bbox_xywh, dtype=np.float64)
    if box.shape != (4,):
        raise ValueError(f"bbox_xywh must be (4,) x, y, w, h, got {box.shape}")
    return np.array([image_width - 1 - (box[0] + box[2]), box[1], box[2], box[3]])


# ----------------------------------------------------------------------------- affine


def _rotation(rot_deg: float) -> np.ndarray:
    """2×2 matrix turning image content counter-clockwise on screen by ``rot_deg`` (y down)."""
    t = np.deg2rad(rot_deg)
    c, s = np.cos(t), np.sin(t)
    # With y pointing down, [[c, s], [-s, c]] is a counter-clockwise turn as seen on screen
    # (cv2.getRotationMatrix2D's linear part).
    return np.array([[c, s], [-s, c]])


def get_affine_matrix(
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    rot_deg: float,
    output_size: Sequence[int],
    *,
    shift: Sequence[float] = (0.0, 0.0),
    inverse: bool = False,
    udp: bool = False,
) -> np.ndarray:
    """2×3 float64 matrix mapping image pixels to crop pixels (crop → image with ``inverse``).

    The box of size ``scale`` (w, h) around ``center + shift * scale`` fills the ``output_size``
    (w, h) crop, turned by ``rot_deg`` (positive = content counter-clockwise on screen). Plain:
    centre → out / 2, out / scale per pixel (MMPose ``get_warp_matrix``); ``udp``: centre →
    (out - 1) / 2, (out - 1) / scale per pixel (UDP, Huang et al. CVPR 2020). Each axis has its
    own factor; after :func:`fix_aspect_ratio` they are equal, as in MMPose.
    """
    c = _vec2(center, "center") + _vec2(shift, "shift") * _positive_vec2(scale, "scale")
    s = np.asarray(scale, dtype=np.float64)
    out_w, out_h = _size(output_size)
    if udp:
        if out_w < 2 or out_h < 2:
            raise ValueError(f"udp needs an output of at least 2×2 pixels, got {output_size}")
        factor = np.array([(out_w - 1) / s[0], (out_h - 1) / s[1]])
        target = np.array([(out_w - 1) / 2.0, (out_h - 1) / 2.0])
    else:
        factor = np.array([out_w / s[0], out_h / s[1]])
        target = np.array([out_w / 2.0, out_h / 2.0])
    rot = _rotation(float(rot_deg))
    if not inverse:
        # q = D·R·(p − c) + t
        linear = factor[:, None] * rot
        return np.concatenate([linear, (target - linear @ c)[:, None]], axis=1)
    # p = Rᵀ·D⁻¹·(q − t) + c, the closed-form inverse of the line above.
    linear = rot.T / factor[None, :]
    return np.concatenate([linear, (c - linear @ target)[:, None]], axis=1)


def crop_matrix_float32(
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    rot_deg: float,
    output_size: Sequence[int],
    *,
    udp: bool = False,
) -> np.ndarray:
    """:func:`get_affine_matrix` computed as MMPose computes a top-down crop: from float32 centre
    and scale, through three float32 points and ``cv2.getAffineTransform`` (``get_warp_matrix``)
    or as float32 entries (``get_udp_warp_matrix``).

    It differs from the float64 matrix by about 1e-5 pixels, which is enough to move some
    samples of the 1/32-pixel grid of :func:`warp_image`; computed this way a crop equals
    MMPose's pixel for pixel. ``scale`` must have the output's aspect ratio
    (:func:`fix_aspect_ratio`): MMPose's three points take the scale from the width alone.
    """
    c = _vec2(center, "center").astype(np.float32)
    s = _positive_vec2(scale, "scale").astype(np.float32)
    out_w, out_h = _size(output_size)
    if udp:
        exact = get_affine_matrix(c.astype(np.float64), s.astype(np.float64), rot_deg,
                                  (out_w, out_h), udp=True)
        return exact.astype(np.float32).astype(np.float64)
    t = np.deg2rad(rot_deg)
    # MMPose's three points: the centre, a point half a box width left of it (turned by the
    # rotation), and the second turned 90° about the first; the same three in the crop.
    src_dir = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]]) @ np.array(
        [s[0] * -0.5, 0.0])
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = c
    src[1] = c + src_dir
    dst[0] = (out_w * 0.5, out_h * 0.5)
    dst[1] = dst[0] + np.array([out_w * -0.5, 0.0])
    for pts in (src, dst):
        d = pts[0] - pts[1]
        pts[2] = pts[1] + np.r_[-d[1], d[0]]
    return cv2.getAffineTransform(src, dst)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2) points through a 2×3 affine matrix; returns (..., 2) float64."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape[-1:] != (2,):
        raise ValueError(f"points must be (..., 2), got {pts.shape}")
    mat = _matrix(matrix)
    return pts @ mat[:, :2].T + mat[:, 2]


def crop_to_image(
    points: np.ndarray,
    center: Sequence[float] | np.ndarray,
    scale: Sequence[float] | np.ndarray,
    rotation: float,
    output_size: Sequence[int],
    *,
    udp: bool = False,
) -> np.ndarray:
    """Map (..., 2) crop-pixel predictions back to (..., 2) image pixels.

    The exact inverse of the crop made with the same ``center``, ``scale`` (after
    :func:`fix_aspect_ratio`), ``rotation`` and ``udp``.
    """
    inv = get_affine_matrix(center, scale, rotation, output_size, inverse=True, udp=udp)
    return apply_affine(points, inv)


def warp_image(
    image: np.ndarray,
    matrix: np.ndarray,
    output_size: Sequence[int],
    *,
    border_value: float | Sequence[float] = 0,
) -> np.ndarray:
    """Crop (bilinear, constant border); (h, w[, C]) of the input dtype.

    The sampling grid is OpenCV 4's ``warpAffine`` grid, computed here and passed to
    ``cv2.remap``: source positions in 1/1024 pixel, rounded to the 1/32-pixel interpolation
    table. OpenCV 5's ``warpAffine`` samples differently (up to a few grey levels on a quarter of
    a crop's pixels), so calling it directly would make crops, and the losses of a training step,
    depend on the installed OpenCV; this way they equal MMPose's under OpenCV 4.
    """
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        got = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"image must be an (H, W) or (H, W, C) array, got {got}")
    out_w, out_h = _size(output_size)
    if isinstance(border_value, Sequence):
        border = tuple(float(v) for v in border_value)
    else:
        border = (float(border_value),) * 4
    map_xy, map_frac = _warp_grid(_matrix(matrix), out_w, out_h)
    crop = cv2.remap(image, map_xy, map_frac, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    if image.ndim == 3 and crop.ndim == 2:  # OpenCV drops a single channel axis
        crop = crop[:, :, None]
    return crop


def _warp_grid(matrix: np.ndarray, out_w: int, out_h: int) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV 4 ``warpAffine``'s fixed-point source grid for an image → output ``matrix``:
    (out_h, out_w, 2) int16 whole source pixels and (out_h, out_w) uint16 indices of the
    1/32 × 1/32 bilinear weight table, the maps ``cv2.remap`` takes."""
    # The output → source map, inverted as warpAffine inverts it.
    a, b, c = matrix[0]
    d, e, f = matrix[1]
    det = a * e - b * d
    det = 1.0 / det if det != 0 else 0.0
    a, b, d, e = e * det, -b * det, -d * det, a * det
    c, f = -a * c - b * f, -d * c - e * f
    xs, ys = np.arange(out_w, dtype=np.float64), np.arange(out_h, dtype=np.float64)
    # Positions in 1/1024 pixel (AB_BITS = 10), rounded half to even like cvRound, then shifted
    # to 1/32 pixel (INTER_BITS = 5) with OpenCV's rounding offset of half a table step.
    x = (np.rint((b * ys + c) * 1024).astype(np.int64)[:, None] + 16
         + np.rint(a * xs * 1024).astype(np.int64)[None, :]) >> 5  # (h, w)
    y = (np.rint((e * ys + f) * 1024).astype(np.int64)[:, None] + 16
         + np.rint(d * xs * 1024).astype(np.int64)[None, :]) >> 5
    whole = np.stack([x >> 5, y >> 5], axis=-1).clip(-32768, 32767).astype(np.int16)
    frac = ((y & 31) * 32 + (x & 31)).astype(np.uint16)
    return whole, frac


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2×3 matrix of ``outer ∘ inner`` (``inner`` applied first)."""
    return np.concatenate(
        [outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]], axis=1
    )


def _hflip_matrix(image_width: int) -> np.ndarray:
    """2×3 matrix of the left-right mirror ``x' = W - 1 - x``."""
    return np.array([[-1.0, 0.0, image_width - 1.0], [0.0, 1.0, 0.0]])


# ----------------------------------------------------------------------------- flip


def flip_image(image: np.ndarray) -> np.ndarray:
    """Mirror an (H, W[, C]) image left-right: new pixel x is old pixel W - 1 - x."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        got = getattr(image, "shape", type(image).__name__)
        raise ValueError(f"image must be an (H, W) or (H, W, C) array, got {got}")
    return np.ascontiguousarray(image[:, ::-1])


def flip_keypoints(
    keypoints: np.ndarray, image_width: int, flip_indices: Sequence[int]
) -> np.ndarray:
    """Mirror (..., K, 3) keypoints: ``x' = W - 1 - x`` and left/right labels swapped.

    ``flip_indices`` is :attr:`Skeleton.flip_indices`; the third column is carried along with
    its point. Returns a new float32 array.
    """
    kpts = np.asarray(keypoints, dtype=np.float32)
    if kpts.ndim < 2 or kpts.shape[-1] != 3:
        raise ValueError(f"keypoints must be (..., K, 3), got {kpts.shape}")
    perm = _flip_permutation(flip_indices, kpts.shape[-2])
    out = kpts[..., perm, :].copy()  # (..., K, 3), twin j takes the place of i
    out[..., 0] = image_width - 1 - out[..., 0]
    return out


# ----------------------------------------------------------------------------- half body


def upper_lower_ids(skeleton: Skeleton) -> tuple[list[int], list[int]]:
    """Split a skeleton's keypoints into upper- and lower-body indices by their names.

    Head, neck, arms and hands are upper; pelvis, hips, legs and feet are lower; a name with
    neither kind of token is in neither list. For COCO-17 this gives MMPose's 0–10 / 11–16.
    """
    upper, lower = [], []
    for i, name in enumerate(skeleton.keypoint_names):
        tokens = set(name.lower().replace("-", "_").replace(" ", "_").split("_"))
        if tokens & _UPPER_TOKENS:
            upper.append(i)
        elif tokens & _LOWER_TOKENS:
            lower.append(i)
    return upper, lower


def half_body_center_scale(
    keypoints: np.ndarray,
    upper_ids: Sequence[int],
    lower_ids: Sequence[int],
    rng: np.random.Generator,
    *,
    min_total_keypoints: int = 9,
    min_upper_keypoints: int = 2,
    min_lower_keypoints: int = 3,
    upper_prob: float = 0.7,
    padding: float = 1.5,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Centre and scale of a box around the labelled upper or lower body, or None.

    MMPose 1.x ``RandomHalfBody`` rules and defaults: needs ``min_total_keypoints`` labelled
    points; picks the upper half with probability ``upper_prob`` when both halves have enough
    points, else whichever has; the box spans the chosen points ×``padding``. posekit centres
    the box on the points' extent (MMPose uses their mean, which can leave a point outside).
    None also when the chosen points span under one pixel both ways.
    """
    kpts = _keypoints_k3(keypoints)
    for name, ids in (("upper_ids", upper_ids), ("lower_ids", lower_ids)):
        if any(not 0 <= i < len(kpts) for i in ids):
            raise ValueError(f"{name} must index the {len(kpts)} keypoints, got {list(ids)}")
    labelled = kpts[:, 2] > 0
    if int(labelled.sum()) < min_total_keypoints:
        return None
    upper = [i for i in upper_ids if labelled[i]]
    lower = [i for i in lower_ids if labelled[i]]
    upper_ok = len(upper) >= min_upper_keypoints
    lower_ok = len(lower) >= min_lower_keypoints
    if upper_ok and lower_ok:
        chosen = upper if rng.random() < upper_prob else lower
    elif upper_ok:
        chosen = upper
    elif lower_ok:
        chosen = lower
    else:
        return None
    xy = kpts[chosen, :2].astype(np.float64)  # (k, 2)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    if ((hi - lo) < 1.0).all():
        return None
    return (lo + hi) / 2.0, (hi - lo) * padding


# ----------------------------------------------------------------------------- colour


def adjust_color(
    image: np.ndarray,
    *,
    brightness: float = 1.0,
    contrast: float = 1.0,
    saturation: float = 1.0,
    hue_shift: float = 0.0,
) -> np.ndarray:
    """Deterministic colour change of a BGR uint8 image; factors of 1 and a shift of 0 are a no-op.

    brightness scales all channels; contrast blends with the mean grey level; saturation scales
    S and ``hue_shift`` (in turns, 1 = 360°) rotates H in HSV. Works in float, rounds once.
    """
    img = _bgr_uint8(image)
    if min(brightness, contrast, saturation) < 0:
        raise ValueError(
            f"brightness, contrast and saturation must be >= 0, got "
            f"{brightness}, {contrast}, {saturation}"
        )
    out = img.astype(np.float32)
    if brightness != 1.0:
        out = np.clip(out * brightness, 0, 255)
    if contrast != 1.0:
        # Blend with the mean luma (ITU-R 601 weights, as cv2.COLOR_BGR2GRAY).
        mean = float((out @ np.array([0.114, 0.587, 0.299], dtype=np.float32)).mean())
        out = np.clip((out - mean) * contrast + mean, 0, 255)
    if saturation != 1.0 or hue_shift != 0.0:
        # Float HSV: H in degrees [0, 360), S and V in [0, 1], so hue moves continuously.
        hsv = cv2.cvtColor(out / 255.0, cv2.COLOR_BGR2HSV)
        hsv[..., 0] = np.mod(hsv[..., 0] + 360.0 * hue_shift, 360.0)
        hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 1)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def color_jitter(
    image: np.ndarray,
    rng: np.random.Generator,
    brightness: float = 0.2,
    contrast: float = 0.2,
    saturation: float = 0.2,
    hue: float = 0.02,
) -> np.ndarray:
    """Random brightness, contrast, saturation and hue of a BGR uint8 image (new array).

    Factors are drawn from U[1 - a, 1 + a] and the hue shift from U[-hue, hue] turns
    (torchvision ``ColorJitter`` semantics), then applied by :func:`adjust_color`.
    """
    _bgr_uint8(image)
    if min(brightness, contrast, saturation) < 0 or not 0 <= hue <= 0.5:
        raise ValueError(
            f"color_jitter needs brightness, contrast, saturation >= 0 and 0 <= hue <= 0.5, "
            f"got {brightness}, {contrast}, {saturation}, {hue}"
        )
    b = rng.uniform(max(0.0, 1 - brightness), 1 + brightness)
    c = rng.uniform(max(0.0, 1 - contrast), 1 + contrast)
    s = rng.uniform(max(0.0, 1 - saturation), 1 + saturation)
    h = rng.uniform(-hue, hue)
    return adjust_color(image, brightness=b, contrast=c, saturation=s, hue_shift=h)


# ----------------------------------------------------------------------------- augmentation


def _truncated_normal(rng: np.random.Generator, size: int) -> np.ndarray:
    """Standard normal truncated to [-1, 1] by rejection (MMPose samples scipy's truncnorm)."""
    z = rng.standard_normal(size)
    bad = np.abs(z) > 1
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 1
    return z


@dataclass(frozen=True)
class CropSample:
    """One person cropped for a top-down model.

    Attributes:
        image: (h, w, 3) BGR uint8 crop of size ``input_size``.
        keypoints: (K, 3) float32 x, y in crop pixels and v; v is 0 for unlabelled points and
            for points outside the crop (not within a crop pixel).
        matrix: (2, 3) float64 map from original image pixels to crop pixels (flip included).
        center, scale: (2,) crop box centre and size (w, h, aspect-fixed) in image pixels, in
            the mirrored image's frame when ``flipped``.
        rotation: degrees, positive = content counter-clockwise.
        flipped: whether the person was mirrored (keypoint labels swapped).
    """

    image: np.ndarray
    keypoints: np.ndarray
    matrix: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    rotation: float
    flipped: bool


@dataclass(frozen=True)
class TopDownAugment:
    """Random flip, half-body, shift/scale/rotate and colour jitter around one person, then crop.

    Defaults are MMPose 1.x's (``RandomFlip``, ``RandomHalfBody``, ``RandomBBoxTransform``,
    ``GetBBoxCenterScale``); ``train=False`` is the plain padded, aspect-fixed crop.
    """

    flip_prob: float = 0.5  # RandomFlip(prob=0.5)
    half_body_prob: float = 0.3  # RandomHalfBody(prob=0.3); thresholds below
    half_body_min_keypoints: int = 9  # RandomHalfBody(min_total_keypoints=9)
    half_body_upper_prob: float = 0.7  # RandomHalfBody(upper_prioritized_prob=0.7)
    half_body_padding: float = 1.5  # RandomHalfBody(padding=1.5)
    shift_factor: float = 0.16  # shift ~ truncnorm[-1, 1] · 0.16 · scale
    shift_prob: float = 0.3
    scale_range: tuple[float, float] = (0.5, 1.5)  # factor ~ truncnorm over this range
    scale_prob: float = 1.0
    rotate_factor: float = 80.0  # degrees; rotation ~ truncnorm[-1, 1] · 80
    rotate_prob: float = 0.6
    color_jitter: bool = True  # color_jitter() defaults, on the crop
    padding: float = 1.25  # GetBBoxCenterScale(padding=1.25)
    udp: bool = False  # UDP crop matrix (ViTPose); plain MMPose matrix otherwise

    def __post_init__(self) -> None:
        for name in ("flip_prob", "half_body_prob", "half_body_upper_prob", "shift_prob",
                     "scale_prob", "rotate_prob"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"TopDownAugment.{name} must be in [0, 1], got {p}")
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"TopDownAugment.scale_range must be 0 < lo <= hi, got {lo, hi}")
        if self.shift_factor < 0 or self.rotate_factor < 0:
            raise ValueError(
                f"TopDownAugment.shift_factor and rotate_factor must be >= 0, got "
                f"{self.shift_factor}, {self.rotate_factor}"
            )

    def __call__(
        self,
        image: np.ndarray,
        keypoints: np.ndarray,
        bbox_xywh: Sequence[float] | np.ndarray,
        *,
        input_size: Sequence[int],
        flip_indices: Sequence[int] | None = None,
        upper_ids: Sequence[int] = (),
        lower_ids: Sequence[int] = (),
        rng: np.random.Generator | None = None,
        train: bool = True,
    ) -> CropSample:
        """Crop ``image`` (H, W, 3 BGR uint8) around one person given (K, 3) image keypoints and
        a COCO box; ``input_size`` is the model's (w, h).

        Training needs ``rng``, ``flip_indices`` when ``flip_prob > 0`` and the half-body split
        (:func:`upper_lower_ids`) when ``half_body_prob > 0``.
        """
        img = _bgr_uint8(image)
        kpts = _keypoints_k3(keypoints)
        out_w, out_h = _size(input_size, "input_size")
        center, scale = box_to_center_scale(bbox_xywh, padding=self.padding)
        rotation, flipped = 0.0, False
        if train:
            if rng is None:
                raise ValueError("TopDownAugment(train=True) needs rng (np.random.Generator)")
            if self.flip_prob > 0 and flip_indices is None:
                raise ValueError("TopDownAugment: flip_prob > 0 needs flip_indices")
            if self.half_body_prob > 0 and not (upper_ids or lower_ids):
                raise ValueError(
                    "TopDownAugment: half_body_prob > 0 needs upper_ids/lower_ids "
                    "(see upper_lower_ids(skeleton))"
                )
            if rng.random() < self.flip_prob:
                assert flip_indices is not None  # checked above
                flipped = True
                kpts = flip_keypoints(kpts, img.shape[1], flip_indices)
                center = np.array([img.shape[1] - 1 - center[0], center[1]])
            if self.half_body_prob > 0 and rng.random() < self.half_body_prob:
                half = half_body_center_scale(
                    kpts, upper_ids, lower_ids, rng,
                    min_total_keypoints=self.half_body_min_keypoints,
                    upper_prob=self.half_body_upper_prob, padding=self.half_body_padding,
                )
                if half is not None:
                    center, scale = half
            center, scale, rotation = self._jitter_box(center, scale, rng)
        scale = fix_aspect_ratio(scale, out_w / out_h)
        matrix = crop_matrix_float32(center, scale, rotation, (out_w, out_h), udp=self.udp)
        kpts = kpts.copy()
        kpts[:, :2] = apply_affine(kpts[:, :2], matrix)
        if flipped:
            matrix = _compose(matrix, _hflip_matrix(img.shape[1]))
        crop = warp_image(img, matrix, (out_w, out_h))
        if train and self.color_jitter:
            assert rng is not None  # checked above
            crop = color_jitter(crop, rng)
        # A point is kept when it falls within a crop pixel: -0.5 <= x < w - 0.5 (pixel centres).
        inside = (
            (kpts[:, 0] >= -0.5) & (kpts[:, 0] < out_w - 0.5)
            & (kpts[:, 1] >= -0.5) & (kpts[:, 1] < out_h - 0.5)
        )
        kpts[~inside, 2] = 0
        return CropSample(crop, kpts, matrix, center, scale, float(rotation), flipped)

    def _jitter_box(
        self, center: np.ndarray, scale: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """MMPose ``RandomBBoxTransform``: truncated-normal shift, resize and rotation."""
        offset = _truncated_normal(rng, 2) * self.shift_factor * scale
        if rng.random() >= self.shift_prob:
            offset = np.zeros(2)
        lo, hi = self.scale_range
        factor = float(_truncated_normal(rng, 1)[0]) * (hi - lo) / 2 + (hi + lo) / 2
        if rng.random() >= self.scale_prob:
            factor = 1.0
        rotation = float(_truncated_normal(rng, 1)[0]) * self.rotate_factor
        if rng.random() >= self.rotate_prob:
            rotation = 0.0
        return center + offset, scale * factor, rotation


@dataclass(frozen=True)
class WholeImageAffine:
    """Random scale, rotation and shift of a whole image fitted into the network input, for the
    models trained on full images (bottom-up OpenPose, one-stage RTMO).

    The image is fitted into ``output_size`` (w, h) keeping its aspect ratio, factor
    s = min(out_w / w, out_h / h), either centred (``align="center"``: the image centre
    ((w − 1) / 2, (h − 1) / 2) lands on the output's, pixel centres as in this module), at the
    top-left (``align="top_left"``, the YOLOX / RTMO letterbox), or centred as MMPose's
    ``BottomupRandomAffine`` does (``align="mmpose"``: (w / 2, h / 2) onto (out_w / 2, out_h / 2),
    the matrix of :func:`crop_matrix_float32`). With an ``rng`` it is then
    scaled by f ~ U(scale_range) and turned by r degrees (positive = content counter-clockwise
    on screen) about the output centre ((out − 1) / 2 centred, out / 2 otherwise), and shifted
    by t ~ U(−shift, shift) · (out_w, out_h). r ~ U(−rotate_deg, rotate_deg) for
    ``rotation="uniform"``, N(0, (rotate_deg / 2)²) clipped to ±rotate_deg for ``"normal"``.
    ``rng`` is drawn in this order: f, r, then t only when ``shift > 0``.
    """

    output_size: tuple[int, int]
    scale_range: tuple[float, float] = (1.0, 1.0)
    rotate_deg: float = 0.0
    rotation: str = "uniform"  # "uniform" or "normal"
    shift: float = 0.0  # fraction of the output size
    align: str = "center"  # "center" or "top_left"

    def __post_init__(self) -> None:
        _size(self.output_size)
        if self.rotation not in ("uniform", "normal"):
            raise ValueError(f"WholeImageAffine.rotation must be 'uniform' or 'normal', got "
                             f"{self.rotation!r}")
        if self.align not in ("center", "top_left", "mmpose"):
            raise ValueError(f"WholeImageAffine.align must be 'center', 'top_left' or 'mmpose', "
                             f"got {self.align!r}")

    def matrix(self, image_size: Sequence[int], rng: np.random.Generator | None = None
               ) -> np.ndarray:
        """2×3 float64 map from image pixels (``image_size`` = (w, h)) to output pixels; the
        plain fit when ``rng`` is None."""
        w, h = _size(image_size, "image_size")
        out_w, out_h = _size(self.output_size)
        fit = min(out_w / w, out_h / h)
        factor, angle, shift = 1.0, 0.0, np.zeros(2)
        if rng is not None:
            factor = rng.uniform(*self.scale_range)
            if self.rotation == "normal":
                angle = float(np.clip(rng.normal(0, self.rotate_deg / 2), -self.rotate_deg,
                                      self.rotate_deg))
            else:
                angle = rng.uniform(-self.rotate_deg, self.rotate_deg)
            if self.shift > 0:
                shift = rng.uniform(-self.shift, self.shift, 2) * (out_w, out_h)
        if self.align == "center":
            mat = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, fit * factor)
            mat[:, 2] += ((out_w - 1) / 2 - (w - 1) / 2, (out_h - 1) / 2 - (h - 1) / 2)
            mat[:, 2] += shift
            return mat
        if self.align == "mmpose":  # the long side fills the output, centred
            aspect = out_w / out_h
            scale = (w, w / aspect) if w > h * aspect else (h * aspect, h)
            mat = crop_matrix_float32((w / 2, h / 2), scale, 0.0, (out_w, out_h))
        else:
            mat = np.array([[fit, 0, 0], [0, fit, 0]], np.float64)  # letterbox
        if rng is None:
            return mat
        turn = cv2.getRotationMatrix2D((out_w / 2, out_h / 2), angle, factor)
        turn[:, 2] += shift
        return turn @ np.vstack([mat, [0, 0, 1]])

