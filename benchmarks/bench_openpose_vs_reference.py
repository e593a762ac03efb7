"""CMU body model: posekit's bottom-up pipeline against pytorch-openpose's ``Body``, side by side.

Same seeded weights (tests/fixtures/openpose), same real photo, same thread count, calls
interleaved round by round (reference, posekit eager, posekit onnxruntime), medians over rounds.
posekit runs the CMU config's pipeline (the ``cmu`` preset: the same people as ``Body``, tested in
tests/pipelines/test_bottomup_pytorch_openpose.py); the reference runs unchanged from a
pytorch-openpose checkout in this process, its network timed apart by wrapping ``Body.model``.

Seeded maps are noise with ~1,300 peaks where a trained model's hold a few per person, so the
grouping share here is the parser's worst case; the "network" columns compare the forward alone.

    PYTHONPATH=$PWD python benchmarks/bench_openpose_vs_reference.py PATH/TO/pytorch-openpose \
        [--image tests/fixtures/real/mmpose_coco/000000196141.jpg] [--threads 1] [--rounds 3]

:func:`compare` returns the row as a dict for other benchmark scripts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "pipelines"))
from make_pytorch_openpose_e2e_fixtures import (  # noqa: E402
    IMAGE_DIR,
    WEIGHTS,
    load_body,
    seeded_state_dict,
)

from posekit.config import find_config, load_config  # noqa: E402
from posekit.engine.tasks import build_task  # noqa: E402
from posekit.export.onnx import OnnxRunner, export_onnx  # noqa: E402
from posekit.models.openpose import remap_openpose_cmu_state_dict  # noqa: E402

IMAGE = IMAGE_DIR / "000000196141.jpg"


class TimedForward(nn.Module):
    """Wraps the reference's network; ``seconds`` holds its last forward's wall time."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.seconds = net, 0.0

    def forward(self, x: torch.Tensor):
        start = time.perf_counter()
        out = self.net(x)
        self.seconds = time.perf_counter() - start
        return out


def compare(repo: str, image_path: str | Path = IMAGE, rounds: int = 3, threads: int = 1,
            onnx: bool = True) -> dict[str, float]:
    """Median ms/image of ``Body`` and of posekit (eager, onnxruntime), their networks alone,
    the speed ratios reference / posekit (> 1: posekit faster) and the people each finds."""
    torch.set_num_threads(threads)
    weights = seeded_state_dict(np.load(WEIGHTS))
    cfg = load_config(find_config("openpose_cmu_coco"))
    task = build_task(cfg)
    model = task.build_model().eval()
    model.load_state_dict(remap_openpose_cmu_state_dict(weights))
    pipes = {"eager": task.pipeline(task.inference_model(model))}
    image = cv2.imread(str(image_path))
    with tempfile.TemporaryDirectory() as tmp:
        if onnx:  # before the reference's torchvision stand-in, which the exporter looks up
            runner = OnnxRunner(export_onnx(task, model, Path(tmp) / "cmu.onnx"), threads=threads)
            pipes["onnxruntime"] = task.pipeline(runner)
        body = load_body(repo, weights)
        body.model = TimedForward(body.model)
        times: dict[str, list[float]] = {k: [] for k in ("reference", "reference network",
                                                         *pipes, *(f"{k} network" for k in pipes))}
        with torch.inference_mode():
            people = {"reference people": float(len(body(image)[1]))}  # also the warm-up
            for name, pipe in pipes.items():
                people[f"{name} people"] = float(len(pipe(image)))
            for _ in range(rounds):
                start = time.perf_counter()
                body(image)
                times["reference"].append(time.perf_counter() - start)
                times["reference network"].append(body.model.seconds)
                for name, pipe in pipes.items():
                    start = time.perf_counter()
                    pipe(image)
                    times[name].append(time.perf_counter() - start)
                    times[f"{name} network"].append(pipe.timing["network"])
    ms = {f"{k} ms": 1000 * float(np.median(v)) for k, v in times.items()}
    for name in pipes:
        ms[f"{name} speed-up"] = ms["reference ms"] / ms[f"{name} ms"]
        ms[f"{name} network speed-up"] = ms["reference network ms"] / ms[f"{name} network ms"]
    return ms | people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", help="pytorch-openpose checkout (holds src/body.py)")
    parser.add_argument("--image", default=str(IMAGE))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-onnx", action="store_true")
    args = parser.parse_args()
    row = compare(args.repo, args.image, args.rounds, args.threads, not args.no_onnx)
    print(f"CMU body vs pytorch-openpose Body, {Path(args.image).name}, {args.threads} thread(s), "
          f"median of {args.rounds} interleaved rounds")
    print("| measure | value |\n|---|---|")
    for key, value in row.items():
        value = f"{value:.0f}" if key.endswith("people") else f"{value:,.2f}"
        print(f"| {key} | {value}{'×' if 'speed-up' in key else ''} |")


if __name__ == "__main__":
    main()
