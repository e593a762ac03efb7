"""ONNX export of a task's inference model, and an onnxruntime runner that replaces it.

Exporter: the dynamo exporter (``torch.onnx.export(..., dynamo=True)``, which needs onnxscript, a
posekit dependency). It is PyTorch's default and maintained path; the TorchScript exporter
(``dynamo=False``) is deprecated and warns on every call in torch 2.13. Both give identical
graphs for the models here (checked: max |Δ| ~1e-13 on SimpleBaseline-tiny); the dynamo export
takes a few seconds longer, which only matters once per model. A dynamic batch axis is declared
with ``torch.export.Dim`` (traced at batch 2: a batch of 1 would be specialised away); a task whose
network is fully convolutional (:meth:`Task.input_multiple`, bottom-up) also gets free height and
width, multiples of its stride, as its pipeline feeds every image's own size.

Weights that would push the file past protobuf's 2 GB limit (ViTPose-H) are written as ONNX
external data to ``<out>.data`` beside it; smaller models are one self-contained file. A failed
export leaves nothing behind (it writes under a temporary name and renames at the end).

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
import os
import shutil
import tempfile
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
    "config_from_onnx", "METADATA_PREFIX", "EXTERNAL_DATA_BYTES",
]

METADATA_PREFIX = "posekit."
FORMAT_VERSION = "1"
# Weights above this go to ``<out>.data``: protobuf refuses messages of 2 GiB and more, and the
# graph and metadata need room beside the weights.
EXTERNAL_DATA_BYTES = 2**31 - 2**27


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


def _weight_bytes(model: Any) -> int:
    """Bytes of an exported graph's initializers (the weights)."""
    return sum(v.const_value.nbytes for v in model.graph.initializers.values()
               if v.const_value is not None)


def _check_output_path(out: Path) -> None:
    """Refuse an ``--out`` that cannot be written before minutes of export are spent."""
    if out.is_dir():
        raise IsADirectoryError(f"--out {out} is a directory; give a file name (model.onnx)")
    if out.parent.exists() and not out.parent.is_dir():
        raise NotADirectoryError(f"{out.parent} is not a directory")


def export_onnx(
    task: Task, model: nn.Module, out: str | Path, *, opset: int = 18,
    batch: int | str = "dynamic", check: bool = True, external_data: bool | None = None,
) -> Path:
    """Export ``task.inference_model(model)`` to ``out`` and check it with ``onnx.checker``.

    The weights are stored inside ``out`` unless they exceed :data:`EXTERNAL_DATA_BYTES`
    (protobuf cannot serialise a message of 2 GiB or more) or ``external_data`` is True: then
    they go to ``<out>.data`` beside it, which must travel with the ``.onnx`` file. Everything is
    written under a temporary name in ``out``'s folder and renamed at the end, so a failed export
    leaves no partial file and an earlier export at ``out`` stays intact until it succeeds.

    Args:
        task: the model's task (its config, inference module and input shape).
        model: the trained (or randomly initialised) pose model.
        out: destination ``.onnx`` path.
        opset: ONNX opset version (the dynamo exporter supports 18 and above).
        batch: ``"dynamic"`` for a free batch axis, or a fixed positive batch size.
        check: run ``onnx.checker`` (full check) on the written file.
        external_data: True forces ``<out>.data``, False forbids it; None decides by size.
    """
    import onnx

    if batch != "dynamic" and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise ValueError(f"batch must be 'dynamic' or a positive int, got {batch!r}")
    if not isinstance(opset, int) or opset < 18:
        raise ValueError(f"opset must be an int >= 18 (dynamo exporter), got {opset!r}")
    out = Path(out)
    _check_output_path(out)
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
    # The exporter narrates each step on stdout and warns about absent torchvision ops.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                net, (example,), None, dynamo=True, opset_version=opset,
                input_names=["input"], output_names=output_names, verbose=False, **kwargs,
            )
    finally:
        quiet.setLevel(level)
    for key, value in _metadata(task.cfg, batch).items():
        program.model.metadata_props[METADATA_PREFIX + key] = value
    size = _weight_bytes(program.model)
    if external_data is None:
        external_data = size > EXTERNAL_DATA_BYTES
    elif not external_data and size > EXTERNAL_DATA_BYTES:
        raise ValueError(f"the weights take {size / 1e9:.2f} GB, over protobuf's 2 GB limit for "
                         "one file; export them as external data")
    out.parent.mkdir(parents=True, exist_ok=True)
    data = out.with_name(out.name + ".data")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        staged = staging / out.name  # the same name, so the .data reference is the final one
        program.save(staged, external_data=external_data)
        del program
        if check:
            onnx.checker.check_model(str(staged), full_check=True)
        if external_data:
            os.replace(staged.with_name(data.name), data)
        else:
            data.unlink(missing_ok=True)  # an earlier external-data export's weights
        os.replace(staged, out)
    except OSError as exc:
        if exc.filename is not None and str(staging) in str(exc.filename):
            raise OSError(exc.errno, exc.strerror or str(exc), str(out)) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def export_checkpoint(checkpoint: str | Path, out: str | Path, *, opset: int = 18,
                      batch: int | str = "dynamic", external_data: bool | None = None) -> Path:
    """Export a posekit checkpoint (EMA weights when present, as eval uses)."""
    _check_output_path(Path(out))
    trained = load_trained(checkpoint)
    return export_onnx(trained.task, trained.model, out, opset=opset, batch=batch,
                       external_data=external_data)


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
                            batch=_parse_batch(str(args.batch)),
                            external_data=True if getattr(args, "external_data", False) else None)
    meta = read_metadata(out)
    data = out.with_name(out.name + ".data")
    weights = f" + {data.name} {data.stat().st_size / 1e6:.1f} MB" if data.is_file() else ""
    print(f"exported {args.checkpoint} → {out} ({out.stat().st_size / 1e6:.1f} MB{weights}, opset "
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
