"""``posekit infer SOURCE --checkpoint CKPT``: poses in images, folders, globs, videos, a camera.

``--model NAME`` instead of ``--checkpoint`` takes a pretrained model by name (``posekit models``;
a top-down one crops the people RTMO-s finds unless ``--detector`` says otherwise).

SOURCE is an image file, a folder (searched recursively, files in sorted order), a glob pattern
(``"photos/**/*.jpg"``), a video file or a camera index (``0``). Per run, ``--out DIR`` gets

- the drawn images (same relative paths as under the source) or, for a video / camera, an mp4
  written frame by frame through OpenCV (``--no-draw`` skips both);
- ``results.json``: COCO results, each with ``file_name`` (relative to the source) and, for video
  frames, ``frame`` (0-based index). An image's ``image_id`` is its numeric stem when it has one
  (COCO's ``000000000785.jpg`` → 785, so a COCO detections file matches), else its 1-based
  position; a video frame's is ``frame + 1``.

With ``--track`` each person of a video or camera gets a ``track_id`` that stays the same across
frames (in the json and drawn on the video); ``--smooth`` also One-Euro filters their keypoints
(:mod:`posekit.pipelines.tracking`). Each video gets its own tracker at the video's frame rate.

Videos are streamed: one frame in memory at a time, results appended to a temporary json as they
come, which replaces ``results.json`` when the run ends. An unreadable file is reported and
skipped; the run fails (exit 2) only when nothing was read, and then leaves an earlier
``results.json`` as it was.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np
from tqdm import tqdm

from posekit.api import PoseEstimator, image_id_for
from posekit.errors import DataWarning
from posekit.hub import checkpoint_or_model
from posekit.pipelines.detectors import DetectionFile
from posekit.pipelines.tracking import PoseTracker

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "InferSummary", "expand_source", "run_infer",
           "infer_cli"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"})
PHASES = ("detector", "preprocess", "network", "decode", "grouping", "track")


@dataclass
class InferSummary:
    """What a run did: counts, mean ms/image per phase, where outputs went, what was skipped."""

    images: int = 0
    people: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # summed over images, per phase
    results: Path | None = None
    outputs: list[Path] = field(default_factory=list)
    image_ids: set[int] = field(default_factory=set)  # of the images and frames read

    def ms_per_image(self) -> dict[str, float]:
        return {k: 1000 * v / max(self.images, 1) for k, v in self.seconds.items()}

    def format(self) -> str:
        ms = self.ms_per_image()
        split = ", ".join(f"{k} {ms[k]:.1f}" for k in PHASES if k in ms)
        total = sum(ms.values())
        return (f"{self.images} images, {self.people} people, {total:.1f} ms/image "
                f"({split}); {len(self.skipped)} skipped → {self.results}")


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def expand_source(source: str) -> tuple[Path | None, list[Path] | int]:
    """(root for relative names, files in order) or (None, camera index)."""
    path = Path(source)
    if source.isdigit() and not path.exists():
        return None, int(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*")
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
        if not files:
            raise ValueError(f"{source}: folder holds no image or video files "
                             f"({', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})")
        return path, files
    if path.is_file():
        return path.parent, [path]
    if _is_glob(source):
        files = sorted(Path(p) for p in glob.glob(source, recursive=True) if Path(p).is_file())
        if not files:
            raise ValueError(f"glob {source!r} matches no files")
        fixed = []  # the pattern's leading folders without wildcards: names are relative to it
        for part in Path(source).parts[:-1]:
            if _is_glob(part):
                break
            fixed.append(part)
        return Path(*fixed) if fixed else Path("."), files
    raise FileNotFoundError(f"source not found: {source} (an image, folder, glob, video file "
                            "or camera index)")


class _JsonArrayWriter:
    """Appends dicts to a json array on disk, so results never pile up in memory.

    It writes a temporary file beside ``path`` and renames it over ``path`` on
    ``close(commit=True)``, so a failed run leaves an earlier ``results.json`` intact.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        # os.open applies the user's umask (mkstemp would force mode 0600).
        self.f: IO[str] = os.fdopen(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                            0o666), "w")
        self.f.write("[")
        self.first = True

    def add(self, items: list[dict]) -> None:
        for item in items:
            self.f.write(("\n" if self.first else ",\n") + json.dumps(item))
            self.first = False

    def close(self, commit: bool) -> None:
        """Finish the array and put it at ``path`` (``commit``), or throw it away."""
        try:
            if commit:
                self.f.write("\n]\n")
            self.f.close()
            if commit:
                os.replace(self.tmp, self.path)
        except OSError as exc:  # name results.json, not the temporary file
            raise OSError(exc.errno, exc.strerror or str(exc), str(self.path)) from None
        finally:
            self.tmp.unlink(missing_ok=True)


