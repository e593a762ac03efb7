"""MPII Human Pose in MMPose's json list form, converted to a COCO-form dict (MPII-16 skeleton).

MMPose's ``mpii_{train,val}.json`` is a list of people: ``image``, ``center`` (x, y),
``scale`` (person box side / 200 px), ``joints`` (16 × 2) and ``joints_vis`` (16), in MPII's
MATLAB 1-based pixel coordinates. The adapter turns it into the COCO form that
:class:`~posekit.data.coco.CocoPoseDataset` and :mod:`posekit.evaluation` read, so MPII needs no
reader of its own.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from posekit.data.coco import load_json_file
from posekit.skeletons import MPII16

__all__ = ["mpii_to_coco", "MPII_PIXEL_STD"]

# MPII's ``scale`` is the person box side in units of 200 px (MPII annotation convention).
MPII_PIXEL_STD = 200.0
# MMPose moves MPII's centre 15 px × scale down (it sits high, on the torso) before cropping.
_CENTER_SHIFT = 15.0


def _check_person(i: int, person: object, where: str) -> tuple[str, np.ndarray, float, np.ndarray,
                                                               np.ndarray]:
    """One list entry as (image name, centre (2,), scale, joints (16, 2), visible (16,))."""
    if not isinstance(person, dict):
        raise ValueError(f"{where}: entry {i} must be an object")
    for key in ("image", "center", "scale", "joints", "joints_vis"):
        if key not in person:
            raise ValueError(f"{where}: entry {i} is missing {key!r}")
    k = MPII16.num_keypoints
    try:
        center = np.asarray(person["center"], dtype=np.float64)
        scale = float(person["scale"])
        joints = np.asarray(person["joints"], dtype=np.float64)
        vis = np.asarray(person["joints_vis"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: entry {i} has non-numeric center/scale/joints") from None
    if center.shape != (2,) or not np.isfinite(center).all():
        raise ValueError(f"{where}: entry {i}: 'center' must be [x, y], got {person['center']!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"{where}: entry {i}: 'scale' must be > 0, got {person['scale']!r}")
    if joints.shape != (k, 2) or not np.isfinite(joints).all():
        raise ValueError(
            f"{where}: entry {i}: 'joints' must be {k}×2 finite numbers, got shape {joints.shape}"
        )
    if vis.shape != (k,):
        raise ValueError(f"{where}: entry {i}: 'joints_vis' must hold {k} flags, got {vis.shape}")
    return str(person["image"]), center, scale, joints, vis


def mpii_to_coco(json_path: str | Path, image_root: str | Path | None = None) -> dict:
    """Convert MMPose's MPII json list into a COCO keypoint dict with MPII-16 names.

    Choices (MPII has no COCO box or area):

    - coordinates move from MPII's 1-based to posekit's 0-based pixel centres (−1);
    - keypoints: v = 2 where ``joints_vis`` > 0, else (0, 0, 0);
    - bbox: the square of side ``scale`` × 200 px that MPII's scale defines, centred on the
      annotated centre moved down by 15 px × scale (MMPose's correction: MPII's centre sits on
      the upper torso); area = bbox area;
    - ``head_size``: ‖head_top − upper_neck‖, present only when both are visible. MPII's PCKh
      uses 0.6 × the diagonal of an annotated head box, which this json lacks; the head segment
      is a stand-in of the same size class, so PCKh here is not the official benchmark number;
    - image ids: the numeric file stem (MPII names are 9-digit numbers, as MMPose uses), else
      1, 2, … in order of first appearance;
    - width/height: read from the image files when ``image_root`` is given, else 0 (unknown).
    """
    path = Path(json_path)
    raw = load_json_file(path, "MPII annotation file")
    where = str(path)
    if not isinstance(raw, list):
        raise ValueError(
            f"{where}: expected MMPose's MPII list of people, got {type(raw).__name__}"
        )
    people = [_check_person(i, p, where) for i, p in enumerate(raw)]

    names = list(dict.fromkeys(name for name, *_ in people))  # unique, first-appearance order
    stems = [Path(n).stem for n in names]
    if all(s.isdigit() for s in stems) and len(set(map(int, stems))) == len(stems):
        ids = {n: int(s) for n, s in zip(names, stems, strict=True)}
    else:
        ids = {n: i + 1 for i, n in enumerate(names)}

    images = []
    for name in names:
        width = height = 0
        if image_root is not None:
            file = Path(image_root) / name
            image = cv2.imread(str(file), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
            if image is None:
                raise FileNotFoundError(f"{where}: image {file} is missing or unreadable")
            height, width = image.shape[:2]
        images.append({"id": ids[name], "file_name": name, "width": width, "height": height})

    top, neck = MPII16.index("head_top"), MPII16.index("upper_neck")
    annotations = []
    for ann_id, (name, center, scale, joints, vis) in enumerate(people, start=1):
        visible = vis > 0
        kpts = np.zeros((MPII16.num_keypoints, 3), dtype=np.float64)  # (K, 3)
        kpts[visible, :2] = joints[visible] - 1.0
        kpts[visible, 2] = 2
        side = scale * MPII_PIXEL_STD
        cx, cy = center[0] - 1.0, center[1] - 1.0 + _CENTER_SHIFT * scale
        ann = {
            "id": ann_id,
            "image_id": ids[name],
            "category_id": 1,
            "keypoints": [round(float(v), 4) for v in kpts.reshape(-1)],
            "num_keypoints": int(visible.sum()),
            "bbox": [float(cx - side / 2), float(cy - side / 2), float(side), float(side)],
            "area": float(side * side),
            "iscrowd": 0,
            "mpii_center": [float(center[0]), float(center[1])],
            "mpii_scale": float(scale),
        }
        if visible[top] and visible[neck]:
            ann["head_size"] = float(np.linalg.norm(joints[top] - joints[neck]))
        annotations.append(ann)

    category = {
        "id": 1,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(MPII16.keypoint_names),
        "skeleton": [[a + 1, b + 1] for a, b in MPII16.limbs],  # COCO links are 1-based
    }
    return {
        "info": {"description": f"MPII converted from {path.name} by posekit.data.mpii"},
        "images": images,
        "annotations": annotations,
        "categories": [category],
    }
