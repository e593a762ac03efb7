"""posekit against its reference, side by side: the same weights, the same real image, calls
interleaved in one run, one thread each; prints a markdown table of medians and ratios.

    PYTHONPATH=$PWD python benchmarks/bench_vs_reference.py \
        --mmpose-python $MMPOSE_VENV/bin/python --openpose PATH/TO/pytorch-openpose \
        [--shim DIR] [--rows rtmo_s,simplebaseline_res50,vitpose_base,cmu_body] [--runs 7]

Each row of ``ROWS`` names a posekit config, the reference's config and how the weights are made:

- top-down rows: MMPose builds its model (its own initialisation) and saves the weights;
  ``posekit convert``'s function converts them. The 5 people of the image (its COCO boxes) are
  given as boxes to both, with flip test (the configs' default on both sides);
- RTMO-s: the calibrated seeded weights of the one-stage parity fixture (person scores spread
  over (0, 1); on 000000196141.jpg both sides find the same 311 people), written in MMPose's
  key names for MMPose and converted for posekit.

The reference runs in its own environment as a subprocess (``benchmarks/mmpose_server.py``, a
JSON-lines loop on stdin/stdout), so each round calls posekit eager, posekit onnxruntime and the
reference once, in a rotating order, each timing its own call from image path to people (image
reading included); medians over ``--runs`` rounds after one warm-up call each. A row may name
another reference server (``SERVERS``). The CMU body model's row (``--openpose``) runs
pytorch-openpose's ``Body`` in this process, through benchmarks/bench_openpose_vs_reference.py's
``compare`` (its seeded weights, interleaved rounds, the same image). Columns: ms of each side,
reference ms / eager ms (≥ 1 means posekit eager is at least as fast), eager ms / onnxruntime
ms, and for one-stage rows the post-processing (score filter, NMS, back to image pixels) as a
share of the network time (backbone to head, with the DCC); for the CMU row everything but the
network (resize, padding, map upsampling, peaks, grouping) as that share.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from bench_openpose_vs_reference import compare  # a sibling script

from posekit.api import PoseEstimator
from posekit.export.convert import convert_checkpoint
from posekit.export.onnx import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]
COCO = ROOT / "tests" / "fixtures" / "real" / "mmpose_coco"
MMPOSE_CONFIGS = "body_2d_keypoint"


def rtmo_calibrated_weights(path: Path) -> None:
    """The one-stage parity fixture's calibrated RTMO-s weights, MMPose key names, at ``path``."""
    sys.path.insert(0, str(ROOT / "tests" / "pipelines"))
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    from test_onestage_mmpose_e2e import FIXTURES, calibrated_mmpose_state_dict

    calibration = json.loads((FIXTURES / "mmpose_rtmo_e2e.json").read_text())["calibration"]
    torch.save({"state_dict": calibrated_mmpose_state_dict(calibration)}, path)


@dataclass(frozen=True)
class Row:
    """One comparison: posekit's config, the reference's, and where the weights come from."""

    name: str
    posekit_config: str  # path relative to the repository root
    reference_config: str  # what the reference server loads (MMPose: relative to its configs)
    reference: str  # "inference_topdown", "inference_bottomup", ... (for the table)
    boxes: bool  # top-down: the image's people are given as boxes
    weights: Callable[[Path], None] | None = None  # writes reference-format weights; None:
    # the reference server writes its own freshly built model's weights
    server: str = "mmpose"  # key of SERVERS


ROWS = [
    Row("simplebaseline_res50", "configs/simplebaseline/simplebaseline_res50_coco_256x192.yaml",
        f"{MMPOSE_CONFIGS}/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py",
        "inference_topdown", boxes=True),
    Row("vitpose_base", "configs/vitpose/vitpose_base_coco_256x192.yaml",
        f"{MMPOSE_CONFIGS}/topdown_heatmap/coco/td-hm_ViTPose-base_8xb64-210e_coco-256x192.py",
        "inference_topdown", boxes=True),
    Row("rtmo_s", "configs/rtmo/rtmo-s_coco_640x640.yaml",
        f"{MMPOSE_CONFIGS}/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py",
        "inference_bottomup", boxes=False, weights=rtmo_calibrated_weights),
]
CMU_ROW = "cmu_body"  # the CMU body model against pytorch-openpose's Body (--openpose)


def cmu_row(repo: str, image: Path, runs: int) -> dict:
    """The CMU body model's row: bench_openpose_vs_reference.compare, as the other rows' dict."""
    r = compare(repo, image, rounds=runs, threads=1)
    row = Row(CMU_ROW, "configs/openpose/openpose_cmu_coco.yaml", "src/body.py",
              "pytorch-openpose `Body`", boxes=False)
    network = r["eager network ms"]
    return {"row": row, "people": {k: int(r[f"{k} people"]) for k in ("eager", "reference")},
            "ms": {k: r[f"{k} ms"] for k in ("eager", "onnxruntime", "reference")},
            "post_share": (r["eager ms"] - network) / network,
            "post_ms": r["eager ms"] - network, "network_ms": network}


class Server:
    """A reference server subprocess speaking JSON lines (see benchmarks/mmpose_server.py)."""

    def __init__(self, command: list[str]) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env, bufsize=1)

    def ask(self, **msg: object) -> dict:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(msg) + "\n")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"reference server exited (code {self.proc.poll()}); see stderr")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"reference server: {reply['error']}")
        return reply

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
        self.proc.stdin.flush()
        self.proc.wait(timeout=60)


