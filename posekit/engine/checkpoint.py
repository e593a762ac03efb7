"""Checkpoints written atomically (temp file + rename) and read with ``weights_only=True``.

A checkpoint is a plain dict of tensors and python scalars/lists/dicts: ``model``, optionally
``ema``, ``optimizer``, ``scheduler``, ``scaler``, ``epoch``, ``best_ap``, ``config`` (the
resolved :class:`posekit.config.ExperimentConfig` as a dict) and ``rng`` (torch RNG state), so
``torch.load(weights_only=True)`` can read it without unpickling arbitrary objects.

Errors are one line: a full disk says so (torch's zip writer would report "unexpected pos"),
torch's ``weights_only`` advice is cut to its one informative sentence, and weights that do not
fit a model name the first tensors that differ and the keypoint counts.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posekit.errors import shorten_torch_load_error
from posekit.skeletons import get_skeleton

__all__ = [
    "save_checkpoint", "load_checkpoint", "load_weights", "load_init_checkpoint",
    "clean_temp_files", "checkpoint_keypoints",
]


class _RecordingWriter:
    """File wrapper that remembers the ``OSError`` of a failed write.

    torch's zip writer calls ``write`` from C++ and turns a Python exception into
    ``unexpected pos …``; the recorded error lets us say "disk full" instead.
    """

    def __init__(self, f: Any) -> None:
        self.f = f
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self.f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.f.flush()


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: a crash mid-write never leaves a truncated file.

    Raises:
        OSError: with ``errno.ENOSPC`` and the message "disk full while writing PATH" when the
            disk fills up (the previous file at ``path`` is left untouched).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    writer = None
    try:
        # os.open applies the user's umask, as a plain open() would (mkstemp forces 0600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            writer = _RecordingWriter(f)
            torch.save(state, writer)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        error = writer.error if writer is not None and writer.error is not None else exc
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OSError(error.errno, f"disk full while writing {path}", str(path)) from None
        if isinstance(error, OSError) and error.filename is not None \
                and str(error.filename) == str(tmp):  # name the file the user asked for
            raise OSError(error.errno, error.strerror or str(error), str(path)) from None
        raise
    return path


def clean_temp_files(folder: str | Path) -> list[Path]:
    """Remove temp files a killed :func:`save_checkpoint` left in ``folder``; returns them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob(".*.pt.*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a posekit checkpoint safely; clear errors for missing or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise ValueError(f"{path}: not a readable posekit checkpoint "
                         f"({shorten_torch_load_error(str(exc))})") from None
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path}: not a posekit checkpoint (no 'model' entry)")
    return state


def _shape(t: Any) -> str:
    return "x".join(str(s) for s in t.shape) if isinstance(t, torch.Tensor) else type(t).__name__


def checkpoint_keypoints(state: dict[str, Any]) -> int | None:
    """Number of keypoints the checkpoint's stored config was trained for (None if unknown)."""
    config = state.get("config")
    if not isinstance(config, dict):
        return None
    name = (config.get("data") or {}).get("skeleton")
    if not name:
        return None
    try:
        return get_skeleton(name).num_keypoints
    except (KeyError, ValueError):
        return None


def load_weights(
    model: nn.Module, weights: dict[str, Any], *, source: str | Path, model_name: str = "",
    num_keypoints: int | None = None, source_keypoints: int | None = None,
) -> None:
    """``model.load_state_dict(weights)`` (strict) with a one-line error when they do not fit.

    The message names how many tensors are missing, unexpected or of another shape, the first
    of each, and the keypoint counts (``source_keypoints`` vs ``num_keypoints``) when known.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    differ = [k for k in own if k in weights and isinstance(weights[k], torch.Tensor)
              and tuple(weights[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or differ):
        model.load_state_dict(weights)
        return
    parts = []
    if differ:
        k = differ[0]
        parts.append(f"{len(differ)} tensor(s) differ in shape, first {k}: "
                     f"{_shape(weights[k])} in the checkpoint vs {_shape(own[k])} in the model")
    if missing:
        parts.append(f"{len(missing)} missing from the checkpoint, first {missing[0]}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected, first {unexpected[0]}")
    if source_keypoints is not None and num_keypoints is not None \
            and source_keypoints != num_keypoints:
        parts.append(f"the checkpoint has {source_keypoints} keypoints, "
                     f"the config {num_keypoints}")
    what = f"model {model_name!r}" if model_name else "the model"
    raise ValueError(f"{source}: weights do not fit {what}: " + "; ".join(parts))


def load_init_checkpoint(model: nn.Module, path: str | Path) -> list[str]:
    """Copy the checkpoint's ``model`` weights whose names and shapes match (e.g. an MAE
    backbone); returns the names loaded. Position embeddings of another grid are resized."""
    state = load_checkpoint(path)["model"]
    own = model.state_dict()
    picked = {k: v for k, v in state.items() if k in own}
    if not picked:
        raise ValueError(f"{path}: no weight names in common with {type(model).__name__}")
    result = model.load_state_dict(picked, strict=False)
    assert not result.unexpected_keys
    return sorted(picked)
