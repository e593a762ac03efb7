"""Gaussian heatmap codec: keypoints ↔ one confidence map per keypoint (talk §7, §17).

Encoding draws S*_k(p) = max_n exp(−‖p − x_{n,k}‖² / (2σ²)) for every keypoint k, max over the
people n of a sample (talk §17). The talk writes exp(−‖p − x‖²/σ²); MMPose, and ``sigma`` here,
use exp(−d²/(2σ²)), so the talk's σ² is 2σ² in our notation (σ = 2 heatmap px by default,
MMPose's value for 64×48 maps). Decoding takes each map's argmax and refines it below the pixel.

Numbers equal MMPose 1.x (``MSRAHeatmap`` and ``UDPHeatmap`` with ``heatmap_type='gaussian'``),
checked against golden arrays from the real MMPose in ``tests/codecs/``:

=============================================  ==============================================
posekit                                        MMPose
=============================================  ==============================================
``refine="quarter"``                           ``MSRAHeatmap(unbiased=False)``
``unbiased_encoding=True, refine="dark"``      ``MSRAHeatmap(unbiased=True)`` (DARK)
``udp=True, refine="dark"``                    ``UDPHeatmap(heatmap_type='gaussian')``
=============================================  ==============================================

Coordinates follow :mod:`posekit.structures`: integer coordinates are pixel centres, in the
input crop and in the heatmap alike. The heatmap ↔ input mapping lives in :meth:`to_heatmap` /
:meth:`to_input` and nothing else scales coordinates:

- ``udp=False`` (MSRA): x_hm = x_in / s with s = input / heatmap size. Under the pixel-centre
  convention this is the biased mapping UDP (Huang et al., CVPR 2020) measured: the centre of the
  last input pixel lands at hm − 1/s, not hm − 1, an offset that flip-test averaging turns into
  error. Kept for parity with MSRA/DARK-trained models and their crop transform.
- ``udp=True``: x_hm = x_in · (hm − 1) / (in − 1), which maps the first and last pixel centres
  onto each other (UDP). MMPose's ``UDPHeatmap.decode`` instead returns x_hm · in / (hm − 1),
  a value scaled for its generic ``/ input_size * bbox_scale`` crop-to-image step; posekit
  returns true crop pixels, which the inverse UDP crop matrix maps to the same image point.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "HeatmapCodec", "HeatmapTargets", "REFINE_MODES", "gaussian_blur", "opencv_gaussian_kernel",
]

REFINE_MODES = ("none", "quarter", "dark")

# OpenCV's fixed kernels for ksize ≤ 9 when sigma ≤ 0 (cv::getGaussianKernel), which
# cv2.GaussianBlur(ksize, 0) — and hence MMPose's DARK blur — uses instead of a sampled Gaussian.
_OPENCV_SMALL_KERNELS = {
    1: (1.0,),
    3: (0.25, 0.5, 0.25),
    5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
    9: tuple(v / 256 for v in (4, 13, 30, 51, 60, 51, 30, 13, 4)),
}


@dataclass
class HeatmapTargets:
    """Training targets of one batch.

    Attributes:
        heatmaps: (B, K[+1], h, w) float32 Gaussian maps; the optional last channel is background.
        weights: (B, K) float32 keypoint weights; 0 marks a keypoint the loss must ignore.
    """

    heatmaps: Tensor
    weights: Tensor


def opencv_gaussian_kernel(kernel_size: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """The 1-D kernel of ``cv2.GaussianBlur(ksize, sigmaX=0)``: OpenCV's table for ksize ≤ 9,
    else a normalised Gaussian with σ = 0.3·((ksize − 1)/2 − 1) + 0.8 (OpenCV's rule)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"blur kernel size must be a positive odd integer, got {kernel_size}")
    if kernel_size in _OPENCV_SMALL_KERNELS:
        return torch.tensor(_OPENCV_SMALL_KERNELS[kernel_size], dtype=dtype)
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8
    x = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) / 2
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).to(dtype)


