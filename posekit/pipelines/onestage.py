"""One-stage inference (RTMO), as MMPose 1.3.2's ``inference_bottomup`` does it: the image
centred in the input (`center_resize`) → network → person-score filter → box NMS (numpy, no
torchvision) → DCC keypoints of the kept people → image pixels.

The network stage is either

- `posekit.models.rtmo.RTMOInference` (eager): its ``candidates`` (the locations above the score
  threshold) go through NMS first and its ``keypoints`` (the DCC) then runs on the kept people
  only, as MMPose's ``RTMOHead.predict``;
- any callable ``(1, 3, H, W) raw-pixel tensor → (scores (M,), boxes (M, 4) xyxy, keypoints
  (M, K, 2), keypoint scores (M, K), batch index (M,))`` over the candidates, in input pixels:
  an onnxruntime runner of ``RTMOInference``'s export, which runs the DCC on every candidate.

Both give the same people. ``pipe.timing`` holds "preprocess", "network" (backbone to head and
the DCC, as in MMPose's head) and "decode" (score filter, NMS, back to image pixels) seconds of
the last call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import Tensor

from posekit.data.transforms import get_affine_matrix
from posekit.models.rtmo import RTMOInference
from posekit.pipelines.nms import box_nms
from posekit.structures import Keypoints, PoseInstances

__all__ = ["LETTERBOX_PAD", "OneStage", "center_resize", "fit_center_scale",
           "warp_linear_fixed_point"]

LETTERBOX_PAD = 114  # grey padding value (YOLO / MMPose RTMO convention)


def fit_center_scale(image_size: tuple[int, int], input_size: tuple[int, int]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Centre and scale (image pixels) of the region that fills the input when an image of
    ``image_size`` (w, h) is fitted into ``input_size`` (w, h) keeping its aspect ratio, centred.

    MMPose's ``BottomupResize(resize_mode='fit')``: the image is resized to
    (min(W, H·w/h), min(H, W·h/w)); the input then covers (w·W/rw, h·H/rh) image pixels around
    the image centre (w/2, h/2), so the padding is split on both sides.
    """
    w, h = image_size
    in_w, in_h = input_size
    if w <= 0 or h <= 0:
        raise ValueError(f"image size must be positive, got {image_size}")
    rw, rh = min(in_w, in_h * w / h), min(in_h, in_w * h / w)
    return np.array([w / 2, h / 2]), np.array([w * in_w / rw, h * in_h / rh])


def warp_linear_fixed_point(image: np.ndarray, matrix: np.ndarray, size: tuple[int, int],
                            border: int) -> np.ndarray:
    """``cv2.warpAffine(image, matrix, size, INTER_LINEAR, BORDER_CONSTANT)`` exactly as OpenCV
    4.x computes it for uint8 images, with any installed OpenCV.

    OpenCV 4 maps each output pixel to the source in fixed point (1/1024 px, then 1/32 px) and
    blends with 1/32768 weights, rounding half up; OpenCV 5 interpolates in floating point and
    rounds half to even, which changes up to a grey level per pixel. The references (MMPose
    1.3.2 with OpenCV 4) see OpenCV 4's input, so the fixed-point source positions are computed
    here as OpenCV 4 does and handed to ``cv2.remap``'s fixed-point path (its ``CV_16SC2`` map
    and 1/32-px table indices), which both versions share.
    """
    inv = cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))  # output → source
    w, h = size
    unit = 1 << 10  # OpenCV's AB_SCALE; + 16 rounds to the nearest 1/32 px
    xs, ys = np.arange(w), np.arange(h)
    col = np.rint((inv[0, 1] * ys + inv[0, 2]) * unit).astype(np.int64)[:, None] + 16
    row = np.rint((inv[1, 1] * ys + inv[1, 2]) * unit).astype(np.int64)[:, None] + 16
    gx = (col + np.rint(inv[0, 0] * xs * unit).astype(np.int64)) >> 5  # (h, w) in 1/32 px
    gy = (row + np.rint(inv[1, 0] * xs * unit).astype(np.int64)) >> 5
    whole = np.stack((gx >> 5, gy >> 5), axis=-1).astype(np.int16)
    frac = ((gy & 31) * 32 + (gx & 31)).astype(np.uint16)
    return cv2.remap(image, whole, frac, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=(border,) * 4)


