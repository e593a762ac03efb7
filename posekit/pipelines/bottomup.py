"""Bottom-up inference: one network pass for all people, then PAF grouping (talk §14–§21).

:class:`BottomUp` resizes the image to the network height keeping the aspect ratio, pads right and
bottom to the stride, runs the network (optionally at several scales and on the mirrored image),
upsamples the maps to image pixels and groups them with :func:`posekit.grouping.group_people`.

Two presets (``preprocess``):

- ``"cmu"`` is pytorch-openpose's ``Body`` for CMU's released weights, step for step: resize by
  the factor (OpenCV ``fx``/``fy``, bicubic), pad right and bottom with 128, BGR / 256 − 0.5;
  the last confidence maps clipped at 0 (the port ends them with a ReLU, CMU's model does not);
  maps upsampled ×stride, cropped and resized to the image, bicubic on all channels at once.
  With one scale, and :meth:`GroupingConfig.cmu`, the people equal ``Body``'s (tested on real
  images in ``tests/pipelines/``); its default scale search is one scale, 0.5 × 368 px.
- ``"imagenet"`` is posekit's: resize to the rounded size, RGB with ImageNet mean/std (pad 128
  before normalisation), maps resized bilinearly channel by channel.

Multi-scale maps are averaged (mean over scales; pytorch-openpose's ``heatmap_avg +=
heatmap_avg + …`` doubling is not repeated). Flip test mirrors the input, maps the flipped maps
back: heatmap channels by the skeleton's flip pairs, PAFs by swapping each limb with its mirror
limb and negating the x component.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from posekit.data.topdown import image_to_tensor
from posekit.grouping import GroupingConfig, group_people
from posekit.skeletons import OPENPOSE18, Skeleton
from posekit.structures import PoseInstances

__all__ = ["BottomUp", "flip_maps", "paf_flip_table", "preprocess_image"]

PREPROCESS = ("cmu", "imagenet")


def preprocess_image(image: np.ndarray, mode: str) -> Tensor:
    """(H, W, 3) BGR uint8 → (3, H, W) float network input."""
    if mode == "cmu":
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), np.float32)
                                / 256.0 - 0.5)
    if mode == "imagenet":
        return image_to_tensor(image)
    raise ValueError(f"preprocess must be one of {PREPROCESS}, got {mode!r}")


def paf_flip_table(skeleton: Skeleton) -> tuple[list[int], list[float]]:
    """PAF channel permutation and x/y sign for mirrored maps.

    Channel pair of limb i in the flipped maps holds the (mirrored) limb i' = flip(i); its x
    component changes sign.
    """
    flip = skeleton.flip_indices
    limbs = list(skeleton.limbs)
    order = skeleton.paf_channel_order
    perm = list(range(2 * len(limbs)))
    sign = [1.0] * (2 * len(limbs))
    for i, (a, b) in enumerate(limbs):
        mirrored = (flip[a], flip[b])
        if mirrored not in limbs:
            raise ValueError(f"skeleton {skeleton.name}: limb {(a, b)} has no mirror limb")
        j = limbs.index(mirrored)
        c, cj = order[i], order[j]
        perm[2 * c], perm[2 * c + 1] = 2 * cj, 2 * cj + 1
        sign[2 * c] = -1.0
    return perm, sign


def flip_maps(heatmaps: Tensor, pafs: Tensor, skeleton: Skeleton) -> tuple[Tensor, Tensor]:
    """Maps predicted on a mirrored image → maps of the original image (NCHW)."""
    k = skeleton.num_keypoints
    hperm = list(skeleton.flip_indices) + list(range(k, heatmaps.shape[1]))
    heatmaps = heatmaps.flip(-1)[:, hperm]
    perm, sign = paf_flip_table(skeleton)
    pafs = pafs.flip(-1)[:, perm] * torch.tensor(sign, dtype=pafs.dtype,
                                                  device=pafs.device)[None, :, None, None]
    return heatmaps, pafs


class BottomUp:
    """Multi-person pose from one network pass and PAF grouping.

    Args:
        network: callable (B, 3, H, W) → (heatmaps, pafs) of the last stage at 1/stride (a
            task's ``inference_model``, or an onnxruntime runner returning torch tensors).
        skeleton: part set of the maps (OpenPose-18, CMU channel order).
        input_height: network input height at scale 1 (width follows the aspect ratio).
        stride: network output stride.
        scales: multipliers of ``input_height``; the maps are averaged over them.
        flip_test: also run the mirrored image and average.
        preprocess: preset "cmu" (pytorch-openpose's ``Body``) or "imagenet" (module docstring).
        pad_value: pixel value of the right/bottom padding.
        grouping: grouping parameters (default :meth:`GroupingConfig.cmu`).
    """

    def __init__(
        self,
        network: Callable[[Tensor], tuple[Tensor, Tensor]],
        skeleton: Skeleton = OPENPOSE18,
        *,
        input_height: int = 368,
        stride: int = 8,
        scales: Sequence[float] = (1.0,),
        flip_test: bool = False,
        preprocess: str = "cmu",
        pad_value: int = 128,
        grouping: GroupingConfig | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if preprocess not in PREPROCESS:
            raise ValueError(f"preprocess must be one of {PREPROCESS}, got {preprocess!r}")
        if not scales:
            raise ValueError("BottomUp needs at least one scale")
        if isinstance(network, nn.Module):
            network.eval()
        self.network = network
        self.skeleton = skeleton
        self.input_height = int(input_height)
        self.stride = int(stride)
        self.scales = tuple(float(s) for s in scales)
        self.flip_test = flip_test
        self.preprocess = preprocess
        self.pad_value = int(pad_value)
        self.grouping = grouping or GroupingConfig.cmu()
        self.device = torch.device(device)
        self.timing: dict[str, float] = {}

    def _prepare(self, image: np.ndarray, scale: float) -> tuple[Tensor, tuple[int, int]]:
        h, w = image.shape[:2]
        factor = scale * self.input_height / h
        size = (round(w * factor), round(h * factor))  # OpenCV sizes are (width, height)
        if self.preprocess == "cmu" and min(size) > 0:
            # pytorch-openpose resizes by the factor: OpenCV then maps pixels with fx, fy
            # themselves, not with the rounded size's ratio (sub-pixel different)
            resized = cv2.resize(image, (0, 0), fx=factor, fy=factor,
                                 interpolation=cv2.INTER_CUBIC)
        else:
            resized = cv2.resize(image, (max(1, size[0]), max(1, size[1])),
                                 interpolation=cv2.INTER_CUBIC)
        rh, rw = resized.shape[:2]
        ph = -rh % self.stride
        pw = -rw % self.stride
        padded = cv2.copyMakeBorder(resized, 0, ph, 0, pw, cv2.BORDER_CONSTANT,
                                    value=(self.pad_value,) * 3)
        return preprocess_image(padded, self.preprocess), (rh, rw)

    @torch.inference_mode()
    def maps(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K[+1], H, W) heatmaps and (2L, H, W) PAFs at image resolution, averaged over scales
        (and flips). Updates ``timing`` with preprocess / network / decode seconds."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"BottomUp expects an (H, W, 3) uint8 BGR image, got "
                             f"{image.shape} {image.dtype}")
        h, w = image.shape[:2]
        t_pre = t_net = t_dec = 0.0
        hm_sum: np.ndarray | None = None
        paf_sum: np.ndarray | None = None
        for scale in self.scales:
            t0 = time.perf_counter()
            x, (rh, rw) = self._prepare(image, scale)
            batch = x[None]
            if self.flip_test:
                batch = torch.cat([batch, batch.flip(-1)])
            t1 = time.perf_counter()
            hms, pafs = self.network(batch.to(self.device))
            t2 = time.perf_counter()
            hms, pafs = hms.float().cpu(), pafs.float().cpu()
            if self.preprocess == "cmu":  # the port's ReLU on its last confidence maps
                hms = hms.clamp(min=0)
            if self.flip_test:  # the padded canvas is mirrored whole: flip back at map level
                fh, fp = flip_maps(hms[1:], pafs[1:], self.skeleton)
                hms, pafs = (hms[:1] + fh) / 2, (pafs[:1] + fp) / 2
            hm_img = self._to_image(hms, rh, rw, h, w)
            paf_img = self._to_image(pafs, rh, rw, h, w)
            if hm_sum is None:  # the sums are this call's own arrays: accumulate in place
                hm_sum, paf_sum = hm_img, paf_img
            else:
                hm_sum += hm_img
                paf_sum += paf_img
            t3 = time.perf_counter()
            t_pre += t1 - t0
            t_net += t2 - t1
            t_dec += t3 - t2
        if len(self.scales) > 1:  # the mean over scales; one scale needs no pass (x / 1 = x)
            hm_sum /= len(self.scales)
            paf_sum /= len(self.scales)
        self.timing = {"preprocess": t_pre, "network": t_net, "decode": t_dec}
        return hm_sum, paf_sum

    def _to_image(self, maps: Tensor, rh: int, rw: int, h: int, w: int) -> np.ndarray:
        """(1, C, h', w') maps of the padded input → (C, h, w) at image pixels: ×stride, crop the
        padding, resize to the image; bilinear with half-pixel centres, as ``F.interpolate``
        (align_corners=False). OpenCV per channel: 5–10× faster than torch on one thread; the
        second resize is skipped when the input already had the image's size (it is exact).
        The ``cmu`` preset resizes bicubic, all channels in one call as pytorch-openpose does
        (OpenCV's per-channel path rounds differently, by up to 1e-5)."""
        if self.preprocess == "cmu":
            hwc = maps[0].numpy().transpose(1, 2, 0)  # (h', w', C)
            up = cv2.resize(hwc, (0, 0), fx=self.stride, fy=self.stride,
                            interpolation=cv2.INTER_CUBIC)[:rh, :rw]
            if (rh, rw) != (h, w):
                up = cv2.resize(up, (w, h), interpolation=cv2.INTER_CUBIC)
            return np.ascontiguousarray(up.reshape(h, w, -1).transpose(2, 0, 1))
        src = maps[0].numpy()
        c, mh, mw = src.shape
        up_size = (mw * self.stride, mh * self.stride)  # OpenCV sizes are (width, height)
        out = np.empty((c, h, w), np.float32)
        for i in range(c):
            up = cv2.resize(src[i], up_size, interpolation=cv2.INTER_LINEAR)[:rh, :rw]
            out[i] = up if (rh, rw) == (h, w) else cv2.resize(up, (w, h),
                                                              interpolation=cv2.INTER_LINEAR)
        return out

    def __call__(self, image: np.ndarray, image_id: int | None = None) -> PoseInstances:
        hm, paf = self.maps(image)
        t = time.perf_counter()
        people = group_people(hm, paf, self.grouping, self.skeleton)
        self.timing["grouping"] = time.perf_counter() - t
        return people
