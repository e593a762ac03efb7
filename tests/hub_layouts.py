"""Stand-ins for the released checkpoints of ``posekit.hub``'s table, in each file's own layout.

Every stand-in has the key names and shapes of the real file and seeded weights drawn by the rule
its family's conversion-parity test uses (so the numbers are those tests' inputs, not trained
weights). Key lists:

- SimpleBaseline Res-50/101/152, CPM, RTMO-s/m/l: recorded from MMPose 1.3.2
  (``tests/export/fixtures/mmpose_simplebaseline_keys.json``, ``tests/models/fixtures/
  mmpose_cpm_keys.json``, ``tests/models/fixtures/rtmo_mmpose_keys.json``);
- ViTPose: MMPose 1.3.2's lists for ViTPose-S (classic and simple decoder) recorded in
  ``tests/models/fixtures/mmpose_vitpose_golden.npz``, widened and deepened to B/L/H by
  :func:`vitpose_keys` (MMPose's ViT repeats one block layout; the recorded ViTPose-B list checks
  the rule);
- CMU OpenPose: pytorch-openpose's ``body_pose_model.pth`` keys
  (``tests/fixtures/openpose/openpose_cmu_body.npz``).

MMPose files are written as MMPose publishes them (``{"meta", "state_dict"}``, numpy-1.x names in
the pickle); the OpenPose file is a bare state dict, as pytorch-openpose's.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

TESTS = Path(__file__).resolve().parent

# Which released file layout each table entry has: body7 RTMO files are the COCO networks, and
# the 384x288 files are the 256x192 networks (nothing in them depends on the input size).
LAYOUT = {
    "rtmo-s": "rtmo-s", "rtmo-m": "rtmo-m", "rtmo-l": "rtmo-l",
    "rtmo-s-body7": "rtmo-s", "rtmo-m-body7": "rtmo-m", "rtmo-l-body7": "rtmo-l",
    "vitpose-s": "vitpose-s-classic", "vitpose-b": "vitpose-b-classic",
    "vitpose-l": "vitpose-l-classic", "vitpose-h": "vitpose-h-classic",
    "vitpose-s-simple": "vitpose-s-simple", "vitpose-b-simple": "vitpose-b-simple",
    "vitpose-l-simple": "vitpose-l-simple", "vitpose-h-simple": "vitpose-h-simple",
    "simplebaseline-res50": "sb-res50", "simplebaseline-res50-384x288": "sb-res50",
    "simplebaseline-res101": "sb-res101", "simplebaseline-res152": "sb-res152",
    "simplebaseline-res152-384x288": "sb-res152",
    "cpm": "cpm", "cpm-384x288": "cpm",
    "openpose-cmu": "openpose-cmu",
}
VIT_SIZES = {"s": (384, 12), "b": (768, 12), "l": (1024, 24), "h": (1280, 32)}  # (dim, depth)


def _module(relative: str) -> ModuleType:
    """A fixture script of the test tree, imported by path (its folder is not a package)."""
    path = TESTS / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _vitpose_recorded(tag: str) -> list[tuple[str, tuple[int, ...]]]:
    data = np.load(TESTS / "models" / "fixtures" / "mmpose_vitpose_golden.npz")
    return [(str(n), tuple(int(x) for x in str(s).split(",") if x))
            for n, s in zip(data[f"{tag}_names"], data[f"{tag}_shapes"], strict=True)]


def vitpose_keys(size: str, decoder: str) -> list[tuple[str, tuple[int, ...]]]:
    """MMPose 1.x ViTPose key list at ``size`` (s/b/l/h) from the recorded ViTPose-S one: block 0
    repeated ``depth`` times, widths 384 / 1152 / 1536 → dim / 3·dim / 4·dim."""
    dim, depth = VIT_SIZES[size]
    widen = {384: dim, 1152: 3 * dim, 1536: 4 * dim}
    before, block, after = [], [], []
    for name, shape in _vitpose_recorded(f"s_{decoder}"):
        shape = tuple(widen.get(d, d) for d in shape)
        layer = re.match(r"backbone\.layers\.(\d+)\.(.*)", name)
        if layer is None:
            (after if block else before).append((name, shape))
        elif layer.group(1) == "0":
            block.append((layer.group(2), shape))
    layers = [(f"backbone.layers.{i}.{leaf}", shape) for i in range(depth) for leaf, shape in block]
    return before + layers + after


def vitpose_recorded(tag: str) -> list[tuple[str, tuple[int, ...]]]:
    """A ViTPose key list as recorded from MMPose (``s_classic``, ``s_simple``, ``b_classic``)."""
    return _vitpose_recorded(tag)


def release_keys(layout: str) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every tensor of a released file, in the file's order."""
    if layout.startswith("sb-"):
        data = json.loads((TESTS / "export" / "fixtures" / "mmpose_simplebaseline_keys.json")
                          .read_text())["models"][layout.replace("sb-", "simple_baseline_")]
        return [(k, tuple(s)) for k, s, _ in data["keys"]]
    if layout == "cpm":
        data = json.loads((TESTS / "models" / "fixtures" / "mmpose_cpm_keys.json").read_text())
        return [(k, tuple(s)) for k, s, _ in data["keys"]]
    if layout.startswith("rtmo-"):
        data = json.loads((TESTS / "models" / "fixtures" / "rtmo_mmpose_keys.json").read_text())
        return [(k, tuple(s)) for k, s in data[layout.removeprefix("rtmo-")]]
    if layout.startswith("vitpose-"):
        _, size, decoder = layout.split("-")
        return vitpose_keys(size, decoder)
    if layout == "openpose-cmu":
        data = np.load(TESTS / "fixtures" / "openpose" / "openpose_cmu_body.npz")
        return [(str(k), tuple(int(v) for v in str(s).strip("()").split(",") if v.strip()))
                for k, s in zip(data["ckpt_keys"], data["ckpt_shapes"], strict=True)]
    raise ValueError(f"unknown layout {layout!r}")