def center_resize(image: np.ndarray, input_size: tuple[int, int], pad: int = LETTERBOX_PAD
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BGR image → (h, w, 3) input of ``input_size`` (w, h) with the image fitted and centred
    (`fit_center_scale`), padded with ``pad``; returns it with the centre and scale."""
    ih, iw = image.shape[:2]
    center, scale = fit_center_scale((iw, ih), input_size)
    matrix = get_affine_matrix(center, scale, 0.0, input_size)
    return warp_linear_fixed_point(image, matrix, input_size, pad), center, scale


class OneStage:
    """``pipe(image) -> PoseInstances`` for one BGR uint8 image with a one-stage network.

    Args:
        network: `RTMOInference` or a callable over candidates (module docstring).
        input_size: network input (w, h).
        score_thresh: a location is a candidate when its person score exceeds this.
        nms_thresh: box-IoU threshold of the NMS (a candidate overlapping a kept, higher-scoring
            one by more is dropped).
        max_people: keep at most this many people after NMS; 0 keeps all (MMPose: no cap).
    """

    def __init__(self, network: Callable[[Tensor], tuple[Tensor, ...]], input_size: tuple[int, int],
                 *, score_thresh: float = 0.1, nms_thresh: float = 0.65, max_people: int = 0,
                 device: torch.device | str = "cpu") -> None:
        if max_people < 0:
            raise ValueError(f"max_people must be >= 0 (0 = no cap), got {max_people}")
        self.network = network
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.score_thresh = score_thresh
        self.nms_thresh = nms_thresh
        self.max_people = max_people
        self.device = torch.device(device)
        self.timing: dict[str, float] = {}

    def preprocess(self, image: np.ndarray) -> tuple[Tensor, np.ndarray, np.ndarray]:
        """BGR uint8 image → (1, 3, H, W) raw-pixel BGR input, centre and scale of the fit."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be a BGR uint8 (H, W, 3) array, got {image.dtype} "
                             f"{image.shape}")
        boxed, center, scale = center_resize(image, self.input_size)
        x = torch.from_numpy(boxed).permute(2, 0, 1).float().unsqueeze(0)  # raw pixels
        return x.to(self.device), center, scale

    def select(self, scores: Tensor, boxes: Tensor) -> np.ndarray:
        """Indices of the candidates kept by the score threshold and box NMS, best first."""
        s = scores.detach().float().cpu().numpy()
        keep = np.nonzero(s > self.score_thresh)[0]
        keep = keep[box_nms(boxes.detach().float().cpu().numpy()[keep], s[keep],
                            self.nms_thresh)]
        return keep[: self.max_people] if self.max_people else keep

    def to_image(self, scores: Tensor, boxes: Tensor, keypoints: Tensor, keypoint_scores: Tensor,
                 center: np.ndarray, scale: np.ndarray) -> PoseInstances:
        """People in input pixels → image pixels: p · scale / input + centre − scale / 2 (the
        inverse of `center_resize`); boxes are first clamped to the input, as MMPose does."""
        size = np.array(self.input_size, dtype=np.float64)
        factor, offset = scale / size, center - scale / 2
        b = boxes.detach().double().cpu().numpy().reshape(-1, 2, 2)
        b = np.clip(b, 0, size) * factor + offset
        xy = keypoints.detach().double().cpu().numpy() * factor + offset
        conf = keypoint_scores.detach().double().cpu().numpy()[..., None]
        data = np.concatenate([xy, conf], axis=-1).astype(np.float32)
        return PoseInstances(torch.from_numpy(b.reshape(-1, 4)).float(),
                             Keypoints(torch.from_numpy(data)),
                             scores.detach().float().cpu())

    @torch.no_grad()
    def __call__(self, image: np.ndarray, image_id: int | None = None) -> PoseInstances:
        timing = {"preprocess": 0.0, "network": 0.0, "decode": 0.0}
        start = time.perf_counter()
        x, center, scale = self.preprocess(image)
        now = time.perf_counter()
        timing["preprocess"], start = now - start, now
        if isinstance(self.network, RTMOInference):  # eager: the DCC runs on the kept people
            c = self.network.candidates(x.to(next(self.network.parameters()).dtype))
            now = time.perf_counter()
            timing["network"], start = now - start, now
            keep = torch.from_numpy(self.select(c.scores, c.boxes))
            now = time.perf_counter()
            timing["decode"], start = now - start, now
            boxes = c.boxes[keep]
            keypoints = self.network.keypoints(c.pose_vecs[keep], boxes, c.grids[keep])
            scores, keypoint_scores = c.scores[keep], c.keypoint_scores[keep]
            now = time.perf_counter()
            timing["network"], start = timing["network"] + now - start, now
        else:  # an exported graph: keypoints of every candidate, then the same selection
            scores, boxes, keypoints, keypoint_scores = self.network(x)[:4]
            now = time.perf_counter()
            timing["network"], start = now - start, now
            keep = torch.from_numpy(self.select(scores, boxes))
            scores, boxes = scores[keep], boxes[keep]
            keypoints, keypoint_scores = keypoints[keep], keypoint_scores[keep]
        people = self.to_image(scores, boxes, keypoints, keypoint_scores, center, scale)
        timing["decode"] += time.perf_counter() - start
        self.timing = timing
        return people
