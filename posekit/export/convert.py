"""Key names come from MMPose 1.x state dicts (``backbone.*``/``neck.*``/``head.*``), per model.

Each model file's ``remap_<family>_state_dict`` maps them onto posekit's names.

``posekit convert SRC --config CFG --out DST.pt`` turns a reference implementation's released
checkpoint into a posekit checkpoint that ``eval``, ``infer`` and ``export`` accept:

1. **Safe loading.** ``torch.load(weights_only=True)`` with exactly the numpy globals released
   MMPose checkpoints need for the numpy arrays in their ``meta`` (``sigmas``, flip indices):
   ``_reconstruct`` (by its numpy-1.x name ``numpy.core.multiarray._reconstruct`` and its numpy-2
   name), ``ndarray``, ``dtype`` and ``Float32DType``. Anything else in the pickle (a class, a
   function) is refused with the name of the global it asked for; no arbitrary code runs.
2. **Explicit mapping.** :data:`CONVERTERS` is the one table from a model name (a key of
   :data:`posekit.models.MODELS`) to the remap function of its family.
3. **Completeness.** Every source key must land on a posekit parameter or buffer, and every
   posekit parameter and buffer must be filled with the same shape; otherwise the error lists the
   unmatched keys and the shape mismatches.

The output is a plain posekit checkpoint dict (``model``, ``config``, ``epoch``, ``source``).
"""

from __future__ import annotations

import argparse
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from posekit.config import ExperimentConfig, config_to_dict, load_config
from posekit.engine.checkpoint import save_checkpoint
from posekit.engine.tasks import build_task
from posekit.errors import DetailedError
from posekit.models.cpm import remap_cpm_state_dict
from posekit.models.openpose import remap_openpose_cmu_state_dict
from posekit.models.rtmo import remap_rtmo_state_dict
from posekit.models.simplebaseline import remap_simple_baseline_state_dict
from posekit.models.vitpose import remap_vitpose_state_dict

__all__ = ["CONVERTERS", "MMPOSE_NUMPY_GLOBALS", "load_foreign_checkpoint", "convert_state_dict",
           "convert_checkpoint", "convert_cli"]

# model name (posekit.models.MODELS key) → remap of the reference's key names. One row per
# model; family issues add theirs.
CONVERTERS: dict[str, Callable[[dict[str, Tensor]], dict[str, Tensor]]] = {
    "simple_baseline_res50": remap_simple_baseline_state_dict,
    "simple_baseline_res101": remap_simple_baseline_state_dict,
    "simple_baseline_res152": remap_simple_baseline_state_dict,
    # MMPose rtmo-{s,m,l}_*.pth; drops only constants (PE frequencies, unit bins, OKS sigmas)
    "rtmo_s": remap_rtmo_state_dict,
    "rtmo_m": remap_rtmo_state_dict,
    "rtmo_l": remap_rtmo_state_dict,
    "vitpose_small": remap_vitpose_state_dict,  # MMPose 1.x and official ViTPose (0.x) layouts
    "vitpose_base": remap_vitpose_state_dict,
    "vitpose_large": remap_vitpose_state_dict,
    "vitpose_huge": remap_vitpose_state_dict,
    "cpm_6stage": remap_cpm_state_dict,  # MMPose td-hm_cpm_* (COCO 17 maps, no background)
    "openpose_cmu_coco": remap_openpose_cmu_state_dict,  # pytorch-openpose body_pose_model.pth
}

# The numpy globals of a released MMPose checkpoint's ``meta``,
# and nothing broader. ``_reconstruct`` is listed under both of its names: the numpy-1.x name the
# released files were pickled with and the numpy-2 name a file re-saved today carries.
_reconstruct = np._core.multiarray._reconstruct  # noqa: SLF001 - numpy's own pickle helper
MMPOSE_NUMPY_GLOBALS: list[Any] = [
    (_reconstruct, "numpy.core.multiarray._reconstruct"),
    _reconstruct,
    np.ndarray,
    np.dtype,
    (type(np.dtype("float32")), "numpy.dtypes.Float32DType"),
]


