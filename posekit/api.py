"""``PoseEstimator``: people from images in three lines, whatever the paradigm or the runtime.

    from posekit import PoseEstimator
    est = PoseEstimator("rtmo-s")        # a model name (`posekit models`), a .pt or an .onnx
    people = est("photo.jpg")            # PoseInstances: .keypoints.xy, .scores, .boxes, .plot()

A name is resolved by :mod:`posekit.hub` (downloaded, checked and converted once, then cached);
a top-down model resolved by name takes RTMO-s's people as its boxes unless ``detector=`` says
otherwise.

The checkpoint's task (``model.task``: top-down, bottom-up, one-stage) supplies the pipeline;
an exported ``.onnx`` file runs the same pipeline on onnxruntime from its stored config.
Top-down tasks (``task.needs_detector``) need person boxes; ``detector=`` accepts

- ``"full-image"``: the whole image is one person (a single-person photo or a ready crop);
- a COCO detection-results json (``[{image_id, bbox, score}, ...]``, bbox x, y, w, h; see
  :func:`image_id_for` for the ids of image files);
- a callable ``image -> boxes`` (a list of :class:`PersonBox`, or an (N, 4|5) array of x1, y1,
  x2, y2[, score] in image pixels);
- a checkpoint or ``.onnx`` path of a model that finds people without boxes (a one-stage or
  bottom-up model), the name of such a model in the table (``"rtmo-s"``), or such a
  :class:`PoseEstimator` itself: its people's boxes become the crops
  (`posekit.pipelines.detectors.PeopleDetector`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from posekit.config import ExperimentConfig
from posekit.engine.loading import load_trained
from posekit.engine.task import Pipeline, Task
from posekit.engine.tasks import build_task
from posekit.export.onnx import OnnxRunner, config_from_onnx
from posekit.hub import DEFAULT_DETECTOR, find_model, is_model_name, resolve
from posekit.pipelines.detectors import DetectionFile, Detector, PeopleDetector, PersonBox
from posekit.skeletons import Skeleton
from posekit.structures import PoseInstances

__all__ = [
    "PoseEstimator", "FullImage", "CallableDetector", "build_detector", "image_id_for",
    "read_image",
]

ONNX_SUFFIXES = (".onnx",)
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


def read_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) BGR uint8 image from a file; ValueError naming the file when unreadable."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return image


def image_id_for(path: str | Path, index: int = 0) -> int:
    """The image id of a file: its stem when it is a number (COCO's ``000000000785.jpg`` → 785),
    else ``index + 1`` (its position among the inputs)."""
    stem = Path(path).stem
    return int(stem) if stem.isdigit() else index + 1


def _names_a_model(text: str | Path) -> bool:
    """A table name rather than a file: a known name, or no such file and no file suffix (an
    unknown name then gets :func:`posekit.hub.find_model`'s error with close names)."""
    path = Path(text)
    if is_model_name(str(text)):
        return True
    return isinstance(text, str) and not path.exists() and path.suffix.lower() not in (
        CHECKPOINT_SUFFIXES + ONNX_SUFFIXES + (".json",))


class FullImage:
    """The whole image as one person box (score 1)."""

    def __call__(self, image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        h, w = image.shape[:2]
        return [PersonBox((0.0, 0.0, float(w), float(h)), 1.0)]


class CallableDetector:
    """Adapts a user function ``image -> boxes`` to the Detector interface.

    The function returns a list of :class:`PersonBox`, or an (N, 4) / (N, 5) array-like of
    x1, y1, x2, y2[, score] in image pixels.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        out = self.fn(image)
        if isinstance(out, list) and all(isinstance(b, PersonBox) for b in out):
            return out
        arr = np.asarray(out, dtype=np.float64).reshape(-1, np.shape(out)[-1] if len(out) else 4)
        if arr.ndim != 2 or arr.shape[1] not in (4, 5):
            raise ValueError("a detector callable must return PersonBox objects or an (N, 4|5) "
                             f"array of x1, y1, x2, y2[, score]; got shape {arr.shape}")
        return [PersonBox(tuple(float(v) for v in row[:4]),
                          float(row[4]) if arr.shape[1] == 5 else 1.0) for row in arr]


def build_detector(spec: Any, *, device: str = "cpu", score_thresh: float = 0.0) -> Detector:
    """A Detector from what a user passes as ``detector=`` (see the module docstring)."""
    if isinstance(spec, str) and spec == "full-image":
        return FullImage()
    if isinstance(spec, PoseEstimator):
        return PeopleDetector(spec, score_thresh)
    if is_model_name(spec):
        if find_model(spec).paradigm == "top-down":
            raise ValueError(f"detector {spec!r} is a top-down model: a detector must find "
                             "people without boxes (one-stage or bottom-up, e.g. 'rtmo-s')")
        return PeopleDetector(PoseEstimator.from_pretrained(spec, device=device), score_thresh)
    if isinstance(spec, str | Path):
        path = Path(spec)
        if path.suffix.lower() == ".json":
            return DetectionFile(path, score_thresh=score_thresh)
        if path.suffix.lower() in CHECKPOINT_SUFFIXES + ONNX_SUFFIXES:
            try:
                inner = PoseEstimator.from_checkpoint(path, device=device)
            except _NeedsBoxesError as exc:
                raise ValueError(
                    f"detector {path} is a {exc.task} model: it needs person boxes itself; a "
                    "detector checkpoint must find people without boxes (one-stage, bottom-up)"
                ) from None
            return PeopleDetector(inner, score_thresh)
        raise ValueError(f"detector {str(spec)!r} is not 'full-image', a detections .json, a "
                         "checkpoint (.pt/.pth/.onnx) or a model name (`posekit models`)")
    if callable(spec):
        return CallableDetector(spec)
    raise TypeError(f"detector must be 'full-image', a path or a callable, got "
                    f"{type(spec).__name__}")


class _NeedsBoxesError(ValueError):
    """A top-down model was loaded without a detector (``task`` names its paradigm)."""

    def __init__(self, message: str, task: str) -> None:
        super().__init__(message)
        self.task = task


class PoseEstimator:
    """People in BGR images from one trained model; the model's task supplies the pipeline.

    ``PoseEstimator(model)`` takes a table name (``"rtmo-s"``, :meth:`from_pretrained`), a
    posekit checkpoint or an ``.onnx`` file (:meth:`from_checkpoint`), with those methods'
    keyword arguments; a ready pipeline and its config build it directly. ``est(x)`` takes an
    (H, W, 3) BGR uint8 array, an image path, or a list of either (then returns a list).
    ``est.timing`` holds the last call's seconds per pipeline phase.
    """

    def __init__(self, model: Pipeline | str | Path, cfg: ExperimentConfig | None = None, *,
                 skeleton: Skeleton | None = None, runtime: str = "torch", source: str = "",
                 **load: Any) -> None:
        if isinstance(model, str | Path):
            loaded = (PoseEstimator.from_pretrained(str(model), **load) if _names_a_model(model)
                      else PoseEstimator.from_checkpoint(model, **load))
            model, cfg, skeleton = loaded.pipeline, loaded.cfg, loaded.skeleton
            runtime, source = loaded.runtime, loaded.source
        elif load:
            raise TypeError(f"unexpected arguments for a ready pipeline: {', '.join(load)}")
        self.pipeline = model
        self.cfg = cfg
        self.skeleton = skeleton
        self.runtime = runtime  # "torch" | "onnxruntime"
        self.source = source

    @classmethod
    def from_pretrained(
        cls, name: str, device: str = "cpu", detector: Any = None, *,
        flip_test: bool | None = None, threads: int = 0,
    ) -> PoseEstimator:
        """A model of the table by name (``posekit models``): fetched, checked and converted on
        first use, then loaded from the cache (:func:`posekit.hub.resolve`).

        A top-down model takes the people of ``"rtmo-s"`` as its boxes unless ``detector`` is
        given (any value :func:`build_detector` accepts).
        """
        entry = find_model(name)
        if detector is None and entry.paradigm == "top-down":
            detector = DEFAULT_DETECTOR
        est = cls.from_checkpoint(resolve(entry), device, detector, flip_test=flip_test,
                                  threads=threads)
        est.source = name
        return est

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str = "cpu", detector: Any = None, *,
        flip_test: bool | None = None, config: str | Path | None = None, threads: int = 0,
    ) -> PoseEstimator:
        """Load a posekit checkpoint (``.pt``) or an exported ``.onnx`` file.

        Args:
            path: checkpoint written by ``posekit train`` / ``posekit convert``, or ``.onnx``
                written by ``posekit export``.
            device: torch device (eager checkpoints only).
            detector: person boxes for top-down models (module docstring); ignored otherwise.
            flip_test: override the config's flip test.
            config: a YAML config to use instead of the stored one (checkpoints only).
            threads: onnxruntime intra-op threads (0 = its default).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        task: Task
        network: Callable[..., Any]
        if path.suffix.lower() in ONNX_SUFFIXES:
            network = OnnxRunner(path, threads=threads)
            cfg = config_from_onnx(path, network.metadata)
            task, runtime = build_task(cfg), "onnxruntime"
            device = "cpu"
        else:
            trained = load_trained(path, config)
            cfg, task, runtime = trained.cfg, trained.task, "torch"
            network = task.inference_model(trained.model.to(device))
        boxes: Detector | None = None
        if task.needs_detector:
            if detector is None:
                raise _NeedsBoxesError(
                    f"{path}: a {cfg.model.task} model needs person boxes: pass detector="
                    "'full-image' (whole image = one person), a COCO detections .json, a "
                    "callable image -> boxes, or a one-stage checkpoint (CLI: --detector)",
                    cfg.model.task,
                )
            boxes = build_detector(detector, device=device,
                                   score_thresh=cfg.test.det_score_thresh)
        elif detector is not None:
            warnings.warn(f"{path}: a {cfg.model.task} model finds people without boxes; "
                          "detector= is ignored", stacklevel=2)
        pipe = task.pipeline(network, device, flip_test, detector=boxes)
        return cls(pipe, cfg, skeleton=task.skeleton, runtime=runtime, source=str(path))

    @property
    def timing(self) -> dict[str, float]:
        """Seconds per phase of the last image (detector, preprocess, network, decode, …)."""
        return dict(self.pipeline.timing)

    def _one(self, x: np.ndarray | str | Path, image_id: int | None, index: int = 0
             ) -> PoseInstances:
        if isinstance(x, str | Path):
            image = read_image(x)
            if image_id is None:
                image_id = image_id_for(x, index)
        elif isinstance(x, np.ndarray):
            image = x
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"image must be (H, W, 3) BGR uint8, got shape {image.shape} "
                                 f"dtype {image.dtype}")
            if image.shape[0] == 0 or image.shape[1] == 0:
                raise ValueError(f"image is empty: shape {image.shape}")
        else:
            raise TypeError(f"expected a BGR array, a path or a list of them, got "
                            f"{type(x).__name__}")
        with torch.inference_mode():
            return self.pipeline(image, image_id)

    def __call__(self, x: Any, image_id: int | Sequence[int] | None = None
                 ) -> PoseInstances | list[PoseInstances]:
        """People in one image (array or path) or in each of a list of them.

        ``image_id`` (one per image for a list) keys detection files; a path's default is
        :func:`image_id_for` (numeric stem, else its 1-based position in the list)."""
        if isinstance(x, list | tuple):
            ids = list(image_id) if isinstance(image_id, Sequence) else [None] * len(x)
            if len(ids) != len(x):
                raise ValueError(f"image_id must give one id per image: {len(x)} images, "
                                 f"{len(ids)} ids")
            return [self._one(item, i, n) for n, (item, i) in enumerate(zip(x, ids, strict=True))]
        return self._one(x, image_id)

    def plot(self, image: np.ndarray, people: PoseInstances) -> np.ndarray:
        """``people`` drawn on a copy of ``image`` with this model's skeleton."""
        return people.plot(image, skeleton=self.skeleton)

    def __repr__(self) -> str:
        return (f"PoseEstimator({self.cfg.model.name}, task={self.cfg.model.task}, "
                f"runtime={self.runtime}, source={self.source!r})")