@dataclass
class _Frame:
    image: np.ndarray
    name: str  # file name relative to the source root
    image_id: int
    frame: int | None  # video frame index


def _video_frames(cap: cv2.VideoCapture, name: str, max_frames: int) -> Iterator[_Frame]:
    index = 0
    while max_frames <= 0 or index < max_frames:
        ok, image = cap.read()
        if not ok:
            break
        yield _Frame(image, name, index + 1, index)
        index += 1


def run_infer(
    source: str, estimator: PoseEstimator, out: str | Path, *, draw: bool = True,
    max_frames: int = 0, progress: bool = True,
    tracker: Callable[[float], PoseTracker] | None = None,
) -> InferSummary:
    """Run ``estimator`` over every image / frame of ``source``; see the module docstring.

    ``tracker``, given a video's frame rate, makes that video's :class:`PoseTracker`."""
    root, files = expand_source(str(source))
    out = Path(out)
    summary = InferSummary(results=out / "results.json")
    summary.seconds = dict.fromkeys(PHASES[:4], 0.0)
    items: list[tuple[str, Any]] = (
        [("camera", files)] if isinstance(files, int) else
        [("video" if f.suffix.lower() in VIDEO_SUFFIXES else "image", f) for f in files]
    )
    if tracker is not None and all(kind == "image" for kind, _ in items):
        raise ValueError(f"--track needs a video or a camera; {source} holds only images")
    total = sum(1 for kind, _ in items if kind == "image") or None
    bar = tqdm(total=total, unit="frame", disable=not progress, file=sys.stderr,
               dynamic_ncols=True)
    writer = _JsonArrayWriter(summary.results)
    finished = False  # every item done, or interrupted: what was read replaces results.json
    try:
        for index, (kind, item) in enumerate(items):
            if kind == "image":
                _infer_image(item, index, root, estimator, out, draw, writer, summary, bar)
            else:
                _infer_video(kind, item, root, estimator, out, draw, max_frames, writer,
                             summary, bar, tracker)
        finished = True
    except KeyboardInterrupt:
        bar.write("interrupted: closing the outputs", file=sys.stderr)
        finished = True
    finally:
        bar.close()
        writer.close(commit=finished and summary.images > 0)
    if summary.images == 0:
        raise ValueError(f"nothing readable in {source} ({len(summary.skipped)} skipped)")
    _check_detections_matched(estimator, summary)
    return summary


def _check_detections_matched(estimator: PoseEstimator, summary: InferSummary) -> None:
    """Warn when a detections file has boxes for none of the images read (every image then
    gets 0 people, which otherwise looks like a successful run)."""
    table = getattr(estimator.pipeline, "detector", None)
    if isinstance(table, DetectionFile) and not table.image_ids & summary.image_ids:
        ids = sorted(summary.image_ids)
        warnings.warn(DataWarning(
            f"{table.path}: none of its detections is on the {summary.images} images read "
            f"(their image ids: {', '.join(map(str, ids[:5]))}{', …' if len(ids) > 5 else ''}; "
            "an image's id is its numeric file name, else its position): every image got "
            "0 people"), stacklevel=2)


def _relative(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root)) if root is not None else path.name
    except ValueError:
        return path.name


