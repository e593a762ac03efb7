"""ONNX export of a model over protobuf's 2 GB limit (ViTPose-H, 637 M parameters).

Three steps, each its own process so ``/usr/bin/time -v`` measures it alone:

    python benchmarks/export_large.py checkpoint OUT_DIR   # untrained ViTPose-H: vitpose_h.pt
    posekit export --checkpoint OUT_DIR/vitpose_h.pt --out OUT_DIR/vitpose_h.onnx
    python benchmarks/export_large.py parity OUT_DIR       # onnxruntime vs eager, one crop

The weights are random (seeded), which is all an export and a parity check need.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from posekit.config import config_to_dict, load_config
from posekit.engine.checkpoint import save_checkpoint
from posekit.engine.loading import load_trained
from posekit.engine.tasks import build_task
from posekit.export.onnx import OnnxRunner

CONFIG = "vitpose_huge_coco_256x192"


def make_checkpoint(out_dir: Path) -> None:
    torch.manual_seed(0)
    cfg = load_config(CONFIG)
    model = build_task(cfg).build_model()
    # MMPose's head init (final conv std 0.001) gives near-zero heatmaps, against which any
    # parity figure is vacuous; fan-in-scaled head weights give heatmaps of order one.
    with torch.no_grad():
        for name, t in model.head.named_parameters():
            if name.endswith("weight") and t.ndim > 1:
                t.normal_(0.0, t[0].numel() ** -0.5)
    params = sum(p.numel() for p in model.parameters())
    path = save_checkpoint({"model": model.state_dict(), "config": config_to_dict(cfg),
                            "epoch": -1}, out_dir / "vitpose_h.pt")
    print(f"{path}: {params / 1e6:.2f} M parameters, {path.stat().st_size / 1e9:.2f} GB")


def parity(out_dir: Path) -> None:
    onnx_path = out_dir / "vitpose_h.onnx"
    start = time.perf_counter()
    runner = OnnxRunner(onnx_path)
    print(f"onnxruntime session: {time.perf_counter() - start:.1f} s")
    trained = load_trained(out_dir / "vitpose_h.pt")
    net = trained.task.inference_model(trained.model)
    x = trained.task.example_input(1)
    with torch.inference_mode():
        start = time.perf_counter()
        eager = net(x)
        eager_s = time.perf_counter() - start
    start = time.perf_counter()
    ort = runner(x)
    ort_s = time.perf_counter() - start
    diff = (ort - eager).abs().max().item()
    print(f"heatmaps {tuple(eager.shape)}: max |eager - onnxruntime| = {diff:.2e} "
          f"(eager max |value| {eager.abs().max().item():.3f}, std {eager.std().item():.3f}); "
          f"one crop: eager {eager_s:.2f} s, onnxruntime {ort_s:.2f} s")


if __name__ == "__main__":
    step, folder = sys.argv[1], Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    {"checkpoint": make_checkpoint, "parity": parity}[step](folder)
