"""Checkpoints written atomically (temp file + rename) and read with ``weights_only=True``.

A checkpoint is a plain dict of tensors and python scalars/lists/dicts: ``model``, optionally
``ema``, ``optimizer``, ``scheduler``, ``scaler``, ``epoch``, ``best_ap``, ``config`` (the
resolved :class:`posekit.config.ExperimentConfig` as a dict) and ``rng`` (torch RNG state), so
``torch.load(weights_only=True)`` can read it without unpickling arbitrary objects.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_checkpoint", "load_checkpoint"]


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: a crash mid-write never leaves a truncated file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a posekit checkpoint safely; clear errors for missing or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise ValueError(f"{path}: not a readable posekit checkpoint ({exc})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path}: not a posekit checkpoint (no 'model' entry)")
    return state