def gaussian_blur(heatmaps: Tensor, kernel_size: int = 11) -> Tensor:
    """Blur each (h, w) map with zero padding and rescale it to keep its maximum (DARK's
    modulation: the blurred map's peak is restored to the raw peak value).

    Args:
        heatmaps: (B, K, h, w) float maps.
        kernel_size: odd OpenCV kernel size; 11 matches σ = 2 training targets, 17 σ = 3.
    Returns:
        (B, K, h, w) blurred maps; an all-zero map stays all zero.
    """
    h, w = heatmaps.shape[-2:]
    kernel = opencv_gaussian_kernel(kernel_size, heatmaps.dtype).to(heatmaps.device)
    # separable like cv2.sepFilter2D, rows then columns, each as a product with a banded matrix
    # (zero padding = MMPose's zero border); ~10× faster than conv2d on many small CPU maps
    x = heatmaps @ _band_matrix(w, kernel)  # (B, K, h, w): filtered along x
    x = _band_matrix(h, kernel).T @ x  # (B, K, h, w): then along y
    raw_max = heatmaps.amax(dim=(2, 3), keepdim=True)
    blur_max = x.amax(dim=(2, 3), keepdim=True)
    nonzero = blur_max != 0
    ratio = torch.where(nonzero, raw_max / torch.where(nonzero, blur_max, 1.0), 0.0)
    return x * ratio


def _band_matrix(n: int, kernel: Tensor) -> Tensor:
    """(n, n) matrix M with (v @ M)[j] = Σ_t kernel[t] · v[j + t − r], zero outside [0, n)."""
    r = kernel.numel() // 2
    i = torch.arange(n, device=kernel.device)
    offset = i[:, None] - i[None, :] + r  # (n, n): kernel tap linking input i to output j
    inside = (offset >= 0) & (offset <= 2 * r)
    return torch.where(inside, kernel[offset.clamp(0, 2 * r)], 0.0)


def _gather(flat: Tensor, x: Tensor, y: Tensor, width: int) -> Tensor:
    """Values of (B, K, h·w) maps at integer (B, K) pixel indices (callers keep them in range)."""
    return flat.gather(2, (y * width + x).unsqueeze(-1)).squeeze(-1)


