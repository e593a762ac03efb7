"""Network latency on onnxruntime vs eager PyTorch: ms/person at a given batch of crops.

Runs ``task.inference_model(model)`` (eager, ``torch.inference_mode``) and the same model
exported by ``posekit.export.onnx.export_onnx`` (dynamic batch) on onnxruntime's CPU provider,
both with the same number of threads, on the same random input; random weights (speed does not
depend on them). Prints a markdown table for docs/benchmarks.md, with the max |Δ| of the outputs.

    python benchmarks/bench_onnx.py \
        configs/simplebaseline/simplebaseline_tiny_synthpose_128x96.yaml \
        configs/simplebaseline/simplebaseline_res50_coco_256x192.yaml --batch 1 8 --threads 1
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from posekit.config import load_config
from posekit.engine.tasks import build_task
from posekit.export.onnx import OnnxRunner, export_onnx


def timed(fn, x: torch.Tensor, repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``fn(x)`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="+")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, onnxruntime "
          f"{__import__('onnxruntime').__version__}, {args.threads} threads each, "
          f"{platform.machine()}, median of {args.repeats}")
    print("| model | input (w×h) | batch | eager ms/person | onnxruntime ms/person | speed-up "
          "| max abs diff |")
    print("|---|---|---|---|---|---|---|")
    for path in args.configs:
        cfg = load_config(path)
        task = build_task(cfg)
        torch.manual_seed(0)
        model = task.build_model().eval()
        net = task.inference_model(model)
        with tempfile.TemporaryDirectory() as tmp:
            runner = OnnxRunner(export_onnx(task, model, Path(tmp) / "m.onnx"),
                                threads=args.threads)
            for batch in args.batch:
                x = task.example_input(batch)
                with torch.inference_mode():
                    eager = timed(net, x, args.repeats)
                    diff = (net(x) - runner(x)).abs().max().item()
                ort = timed(runner, x, args.repeats)
                w, h = cfg.codec.input_size
                print(f"| {cfg.model.name} | {w}×{h} | {batch} | {1000 * eager / batch:.2f} | "
                      f"{1000 * ort / batch:.2f} | {eager / ort:.2f}× | {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
