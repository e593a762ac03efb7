"""The COCO writer: renders a split image by image (one generator per image, so the bytes do not
depend on the worker count) and writes JPEGs plus one COCO keypoints json."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.data.synthpose.body import _VIEWS
from posekit.data.synthpose.scene import (
    RenderedPerson,
    _check_crowd,
    _check_size,
    image_rng,
    render_image,
)
from posekit.data.synthpose.styles import DEFAULT_STYLE, parse_styles
from posekit.skeletons import COCO17, MPII16, Skeleton, get_skeleton

__all__ = ["generate_dataset", "format_summary", "JPEG_QUALITY"]

JPEG_QUALITY = 92


def _annotate(person: RenderedPerson, skeleton: Skeleton = COCO17) -> dict[str, Any]:
    """COCO annotation fields of a visible person (ids are assigned by the caller)."""
    flat: list[float | int] = []
    kps = person.keypoints_in(skeleton)
    for x, y, v in kps:
        flat += [float(x), float(y), int(v)] if v > 0 else [0, 0, 0]  # COCO: v=0 → (0, 0)
    return {
        "keypoints": flat,
        "num_keypoints": int((kps[:, 2] > 0).sum()),
        "bbox": [float(b) for b in person.bbox],
        "area": int(person.area),
        "iscrowd": 0,
        "category_id": 1,
        "view": person.view,
    }


def _render_to_file(task: tuple[int, int, str, str, int, str, str, str]
                    ) -> list[dict[str, Any]]:
    """Worker: render image ``index``, write its JPEG, return its annotations (without ids)."""
    seed, index, split, crowd, size, image_dir, style, skeleton = task
    out = render_image(image_rng(seed, split, crowd, index, style), size, crowd, style)
    ok, buf = cv2.imencode(".jpg", out.image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:  # pragma: no cover - OpenCV failure
        raise RuntimeError(f"JPEG encoding failed for image {index}")
    Path(image_dir, f"{index + 1:012d}.jpg").write_bytes(buf.tobytes())
    skel = get_skeleton(skeleton)
    return [_annotate(p, skel) for p in out.people if p.area > 0]


def _worker_init() -> None:
    cv2.setNumThreads(1)  # one process per core already


def _check_split(split: str) -> str:
    if not isinstance(split, str):
        raise TypeError(f"split must be a str, got {type(split).__name__}")
    if not split or split in {".", ".."} or any(ch in split for ch in "/\\:"):
        raise ValueError(f"split must be a plain folder name like 'val', got {split!r}")
    return split


def generate_dataset(
    out_dir: str | Path, num_images: int, *, seed: int = 0, size: int = 256,
    crowd: str = "normal", split: str = "val", workers: int = 1, style: str = DEFAULT_STYLE,
    skeleton: str = "coco17",
) -> dict[str, Any]:
    """Write a SynthPose COCO keypoints dataset and return its summary.

    Files: ``out_dir/images/{split}/{image_id:012d}.jpg`` (image ids from 1) and
    ``out_dir/annotations/person_keypoints_{split}.json``. Output bytes depend only on
    (seed, split, crowd, size, style, skeleton, num_images), never on ``workers``. ``style`` is
    a style, a comma-separated list or a family (:mod:`posekit.data.synthpose.styles`);
    ``skeleton`` is ``coco17`` or ``mpii16`` (MPII-16 names, from the same figure). With
    ``workers > 1`` the images are drawn in processes started from a fork server, so a script
    calling this must do so under ``if __name__ == "__main__":`` (the usual multiprocessing rule).

    Returns:
        summary dict (see :func:`format_summary`): counts, people per image, visibility
        fractions, person sizes, views and images/s.
    """
    for name, value in (("num_images", num_images), ("seed", seed), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    size = _check_size(size)
    _check_crowd(crowd)
    split = _check_split(split)
    if not isinstance(style, str):
        raise TypeError(f"style must be a str, got {type(style).__name__}")
    parse_styles(style)  # fail early on unknown names
    skel = get_skeleton(skeleton)
    if skel.name not in (COCO17.name, MPII16.name):
        raise ValueError(f"skeleton must be coco17 or mpii16, got {skeleton!r}")
    root = Path(out_dir)
    image_dir = root / "images" / split
    ann_dir = root / "annotations"
    image_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)

    start = time.perf_counter()
    tasks = [(int(seed), i, split, crowd, size, str(image_dir), style, skel.name)
             for i in range(int(num_images))]
    workers = min(int(workers), len(tasks))
    if workers == 1:
        results = [_render_to_file(t) for t in tasks]
    else:
        # Not "fork": a child forked from a process whose thread pools (OpenCV's, torch's
        # OpenMP) have run can deadlock. The fork server imports this module once, in a fresh
        # process, and forks the workers from that. An executor, unlike multiprocessing.Pool,
        # raises BrokenProcessPool instead of waiting forever if a worker dies.
        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload([__name__])
        else:
            ctx = multiprocessing.get_context("spawn")
        chunk = max(1, len(tasks) // (workers * 8))
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
            results = list(pool.map(_render_to_file, tasks, chunksize=chunk))

    images, annotations = [], []
    for i, anns in enumerate(results):
        image_id = i + 1
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": size,
                       "height": size, "crowd": crowd, "seed": int(seed)})
        for ann in anns:
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, **ann})
    categories = [{
        "id": 1, "name": "person", "supercategory": "person",
        "keypoints": list(skel.keypoint_names),
        "skeleton": [[a + 1, b + 1] for a, b in skel.limbs],  # COCO's 1-based links
    }]
    dataset_info: dict[str, Any] = {
        "description": "SynthPose (posekit procedural multi-person COCO-17 dataset)",
        "seed": int(seed), "crowd": crowd, "size": size, "split": split}
    if style != DEFAULT_STYLE:  # (the default's json stays as it was before styles existed)
        dataset_info["style"] = style
    if skel.name != COCO17.name:
        dataset_info["skeleton"] = skel.name
        dataset_info["description"] = "SynthPose (posekit procedural multi-person MPII-16 dataset)"
    dataset = {
        "info": dataset_info,
        "images": images, "annotations": annotations, "categories": categories,
    }
    ann_file = ann_dir / f"person_keypoints_{split}.json"
    tmp = ann_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dataset, separators=(",", ":")))
    os.replace(tmp, ann_file)
    seconds = time.perf_counter() - start
    return _summary(dataset, root, ann_file, seconds, int(workers))


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    if not len(values):
        return {"p10": 0.0, "p50": 0.0, "p90": 0.0}
    q = np.quantile(np.asarray(values, dtype=np.float64), [0.1, 0.5, 0.9])
    return {"p10": float(q[0]), "p50": float(q[1]), "p90": float(q[2])}


def _summary(dataset: dict, root: Path, ann_file: Path, seconds: float, workers: int
             ) -> dict[str, Any]:
    anns = dataset["annotations"]
    per_image = np.bincount([a["image_id"] for a in anns], minlength=len(dataset["images"]) + 1)
    per_image = per_image[1:]
    v = np.array([a["keypoints"][2::3] for a in anns], dtype=np.int64).reshape(-1)  # (N·K,)
    views = [a["view"] for a in anns]
    info = dataset["info"]
    n_img = len(dataset["images"])
    return {
        "out_dir": str(root), "annotation_file": str(ann_file), "split": info["split"],
        "crowd": info["crowd"], "size": info["size"], "seed": info["seed"], "workers": workers,
        "style": info.get("style", DEFAULT_STYLE), "skeleton": info.get("skeleton", COCO17.name),
        "num_images": n_img, "num_people": len(anns),
        "people_per_image": {"mean": float(per_image.mean()), "min": int(per_image.min()),
                             "max": int(per_image.max())},
        "visibility": {f"v{k}": float((v == k).mean()) if v.size else 0.0 for k in (0, 1, 2)},
        "sqrt_area": _quantiles([math.sqrt(a["area"]) for a in anns]),
        "box_height": _quantiles([a["bbox"][3] for a in anns]),
        "views": {name: views.count(name) / max(len(views), 1) for name in _VIEWS},
        "seconds": seconds, "images_per_s": n_img / max(seconds, 1e-9),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """Multi-line human summary of :func:`generate_dataset`'s result (``posekit synth``)."""
    s = summary
    ppi, vis, sa, bh = s["people_per_image"], s["visibility"], s["sqrt_area"], s["box_height"]
    views = "  ".join(f"{k} {100 * v:.0f}%" for k, v in s["views"].items())
    return "\n".join([
        f"SynthPose: {s['num_images']} images {s['size']}x{s['size']} (crowd={s['crowd']}, "
        f"seed={s['seed']}, split={s['split']}, style={s.get('style', DEFAULT_STYLE)}, "
        f"skeleton={s.get('skeleton', COCO17.name)}) -> {s['out_dir']}",
        f"  annotations: {s['annotation_file']}",
        f"  people: {s['num_people']} (per image mean {ppi['mean']:.2f}, min {ppi['min']}, "
        f"max {ppi['max']})",
        f"  keypoints: v=2 visible {100 * vis['v2']:.1f}%  v=1 occluded {100 * vis['v1']:.1f}%  "
        f"v=0 outside {100 * vis['v0']:.1f}%",
        f"  person size sqrt(area) px: p10 {sa['p10']:.1f}  p50 {sa['p50']:.1f}  "
        f"p90 {sa['p90']:.1f};  box height px: p10 {bh['p10']:.1f}  p50 {bh['p50']:.1f}  "
        f"p90 {bh['p90']:.1f}",
        f"  views: {views}",
        f"  speed: {s['images_per_s']:.1f} images/s ({s['seconds']:.2f} s, "
        f"{s['workers']} worker{'s' if s['workers'] != 1 else ''})",
    ])
