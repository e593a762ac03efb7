"""One-stage inference (RTMO): letterbox → network (every location decoded) → score filter →
box NMS (numpy, no torchvision) → people in image pixels.

The network stage is any callable ``(1, 3, H, W) raw-pixel tensor → (scores (1, N), boxes
(1, N, 4) xyxy, keypoints (1, N, K, 2), keypoint scores (1, N, K))`` in input pixels, i.e.
`posekit.models.rtmo.RTMOInference` or an onnxruntime runner of its export.
``pipe.timing`` holds "preprocess", "network" and "decode" seconds of the last call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import Tensor

from posekit.pipelines.nms import box_nms
from posekit.structures import Keypoints, PoseInstances

__all__ = ["LETTERBOX_PAD", "OneStage", "letterbox"]

LETTERBOX_PAD = 114  # grey padding value (YOLO / MMPose RTMO convention)


def letterbox(image: np.ndarray, size: tuple[int, int], pad: int = LETTERBOX_PAD
              ) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio to fit ``size`` = (w, h), pad right/bottom.

    Returns the (h, w, 3) image and the scale s: input pixel = s · image pixel (pixel corners;
    for pixel centres the error is below half an input pixel).
    """
    w, h = size
    ih, iw = image.shape[:2]
    if ih == 0 or iw == 0:
        raise ValueError(f"letterbox: empty image of shape {image.shape}")
    scale = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * scale)), max(1, round(ih * scale))
    out = np.full((h, w, 3), pad, dtype=np.uint8)
    out[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return out, scale


class OneStage:
    """``pipe(image) -> PoseInstances`` for one BGR uint8 image with a one-stage network."""

    def __init__(self, network: Callable[[Tensor], tuple[Tensor, ...]], input_size: tuple[int, int],
                 *, score_thresh: float = 0.1, nms_thresh: float = 0.65, max_people: int = 100,
                 device: torch.device | str = "cpu") -> None:
        self.network = network
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.max_people = max_people
        self.device = torch.device(device)
        self.timing: dict[str, float] = {}

    def preprocess(self, image: np.ndarray) -> tuple[Tensor, float]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be a BGR uint8 (H, W, 3) array, got {image.dtype} "
                             f"{image.shape}")
        boxed, scale = letterbox(image, self.input_size)
        x = torch.from_numpy(boxed).permute(2, 0, 1).float().unsqueeze(0)  # raw pixels
        return x.to(self.device), scale

    def decode(self, outputs: tuple[Tensor, ...], scale: float, image_shape: tuple[int, int]
               ) -> PoseInstances:
        """Dense outputs of one image → filtered, NMS'ed people in image pixels."""
        scores, boxes, kpts, kpt_scores = (t[0].detach().float().cpu().numpy() for t in outputs)
        keep = np.nonzero(scores > self.score_thresh)[0]
        keep = keep[box_nms(boxes[keep], scores[keep], self.nms_thresh)][: self.max_people]
        h, w = image_shape
        b = boxes[keep] / scale
        b[:, 0::2] = b[:, 0::2].clip(0, w)
        b[:, 1::2] = b[:, 1::2].clip(0, h)
        xy = kpts[keep] / scale
        data = np.concatenate([xy, kpt_scores[keep][..., None]], axis=-1).astype(np.float32)
        return PoseInstances(torch.from_numpy(b).float(), Keypoints(torch.from_numpy(data)),
                             torch.from_numpy(scores[keep]).float())

    @torch.no_grad()
    def __call__(self, image: np.ndarray, image_id: int | None = None) -> PoseInstances:
        t0 = time.perf_counter()
        x, scale = self.preprocess(image)
        t1 = time.perf_counter()
        outputs = self.network(x)
        t2 = time.perf_counter()
        people = self.decode(tuple(outputs), scale, image.shape[:2])
        t3 = time.perf_counter()
        self.timing = {"preprocess": t1 - t0, "network": t2 - t1, "decode": t3 - t2}
        return people
