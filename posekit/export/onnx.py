"""ONNX export of a task's inference model, and an onnxruntime runner that replaces it.

Exporter: the dynamo exporter (``torch.onnx.export(..., dynamo=True)``, which needs onnxscript, a
posekit dependency). It is PyTorch's default and maintained path; the TorchScript exporter
(``dynamo=False``) is deprecated and warns on every call in torch 2.13. Both give identical
graphs for the models here (checked: max |Δ| ~1e-13 on SimpleBaseline-tiny); the dynamo export
takes a few seconds longer, which only matters once per model. A dynamic batch axis is declared
with ``torch.export.Dim`` (traced at batch 2: a batch of 1 would be specialised away); a task whose
network is fully convolutional (:meth:`Task.input_multiple`, bottom-up) also gets free height and
width, multiples of its stride, as its pipeline feeds every image's own size.

The ``.onnx`` file is self-describing: ``metadata_props`` store the full resolved experiment
config as JSON (``posekit.config``) plus, readable at a glance, the paradigm, skeleton, input
size, codec settings, model name and batch. :class:`OnnxRunner` has the call signature of the
task's ``inference_model`` (a tensor in, the same tensor(s) out), so a pipeline runs it unchanged:
``PoseEstimator.from_checkpoint("model.onnx")`` needs no PyTorch checkpoint.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from posekit.config import ExperimentConfig, config_from_dict, config_to_dict
from posekit.engine.loading import load_trained
from posekit.engine.task import Task

__all__ = [
    "export_onnx", "export_checkpoint", "export_cli", "OnnxRunner", "read_metadata",
    "config_from_onnx", "METADATA_PREFIX",
]

METADATA_PREFIX = "posekit."
FORMAT_VERSION = "1"


def _metadata(cfg: ExperimentConfig, batch: int | str) -> dict[str, str]:
    full = config_to_dict(cfg)
    return {
        "format_version": FORMAT_VERSION,
        "paradigm": cfg.model.task,
        "model": cfg.model.name,
        "skeleton": cfg.data.skeleton,
        "input_size": json.dumps(list(cfg.codec.input_size)),  # (w, h)
        "codec": json.dumps(full["codec"]),
        "batch": str(batch),
        "config": json.dumps(full),
    }


def export_onnx(
    task: Task, model: nn.Module, out: str | Path, *, opset: int = 18,
    batch: int | str = "dynamic", check: bool = True,
) -> Path:
    """Export ``task.inference_model(model)`` to ``out`` and check it with ``onnx.checker``.

    Args:
        task: the model's task (its config, inference module and input shape).
        model: the trained (or randomly initialised) pose model.
        out: destination ``.onnx`` path.
        opset: ONNX opset version (the dynamo exporter supports 18 and above).
        batch: ``"dynamic"`` for a free batch axis, or a fixed positive batch size.
    """
    import onnx

    if batch != "dynamic" and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be 'dynamic' or a positive int, got {batch!r}")
    if not isinstance(opset, int) or opset < 18:
        raise ValueError(f"opset must be an int >= 18 (dynamo exporter), got {opset!r}")
    net = task.inference_model(model).eval()
    example = task.example_input(2 if batch == "dynamic" else batch)
    with torch.inference_mode():
        sample = net(example)
    n_out = len(sample) if isinstance(sample, tuple | list) else 1
    output_names = ["output"] if n_out == 1 else [f"output{i}" for i in range(n_out)]
    kwargs: dict[str, Any] = {}
    dims: dict[int, Any] = {}
    if batch == "dynamic":
        dims[0] = torch.export.Dim("batch", min=1, max=4096)
    if multiple := task.input_multiple():  # free height and width, multiples of the stride
        dims[2] = multiple * torch.export.Dim("height", min=1, max=4096 // multiple)
        dims[3] = multiple * torch.export.Dim("width", min=1, max=4096 // multiple)
    if dims:
        kwargs["dynamic_shapes"] = (dims,)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # The exporter narrates each step on stdout and warns about absent torchvision ops.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net, (example,), str(out), dynamo=True, opset_version=opset,
                input_names=["input"], output_names=output_names, verbose=False, **kwargs,
            )
    finally:
        quiet.setLevel(level)
    proto = onnx.load(str(out))
    del proto.metadata_props[:]
    for key, value in _metadata(task.cfg, batch).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, value
    onnx.save(proto, str(out))
    if check:
        onnx.checker.check_model(str(out), full_check=True)
    return out


def export_checkpoint(checkpoint: str | Path, out: str | Path, *, opset: int = 18,
                      batch: int | str = "dynamic") -> Path:
    """Export a posekit checkpoint (EMA weights when present, as eval uses)."""
    trained = load_trained(checkpoint)
    return export_onnx(trained.task, trained.model, out, opset=opset, batch=batch)


def _parse_batch(text: str) -> int | str:
    if text == "dynamic":
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError(f"--batch must be 'dynamic' or a positive integer, got {text!r}")


def export_cli(args: Any) -> int:
    import time

    start = time.perf_counter()
    out = export_checkpoint(args.checkpoint, args.out, opset=args.opset,
                            batch=_parse_batch(str(args.batch)))
    meta = read_metadata(out)
    print(f"exported {args.checkpoint} → {out} ({out.stat().st_size / 1e6:.1f} MB, opset "
          f"{args.opset}, batch {meta['batch']}, {meta['paradigm']} {meta['model']}, input "
          f"(w, h) {meta['input_size']}) in {time.perf_counter() - start:.1f} s; onnx.checker ok")
    return 0


def read_metadata(path: str | Path) -> dict[str, str]:
    """posekit's ``metadata_props`` of an exported file (prefix stripped)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {p.key.removeprefix(METADATA_PREFIX): p.value for p in proto.metadata_props
            if p.key.startswith(METADATA_PREFIX)}