def mmpose_server(args: argparse.Namespace) -> list[str]:
    cmd = [args.mmpose_python, str(ROOT / "benchmarks" / "mmpose_server.py"), "--threads", "1"]
    return cmd + (["--shim", args.shim] if args.shim else [])


SERVERS: dict[str, Callable[[argparse.Namespace], list[str]]] = {"mmpose": mmpose_server}


def image_boxes(image: Path) -> list[list[float]]:
    """The image's COCO person boxes (xyxy image pixels) from the sample's annotations."""
    coco = json.loads((COCO / "test_coco.json").read_text())
    image_id = next(im["id"] for im in coco["images"] if im["file_name"] == image.name)
    return [[x, y, x + w, y + h] for x, y, w, h in
            (a["bbox"] for a in coco["annotations"] if a["image_id"] == image_id)]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def bench_row(row: Row, server: Server, image: Path, runs: int, work: Path) -> dict:
    """Median ms of posekit eager, posekit onnxruntime and the reference, interleaved."""
    source = work / f"{row.name}_reference.pth"
    if row.weights is not None:
        row.weights(source)
    server.ask(cmd="load", row=row.name, config=row.reference_config, checkpoint=str(source),
               write_init=row.weights is None)
    checkpoint = convert_checkpoint(source, ROOT / row.posekit_config, work / f"{row.name}.pt")
    onnx = export_checkpoint(checkpoint, work / f"{row.name}.onnx")
    boxes = image_boxes(image) if row.boxes else None
    detector = (lambda _image: np.asarray(boxes)) if boxes else None
    eager = PoseEstimator.from_checkpoint(checkpoint, detector=detector)
    ort = PoseEstimator.from_checkpoint(onnx, detector=detector, threads=1)
    calls = {
        "eager": lambda: eager(image),
        "onnxruntime": lambda: ort(image),
        "reference": lambda: server.ask(cmd="run", row=row.name, image=str(image), boxes=boxes),
    }
    people = {"eager": len(eager(image)), "onnxruntime": len(ort(image)),
              "reference": calls["reference"]()["people"]}  # also the warm-up calls
    times: dict[str, list[float]] = {k: [] for k in calls}
    phases: list[dict[str, float]] = []
    order = list(calls)
    for r in range(runs):
        for side in order[r % 3:] + order[: r % 3]:  # rotate who goes first
            if side == "reference":
                times[side].append(calls[side]()["ms"])
            else:
                times[side].append(timed(calls[side]))
                if side == "eager":
                    phases.append(eager.timing)
    med = {k: statistics.median(v) for k, v in times.items()}
    network = statistics.median(p["network"] for p in phases)
    post = statistics.median(p["decode"] for p in phases)
    return {"row": row, "ms": med, "people": people, "post_share": post / network,
            "post_ms": post * 1e3, "network_ms": network * 1e3}


def print_table(results: list[dict]) -> None:
    print("| model | reference | people (posekit / ref) | posekit eager ms | posekit onnxruntime "
          "ms | reference ms | ref / eager | eager / onnxruntime | post-processing / network |")
    print("|---|---|---|---|---|---|---|---|---|")
    for res in results:
        row, ms, people = res["row"], res["ms"], res["people"]
        post = (f"{100 * res['post_share']:.1f}% ({res['post_ms']:.0f} of "
                f"{res['network_ms']:.0f} ms)" if not row.boxes else "–")
        print(f"| {row.name} | {row.reference} | {people['eager']} / {people['reference']} | "
              f"{ms['eager']:.0f} | {ms['onnxruntime']:.0f} | {ms['reference']:.0f} | "
              f"{ms['reference'] / ms['eager']:.2f}× | {ms['eager'] / ms['onnxruntime']:.2f}× | "
              f"{post} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mmpose-python", required=True,
                        help="python of an environment with MMPose 1.3.2 installed")
    parser.add_argument("--shim", default="",
                        help="directory with an mmpose_reference.py the MMPose side imports first "
                             "(stubs for mmcv's compiled ops where they are not installed)")
    parser.add_argument("--image", type=Path, default=COCO / "000000196141.jpg")
    parser.add_argument("--openpose", default="",
                        help="pytorch-openpose checkout (holds src/body.py): adds the CMU row")
    parser.add_argument("--rows", default="",
                        help="comma-separated rows (default: all; the CMU row with --openpose)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    known = [r.name for r in ROWS] + [CMU_ROW]
    default = [r.name for r in ROWS] + ([CMU_ROW] if args.openpose else [])
    wanted = args.rows.split(",") if args.rows else default
    unknown = set(wanted) - set(known)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; known: {known}")
    if CMU_ROW in wanted and not args.openpose:
        parser.error(f"the {CMU_ROW} row needs --openpose PATH/TO/pytorch-openpose")
    servers: dict[str, Server] = {}
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for row in (r for r in ROWS if r.name in wanted):
                if row.server not in servers:
                    servers[row.server] = Server(SERVERS[row.server](args))
                results.append(bench_row(row, servers[row.server], args.image, args.runs,
                                         Path(tmp)))
                print(f"{row.name}: done", file=sys.stderr, flush=True)
        if CMU_ROW in wanted:
            results.append(cmu_row(args.openpose, args.image, args.runs))
    finally:
        for server in servers.values():
            server.close()
    print(f"\n{args.image.name}, one thread per side, median of {args.runs} interleaved rounds, "
          f"torch {torch.__version__}\n")
    print_table(results)


if __name__ == "__main__":
    main()