def load_foreign_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """The state dict of a reference checkpoint (``{"state_dict": ...}`` or a bare state dict),
    read with ``weights_only=True`` and the numpy allowlist; refuses anything else clearly."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(MMPOSE_NUMPY_GLOBALS):
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message names the global the file asked for ("Unsupported global: GLOBAL x").
        found = re.search(r"GLOBAL (\S+)", str(exc))
        wanted = found.group(1) if found else str(exc).splitlines()[0]
        raise ValueError(
            f"{path}: refused: loading it would unpickle {wanted!r}, which is neither a tensor "
            "nor one of the numpy types of MMPose's meta; posekit never runs pickled code"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({exc})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not state or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{path}: expected a state dict of tensors (or {{'state_dict': ...}}), "
                         f"got {type(state).__name__}")
    return dict(state)


def convert_state_dict(source: dict[str, Tensor], cfg: ExperimentConfig,
                       origin: str = "checkpoint") -> dict[str, Tensor]:
    """Remap ``source`` onto the config's model and check that it fits exactly.

    Raises:
        ValueError: no converter for the model, or unmatched keys / shape mismatches (listed).
    """
    name = cfg.model.name
    if name not in CONVERTERS:
        raise ValueError(f"no converter for model {name!r}; models with one: "
                         f"{', '.join(sorted(CONVERTERS))}")
    remapped = CONVERTERS[name](source)
    target = build_task(cfg).build_model().state_dict()
    unused = [k for k in remapped if k not in target]
    missing = [k for k in target if k not in remapped]
    shapes = [f"{k}: source {tuple(remapped[k].shape)} vs posekit {tuple(target[k].shape)}"
              for k in remapped if k in target and remapped[k].shape != target[k].shape]
    if unused or missing or shapes:
        # Key order pairs source and remapped names when the remap is one-to-one; a remap that
        # drops constants (RTMO's) shows posekit names instead.
        inverse = ({new: old for old, new in zip(source, remapped, strict=True)}
                   if len(source) == len(remapped) else {})

        def show(keys: list[str], what: str) -> str:
            head = ", ".join(f"{inverse.get(k, k)}" for k in keys[:12])
            more = f" … (+{len(keys) - 12})" if len(keys) > 12 else ""
            return f"\n  {len(keys)} {what}: {head}{more}"

        raise DetailedError(
            f"{origin} does not fit {name!r}:"
            + (show(unused, "source keys without a posekit parameter") if unused else "")
            + (show(missing, "posekit parameters/buffers not filled") if missing else "")
            + (f"\n  {len(shapes)} shape mismatches: " + "; ".join(shapes[:12]) if shapes else "")
        )
    return {k: remapped[k].to(target[k].dtype).contiguous() for k in target}


def convert_checkpoint(src: str | Path, config: str | Path | ExperimentConfig,
                       out: str | Path, *, overwrite: bool = True) -> Path:
    """Convert a reference checkpoint to a posekit checkpoint at ``out`` (written atomically);
    an existing ``out`` is replaced only with ``overwrite``."""
    if not overwrite and Path(out).exists():
        raise FileExistsError(f"--out {out} already exists; pass --force to replace it")
    cfg = load_config(config) if isinstance(config, str | Path) else config
    state = convert_state_dict(load_foreign_checkpoint(src), cfg, origin=str(src))
    return save_checkpoint(
        {"model": state, "config": config_to_dict(cfg), "epoch": -1, "source": str(src)}, out
    )


def convert_cli(args: argparse.Namespace) -> int:
    out = convert_checkpoint(args.src, args.config, args.out, overwrite=args.force)
    cfg = load_config(args.config)
    print(f"converted {args.src} → {out} ({cfg.model.name}, "
          f"{len(torch.load(out, weights_only=True)['model'])} tensors, all keys matched)")
    return 0
