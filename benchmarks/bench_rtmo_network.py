"""Forward time of the RTMO network on this CPU: eager PyTorch vs onnxruntime, batch 1.

    PYTHONPATH=$PWD python benchmarks/bench_rtmo_network.py [--threads 1] [--runs 5]

For rtmo_tiny at 256×256 and rtmo_s at 640×640 it prints ms per image of
- ``forward``: the raw head outputs (`RTMO.forward`, what training uses);
- ``dense``: `RTMO.predict_dense`, every location decoded by the DCC (with a score threshold of 0,
  `RTMOInference`'s exported graph is this);
- ``onnxruntime``: that graph exported (dynamo exporter, opset 18, fixed shape).
Random weights (timing does not depend on them). Median of ``--runs`` after one warm-up.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

from posekit.models import build_model
from posekit.models.rtmo import RTMOInference


def _median_ms(fn, arg, runs: int) -> float:
    fn(arg)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(arg)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime as ort

    print("| model | input | params | forward ms | dense ms | onnxruntime ms |")
    print("|---|---|---|---|---|---|")
    for name, size in (("rtmo_tiny", 256), ("rtmo_s", 640)):
        model = build_model(name).eval()
        net = RTMOInference(model, score_thresh=0.0).eval()  # every location a candidate
        x = torch.rand(1, 3, size, size) * 255
        with torch.inference_mode():
            fwd = _median_ms(model, x, args.runs)
            dense = _median_ms(net, x, args.runs)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{name}.onnx"
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(net, (x,), str(path), opset_version=18, dynamo=True,
                                  input_names=["images"])
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = args.threads
            sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            onnx_ms = _median_ms(functools.partial(sess.run, None), {"images": x.numpy()},
                                 args.runs)
        params = sum(p.numel() for p in model.parameters())
        print(f"| {name} | {size}x{size} | {params / 1e6:.2f} M | {fwd:.1f} | {dense:.1f} | "
              f"{onnx_ms:.1f} |")


if __name__ == "__main__":
    main()