class HeatmapCodec:
    """Encode keypoints as Gaussian heatmaps and decode heatmaps back to keypoints.

    Args:
        input_size: (w, h) of the network input (the crop), like MMPose.
        heatmap_size: (w, h) of the heatmaps.
        sigma: Gaussian σ in heatmap pixels, MMPose's convention exp(−d²/(2σ²)).
        refine: sub-pixel decoding: ``"none"`` (argmax), ``"quarter"`` (MSRA: 0.25 px towards
            the higher neighbour) or ``"dark"`` (DARK's Taylor step on the blurred log map; with
            ``udp=True`` UDP's variant of it).
        udp: unbiased data processing: the (in − 1)/(hm − 1) mapping and float Gaussian centres
            inside the 3σ box of the rounded centre.
        unbiased_encoding: DARK encoding: float Gaussian centres over the whole map instead of
            the 3σ box around the rounded centre.
        blur_kernel: DARK blur kernel size (11 for σ = 2, 17 for σ = 3).
        background: append CPM's background map (talk §5: P + 1 belief maps),
            1 − max over the keypoint maps clipped to [0, 1]; decode drops it.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float = 2.0,
        *,
        refine: str = "quarter",
        udp: bool = False,
        unbiased_encoding: bool = False,
        blur_kernel: int = 11,
        background: bool = False,
    ) -> None:
        self.input_size = self._check_size("input_size", input_size, udp)
        self.heatmap_size = self._check_size("heatmap_size", heatmap_size, udp)
        if not (isinstance(sigma, numbers.Real) and math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        if refine not in REFINE_MODES:
            raise ValueError(f"refine must be one of {REFINE_MODES}, got {refine!r}")
        opencv_gaussian_kernel(blur_kernel)  # validates the size
        self.sigma = float(sigma)
        self.refine = refine
        self.udp = bool(udp)
        self.unbiased_encoding = bool(unbiased_encoding)
        self.blur_kernel = int(blur_kernel)
        self.background = bool(background)
        # input pixels per heatmap pixel; _scale_tensor rounds it to float32 like MMPose's
        # scale_factor, so encode divides by the very same number
        (iw, ih), (hw, hh) = self.input_size, self.heatmap_size
        if self.udp:
            self._scale = ((iw - 1) / (hw - 1), (ih - 1) / (hh - 1))
        else:
            self._scale = (iw / hw, ih / hh)

    @staticmethod
    def _check_size(name: str, size: tuple[int, int], udp: bool) -> tuple[int, int]:
        smallest = 2 if udp else 1
        if (
            not isinstance(size, tuple | list)
            or len(size) != 2
            or not all(isinstance(v, numbers.Integral) and v >= smallest for v in size)
        ):
            raise ValueError(f"{name} must be two integers (w, h) ≥ {smallest}, got {size!r}")
        return int(size[0]), int(size[1])

    def __repr__(self) -> str:
        return (
            f"HeatmapCodec(input_size={self.input_size}, heatmap_size={self.heatmap_size}, "
            f"sigma={self.sigma}, refine={self.refine!r}, udp={self.udp}, "
            f"unbiased_encoding={self.unbiased_encoding}, blur_kernel={self.blur_kernel}, "
            f"background={self.background})"
        )

    def out_channels(self, num_keypoints: int) -> int:
        """Channels a model must predict for ``num_keypoints`` keypoints (K, or K + 1)."""
        return num_keypoints + int(self.background)

    # ---- the one heatmap ↔ input mapping (module docstring) -------------------------------

    def _scale_tensor(self, xy: Tensor) -> Tensor:
        if not isinstance(xy, Tensor) or xy.shape[-1:] != (2,) or not xy.is_floating_point():
            got = tuple(xy.shape) if isinstance(xy, Tensor) else type(xy).__name__
            raise ValueError(f"xy must be a float tensor (..., 2), got {got}")
        return torch.tensor(self._scale, dtype=torch.float32, device=xy.device).to(xy.dtype)

    def to_heatmap(self, xy: Tensor) -> Tensor:
        """(..., 2) input pixels → heatmap pixels (pixel centres at integers in both)."""
        return xy / self._scale_tensor(xy)

    def to_input(self, xy: Tensor) -> Tensor:
        """(..., 2) heatmap pixels → input pixels; the inverse of :meth:`to_heatmap`."""
        return xy * self._scale_tensor(xy)

    # ---- encoding -----------------------------------------------------------------------

    def encode(self, keypoints: Tensor, visible: Tensor | None = None) -> HeatmapTargets:
        """Gaussian targets for a batch, people of one sample max-combined (talk §17).

        Args:
            keypoints: (B, N, K, 3) or (N, K, 3) x, y, v in input pixels; v = 0 (unlabelled)
                gets weight 0 and an empty map. Pad samples with fewer people with v = 0.
                (..., 2) without v is accepted: all labelled unless ``visible`` says otherwise.
            visible: optional (B, N, K) or (N, K) weights in [0, 1] replacing v (MMPose's
                ``keypoints_visible``): below 0.5 is not drawn, otherwise the value is the weight.
        Returns:
            :class:`HeatmapTargets` with a batch dimension (B = 1 for unbatched input). The
            weight is 0 for unlabelled keypoints and for keypoints whose 3σ box misses the map.
        """
        xy, vis = self._check_keypoints(keypoints, visible)  # (B, N, K, 2), (B, N, K)
        b, n, k = vis.shape
        w, h = self.heatmap_size
        sigma, radius = self.sigma, 3.0 * self.sigma  # the 3σ rule
        inf = math.inf
        mu = self.to_heatmap(xy)  # (B, N, K, 2) float centres in heatmap pixels
        # MSRA and UDP cut the Gaussian to the 3σ box of the centre rounded as MMPose does,
        # int(x + 0.5), i.e. truncation toward zero (so −0.7 rounds to 0); DARK draws the whole map.
        boxed = not self.unbiased_encoding
        box_centre = torch.trunc(mu + 0.5) if boxed else mu
        peak = mu if (self.udp or self.unbiased_encoding) else box_centre
        # MMPose's "Gaussian outside the map" rule: box [c − r, c + r + 1) misses [0, size).
        # Its edge case, right == 0 (c = −r − 1), keeps weight 1 with an empty map; kept for parity.
        left, right = box_centre - radius, box_centre + radius + 1
        if boxed:
            left, right = torch.trunc(left), torch.trunc(right)
        size = torch.tensor([w, h], dtype=mu.dtype, device=mu.device)
        outside = ((left >= size) | (right < 0)).any(dim=-1)  # (B, N, K)
        drawn = (vis >= 0.5) & ~outside
        weights = torch.where(drawn, vis, torch.zeros_like(vis)).amax(dim=1)  # (B, K)

        xs = torch.arange(w, dtype=mu.dtype, device=mu.device)
        ys = torch.arange(h, dtype=mu.dtype, device=mu.device)
        heatmaps = torch.zeros(b, k, h, w, dtype=torch.float32, device=mu.device)
        for i in range(n):  # one person at a time keeps memory at (B, K, h, w)
            dx2 = (xs - peak[:, i, :, 0, None]) ** 2  # (B, K, w)
            dy2 = (ys - peak[:, i, :, 1, None]) ** 2  # (B, K, h)
            if boxed:
                # |p − c| ≤ r per axis; equals MMPose's box when 3σ is an integer (σ = 1, 2, 3…).
                # For other σ MMPose's box and peak shift by a pixel (σ = 1.4 peaks at c − 1).
                dx2 = dx2.masked_fill((xs - box_centre[:, i, :, 0, None]).abs() > radius, inf)
                dy2 = dy2.masked_fill((ys - box_centre[:, i, :, 1, None]).abs() > radius, inf)
            skip = ~drawn[:, i, :, None]  # (B, K, 1); exp(−inf) = 0 draws nothing, even for NaN
            dx2, dy2 = dx2.masked_fill(skip, inf), dy2.masked_fill(skip, inf)
            g = torch.exp(-(dy2[..., :, None] + dx2[..., None, :]) / (2 * sigma**2))  # (B,K,h,w)
            heatmaps = torch.maximum(heatmaps, g)
        if self.background:
            # CPM's background belief map (talk §5): 1 − max over parts, in [0, 1]
            bg = (1.0 - heatmaps.amax(dim=1, keepdim=True)).clamp(0.0, 1.0)
            heatmaps = torch.cat([heatmaps, bg], dim=1)  # (B, K + 1, h, w)
        return HeatmapTargets(heatmaps=heatmaps, weights=weights)

    @staticmethod
    def _check_keypoints(keypoints: Tensor, visible: Tensor | None) -> tuple[Tensor, Tensor]:
        """Validate and batch: (B, N, K, 2) float32 xy and (B, N, K) float32 visibility."""
        if not isinstance(keypoints, Tensor):
            raise TypeError(f"keypoints must be a torch.Tensor, got {type(keypoints).__name__}")
        if keypoints.ndim not in (3, 4) or keypoints.shape[-1] not in (2, 3):
            raise ValueError(
                f"keypoints must be (B, N, K, 3) or (N, K, 3), got {tuple(keypoints.shape)}"
            )
        if not keypoints.is_floating_point():
            raise ValueError(f"keypoints must be a float tensor, got dtype {keypoints.dtype}")
        kpts = (keypoints if keypoints.ndim == 4 else keypoints[None]).float()
        if visible is None:
            if kpts.shape[-1] == 3:
                vis = (kpts[..., 2] > 0).float()
            else:
                vis = torch.ones(kpts.shape[:-1], device=kpts.device)
        else:
            if not isinstance(visible, Tensor):
                raise TypeError(f"visible must be a torch.Tensor, got {type(visible).__name__}")
            vis = visible if keypoints.ndim == 4 else visible[None]
            if vis.shape != kpts.shape[:-1]:
                raise ValueError(
                    f"visible must be {tuple(keypoints.shape[:-1])} like keypoints[..., 0], "
                    f"got {tuple(visible.shape)}"
                )
            vis = vis.float()
        return kpts[..., :2], vis

    # ---- decoding -----------------------------------------------------------------------

    def decode(self, heatmaps: Tensor) -> tuple[Tensor, Tensor]:
        """Keypoints at each map's maximum, refined below the pixel, in input pixels.

        Args:
            heatmaps: (B, K[+1], h, w) (or unbatched (K[+1], h, w)) predicted maps; the
                background channel, when the codec has one, is dropped.
        Returns:
            keypoints (B, K, 2) in input pixels and scores (B, K), the raw maximum. A map whose
            maximum is ≤ 0 has no keypoint: it decodes to heatmap (−1, −1) mapped to the input,
            unrefined (MMPose's convention), with that maximum as score.
        """
        hm = self._check_heatmaps(heatmaps)
        if self.background:
            hm = hm[:, :-1]
        w = hm.shape[-1]
        scores, index = hm.flatten(2).max(dim=2)  # (B, K); first maximum on ties, like numpy
        x, y = index % w, index // w
        found = scores > 0
        x, y = torch.where(found, x, -1), torch.where(found, y, -1)
        xy = torch.stack([x, y], dim=-1).float()  # (B, K, 2) heatmap pixels
        if self.refine == "quarter":
            xy = xy + self._quarter_offset(hm, x, y)
        elif self.refine == "dark" and self.udp:
            xy = xy + self._udp_dark_offset(hm, x, y, found)
        elif self.refine == "dark":
            xy = xy + self._dark_offset(hm, x, y)
        return self.to_input(xy), scores

    def _check_heatmaps(self, heatmaps: Tensor) -> Tensor:
        if not isinstance(heatmaps, Tensor):
            raise TypeError(f"heatmaps must be a torch.Tensor, got {type(heatmaps).__name__}")
        if heatmaps.ndim not in (3, 4):
            raise ValueError(f"heatmaps must be (B, K, h, w), got {tuple(heatmaps.shape)}")
        if not heatmaps.is_floating_point():
            raise ValueError(f"heatmaps must be a float tensor, got dtype {heatmaps.dtype}")
        hm = (heatmaps if heatmaps.ndim == 4 else heatmaps[None]).float()
        w, h = self.heatmap_size
        if hm.shape[-2:] != (h, w) or hm.shape[1] < 1 + int(self.background):
            raise ValueError(
                f"heatmaps must be (B, K{' + 1' if self.background else ''}, {h}, {w}) for "
                f"heatmap_size (w, h) = {self.heatmap_size}, got {tuple(heatmaps.shape)}"
            )
        return hm

    @staticmethod
    def _quarter_offset(hm: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """MSRA: ±0.25 px per axis towards the higher neighbour (Xiao et al. 2018).

        The bounds are MMPose's/HRNet's, which skip x = 1 and y = 1 (``1 < x``); kept for parity.
        """
        _, _, h, w = hm.shape
        flat = hm.flatten(2)  # (B, K, h·w)

        def at(dx: int, dy: int) -> Tensor:
            return _gather(flat, (x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1), w)

        ok_x = (x > 1) & (x < w - 1) & (y > 0) & (y < h)
        ok_y = (y > 1) & (y < h - 1) & (x > 0) & (x < w)
        gx = torch.where(ok_x, at(1, 0) - at(-1, 0), 0.0)
        gy = torch.where(ok_y, at(0, 1) - at(0, -1), 0.0)
        return torch.stack([gx.sign(), gy.sign()], dim=-1) * 0.25  # (B, K, 2)

    def _dark_offset(self, hm: Tensor, x: Tensor, y: Tensor) -> Tensor:
        """DARK (Zhang et al. CVPR 2020): one Newton step −H⁻¹∇ on the blurred log map, with
        2-pixel central differences for the second derivatives; skipped within 2 px of the
        border and where the Hessian is singular, as in MMPose."""
        _, _, h, w = hm.shape
        flat = torch.log(gaussian_blur(hm, self.blur_kernel).clamp_min(1e-10)).flatten(2)

        def at(dx: int, dy: int) -> Tensor:
            return _gather(flat, (x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1), w)

        c = at(0, 0)
        gx = 0.5 * (at(1, 0) - at(-1, 0))
        gy = 0.5 * (at(0, 1) - at(0, -1))
        hxx = 0.25 * (at(2, 0) - 2 * c + at(-2, 0))
        hyy = 0.25 * (at(0, 2) - 2 * c + at(0, -2))
        hxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
        det = hxx * hyy - hxy**2
        ok = (x > 1) & (x < w - 2) & (y > 1) & (y < h - 2) & (det != 0)
        return _newton_step(gx, gy, hxx, hxy, hyy, damping=0.0, ok=ok)

    def _udp_dark_offset(self, hm: Tensor, x: Tensor, y: Tensor, found: Tensor) -> Tensor:
        """UDP's DARK: blurred log map clipped to [1e-3, 50], 1-pixel differences with edge
        padding (index clamping), Hessian + ε·I always inverted (MMPose's UDP refinement).

        Maps without a keypoint (max ≤ 0) are not refined; MMPose reads the neighbouring map's
        memory there and returns NaN for an all-zero map.
        """
        _, _, h, w = hm.shape
        flat = torch.log(gaussian_blur(hm, self.blur_kernel).clamp(1e-3, 50.0)).flatten(2)

        def at(dx: int, dy: int) -> Tensor:
            return _gather(flat, (x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1), w)

        c, xp, xm, yp, ym = at(0, 0), at(1, 0), at(-1, 0), at(0, 1), at(0, -1)
        gx, gy = 0.5 * (xp - xm), 0.5 * (yp - ym)
        hxx, hyy = xp - 2 * c + xm, yp - 2 * c + ym
        hxy = 0.5 * (at(1, 1) - xp - yp + c + c - xm - ym + at(-1, -1))
        eps = torch.finfo(torch.float32).eps
        return _newton_step(gx, gy, hxx, hxy, hyy, damping=eps, ok=found)


def _newton_step(
    gx: Tensor, gy: Tensor, hxx: Tensor, hxy: Tensor, hyy: Tensor, *, damping: float, ok: Tensor
) -> Tensor:
    """(B, K, 2) offset −(H + damping·I)⁻¹ ∇ of the 2×2 Hessian system, 0 where not ``ok``.

    Solved in float64 by the closed-form inverse (MMPose calls np.linalg.inv per keypoint).
    """
    gx, gy, hxx, hxy, hyy = (t.double() for t in (gx, gy, hxx, hxy, hyy))
    hxx, hyy = hxx + damping, hyy + damping
    det = hxx * hyy - hxy * hxy
    safe = ok & (det != 0)
    det = torch.where(safe, det, 1.0)
    dx = -(hyy * gx - hxy * gy) / det
    dy = -(hxx * gy - hxy * gx) / det
    offset = torch.stack([dx, dy], dim=-1).float()  # (B, K, 2)
    return torch.where(safe[..., None], offset, 0.0)