def config_from_onnx(path: str | Path, metadata: dict[str, str] | None = None
                     ) -> ExperimentConfig:
    """The experiment config stored in an exported file; a clear error for foreign files."""
    meta = read_metadata(path) if metadata is None else metadata
    if "config" not in meta:
        raise ValueError(f"{path}: not a posekit ONNX export (no posekit.config metadata); "
                         "export with `posekit export`")
    return config_from_dict(json.loads(meta["config"]))


class OnnxRunner:
    """Runs an exported model on onnxruntime with the inference module's signature.

    ``runner(x)`` takes a (B, 3, H, W) float tensor and returns a CPU float tensor (or a tuple
    for several outputs). A file exported with a fixed batch is fed in chunks of that batch,
    the last one zero-padded and cut back.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads (0 lets onnxruntime decide).
        providers: onnxruntime execution providers (default: CPU).
    """

    def __init__(self, path: str | Path, *, threads: int = 0,
                 providers: list[str] | None = None) -> None:
        import onnxruntime as ort

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # Idle pool threads would otherwise spin between calls, stealing the CPU from the
        # pipeline's own pre- and post-processing.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=providers or ["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types
            raise ValueError(f"{path}: onnxruntime cannot load it ({exc})") from None
        self.path = path
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.batch: int | None = inp.shape[0] if isinstance(inp.shape[0], int) else None
        meta = self.session.get_modelmeta().custom_metadata_map
        self.metadata = {k.removeprefix(METADATA_PREFIX): v for k, v in meta.items()
                         if k.startswith(METADATA_PREFIX)}

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: x})

    def __call__(self, images: Tensor) -> Tensor | tuple[Tensor, ...]:
        x = np.ascontiguousarray(images.detach().to("cpu", torch.float32).numpy())
        if self.batch is None or x.shape[0] == self.batch:
            outs = self._run(x)
        else:
            n, parts = x.shape[0], []
            for start in range(0, n, self.batch):
                chunk = x[start:start + self.batch]
                pad = self.batch - chunk.shape[0]
                if pad:
                    chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), x.dtype)])
                parts.append([o[: self.batch - pad] for o in self._run(chunk)])
            outs = [np.concatenate(p) for p in zip(*parts, strict=True)]
        tensors = tuple(torch.from_numpy(o) for o in outs)
        return tensors[0] if len(tensors) == 1 else tensors