def _record(frame: _Frame, estimator: PoseEstimator, writer: _JsonArrayWriter,
            summary: InferSummary, bar: tqdm, tracker: PoseTracker | None = None) -> Any:
    people = estimator(frame.image, frame.image_id)
    for phase, seconds in estimator.timing.items():
        summary.seconds[phase] = summary.seconds.get(phase, 0.0) + seconds
    if tracker is not None:
        start = time.perf_counter()
        people = tracker.update(people)
        summary.seconds["track"] = summary.seconds.get("track", 0.0) + time.perf_counter() - start
    extra: dict[str, Any] = {"file_name": frame.name}
    if frame.frame is not None:
        extra["frame"] = frame.frame
    writer.add([{**r, **extra} for r in people.to_coco(frame.image_id)])
    summary.images += 1
    summary.image_ids.add(frame.image_id)
    summary.people += len(people)
    bar.update(1)
    return people


def _infer_image(path: Path, index: int, root: Path | None, estimator: PoseEstimator, out: Path,
                 draw: bool, writer: _JsonArrayWriter, summary: InferSummary, bar: tqdm) -> None:
    name = _relative(path, root)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        summary.skipped.append(name)
        bar.write(f"skipped {path}: not a readable image", file=sys.stderr)
        bar.update(1)
        return
    frame = _Frame(image, name, image_id_for(path, index), None)
    people = _record(frame, estimator, writer, summary, bar)
    if draw:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(target), estimator.plot(image, people)):
            target = target.with_suffix(".png")
            cv2.imwrite(str(target), estimator.plot(image, people))
        summary.outputs.append(target)


def _infer_video(kind: str, item: Path | int, root: Path | None, estimator: PoseEstimator,
                 out: Path, draw: bool, max_frames: int, writer: _JsonArrayWriter,
                 summary: InferSummary, bar: tqdm,
                 tracker: Callable[[float], PoseTracker] | None = None) -> None:
    name = f"camera{item}" if kind == "camera" else _relative(item, root)
    cap = cv2.VideoCapture(item if kind == "camera" else str(item))
    if not cap.isOpened():
        summary.skipped.append(name)
        bar.write(f"skipped {name}: cannot open the {kind}", file=sys.stderr)
        return
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if kind == "video" else 0
    if count > 0:
        bar.total = (bar.total or 0) + (min(count, max_frames) if max_frames > 0 else count)
        bar.refresh()
    video: cv2.VideoWriter | None = None
    target = (out / name).with_suffix(".mp4")
    video_tracker = tracker(fps) if tracker is not None else None
    read_any = False
    try:
        for frame in _video_frames(cap, name, max_frames):
            read_any = True
            people = _record(frame, estimator, writer, summary, bar, video_tracker)
            if draw:
                if video is None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    h, w = frame.image.shape[:2]
                    video = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                            (w, h))
                video.write(estimator.plot(frame.image, people))
    finally:
        cap.release()
        if video is not None:
            video.release()
            summary.outputs.append(target)
    if not read_any:
        summary.skipped.append(name)
        bar.write(f"skipped {name}: no readable frame", file=sys.stderr)


def infer_cli(args: argparse.Namespace) -> int:
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    if args.smooth and not args.track:
        raise ValueError("--smooth filters tracked people: add --track")
    checkpoint_or_model(args.checkpoint, args.model)  # exactly one of the two
    load = PoseEstimator.from_pretrained if args.model else PoseEstimator.from_checkpoint
    estimator = load(args.model or args.checkpoint, device=args.device, detector=args.detector,
                     threads=args.threads)
    summary = run_infer(args.source, estimator, args.out, draw=not args.no_draw,
                        max_frames=args.max_frames, tracker=_tracker_factory(args, estimator))
    print(summary.format())
    return 0


def _tracker_factory(args: argparse.Namespace, estimator: PoseEstimator
                     ) -> Callable[[float], PoseTracker] | None:
    """``--track`` / ``--smooth`` options → a function of a video's fps that makes its tracker."""
    if not args.track:
        return None
    sigmas = estimator.skeleton.oks_sigmas() if args.track_by == "oks" else None

    def make(fps: float) -> PoseTracker:
        return PoseTracker(fps, sigmas=sigmas, match=args.track_by, max_missed=args.max_missed,
                           smooth=args.smooth, min_cutoff=args.min_cutoff, beta=args.beta)

    return make