def _dtype(name: str) -> torch.dtype:
    return torch.long if name.endswith("num_batches_tracked") else torch.float32


def seeded_release(layout: str) -> dict[str, torch.Tensor]:
    """The state dict of a released file's layout, filled by its family's parity-test rule."""
    keys = release_keys(layout)
    if layout.startswith(("sb-", "cpm")):
        rule = _module("export/make_mmpose_simplebaseline_fixtures.py")
        return rule.seeded_state_dict([(k, list(s), str(_dtype(k))) for k, s in keys])
    if layout.startswith("rtmo-"):
        rule = _module("models/make_rtmo_fixtures.py")
        weights = {k: torch.from_numpy(v) for k, v in rule.seeded_weights(keys).items()}
        return {k: weights[k] if k in weights else torch.zeros(s, dtype=_dtype(k))
                for k, s in keys}
    if layout.startswith("vitpose-"):
        return _module("models/make_vitpose_fixtures.py").seeded_state(keys)
    out = {}  # openpose-cmu: the rule of tests/models/test_openpose.py
    for i, (key, shape) in enumerate(keys):
        rng = np.random.default_rng(i)
        w = (rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))
             if key.endswith(".weight") else rng.standard_normal(shape) * 0.05)
        out[key] = torch.from_numpy(w.astype(np.float32))
    return out


def write_state(layout: str, state: dict[str, torch.Tensor], path: str | Path) -> Path:
    """``state`` saved at ``path`` as a released file of ``layout`` is saved."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if layout == "openpose-cmu":
        torch.save(state, path)
        return path
    return _module("export/write_mmpose_standin.py").write_mmpose_checkpoint(path, state)


def write_release(layout: str, path: str | Path) -> Path:
    """A stand-in file of ``layout`` at ``path``, with seeded weights."""
    return write_state(layout, seeded_release(layout), path)


def write_constant_release(layout: str, path: str | Path) -> Path:
    """A file of ``layout`` whose tensors are constants stored once (zero-stride views: a few
    kB on disk, full size once loaded): the layout without the cost of drawing every weight."""
    state = {k: torch.full((), 1.0 if k.endswith("running_var") else 0.0, dtype=_dtype(k))
             .expand(shape) for k, shape in release_keys(layout)}
    return write_state(layout, state, path)
