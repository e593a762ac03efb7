"""pytorch-openpose's ``Body`` from image to people on real photos (not run by pytest).

Usage: python tests/pipelines/make_pytorch_openpose_e2e_fixtures.py PATH/TO/pytorch-openpose

Runs the reference's ``src/body.py`` unchanged (its default scale search [0.5], boxsize 368) with
the CMU body model filled by the seeded rule of tests/fixtures/openpose/openpose_cmu_body.npz
(:func:`seeded_state_dict`; no calibration: the seeded maps already hold peaks above 0.1 and
limbs above 0.05, and the parser finds dozens of people). The reference's code stays outside
posekit; only its outputs are stored, in tests/fixtures/openpose/pytorch_openpose_body_e2e.npz:
per image the candidate table (x, y, score, id) and the subset table (18 peak ids, total score,
part count). ``Body`` imports torchvision without using it: an empty module stands in.
"""

from __future__ import annotations

import sys
import tempfile
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).parents[2]
WEIGHTS = ROOT / "tests" / "fixtures" / "openpose" / "openpose_cmu_body.npz"
FIXTURE = ROOT / "tests" / "fixtures" / "openpose" / "pytorch_openpose_body_e2e.npz"
IMAGES = ("000000196141.jpg", "000000040083.jpg")  # 640 × 429 and 500 × 333, several people
IMAGE_DIR = ROOT / "tests" / "fixtures" / "real" / "mmpose_coco"


def seeded_state_dict(ref) -> dict[str, torch.Tensor]:
    """pytorch-openpose's checkpoint layout (``ckpt_keys``, ``ckpt_shapes``): tensor i drawn
    from ``default_rng(seed_base + i)``, He-scaled normal weights, N(0, 0.05²) biases."""
    sd = {}
    base = int(ref["seed_base"])
    for i, (key, shape_text) in enumerate(zip(ref["ckpt_keys"], ref["ckpt_shapes"], strict=True)):
        shape = tuple(int(v) for v in str(shape_text).strip("()").split(",") if v.strip())
        rng = np.random.default_rng(base + i)
        if str(key).endswith(".weight"):
            w = rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))
        else:
            w = rng.standard_normal(shape) * 0.05
        sd[str(key)] = torch.from_numpy(w.astype(np.float32))
    return sd


def load_body(repo: str, state_dict: dict[str, torch.Tensor]):
    """The reference's ``Body`` loading ``state_dict`` through its own ``util.transfer``."""
    tv = types.ModuleType("torchvision")
    tv.transforms = types.ModuleType("torchvision.transforms")
    sys.modules.setdefault("torchvision", tv)
    sys.modules.setdefault("torchvision.transforms", tv.transforms)
    sys.path.insert(0, repo)
    from src.body import Body  # the reference, outside posekit

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "body_pose_model.pth"
        torch.save(state_dict, path)
        return Body(str(path))


def main() -> None:
    torch.set_num_threads(1)
    body = load_body(sys.argv[1], seeded_state_dict(np.load(WEIGHTS)))
    out = {"images": np.asarray(IMAGES)}
    for i, name in enumerate(IMAGES):
        image = cv2.imread(str(IMAGE_DIR / name))  # BGR, as the reference reads it
        t = time.perf_counter()
        candidate, subset = body(image)
        print(f"{name} {image.shape[1]}x{image.shape[0]}: {len(candidate)} peaks, "
              f"{len(subset)} people, Body {time.perf_counter() - t:.1f} s")
        assert len(subset) >= 5, "too few people for an end-to-end check"
        out[f"candidate_{i}"] = np.asarray(candidate, np.float64).reshape(-1, 4)
        out[f"subset_{i}"] = np.asarray(subset, np.float64)
    np.savez_compressed(FIXTURE, **out)
    print("wrote", FIXTURE)


if __name__ == "__main__":
    main()
