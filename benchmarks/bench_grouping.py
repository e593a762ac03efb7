"""OpenPose grouping against its targets: the parser's speed and the CMU body model's forward.

Maps of 1, 5, 20 and 50 rendered people at 368×368 with a little smooth noise
(tests/grouping/make_pytorch_openpose_fixtures.py:parser_scene), at image resolution as the
pipeline hands them to grouping. Each round times posekit's grouping and pytorch-openpose's
pure-Python parser (``--reference-body PATH/src/body.py``, read at run time, not part of posekit)
on the same maps, asserts both return the same people, and times the CMU body model's forward
(``OpenPoseCMU``, seeded random weights: the time does not depend on their values) on a
1×3×368×368 input. Rounds alternate the timings, so on a shared machine the median over rounds
is steadier than one long measurement. Prints a Markdown table with the targets.

    OMP_NUM_THREADS=1 python benchmarks/bench_grouping.py \
        --reference-body PATH/TO/pytorch-openpose/src/body.py
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "grouping"))
from make_pytorch_openpose_fixtures import load_reference_parser, parser_scene  # noqa: E402

from posekit.grouping import GroupingConfig, assemble_people  # noqa: E402
from posekit.models import build_model  # noqa: E402

SPEED_UP_TARGETS = {5: 10.0, 20: 20.0, 50: 20.0}  # people: ≥ this × the parser's speed
FORWARD_PEOPLE, FORWARD_SHARE = 20, 0.05  # grouping ≤ 5% of the CMU forward at 20 people


def best_ms(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """The fastest of ``repeat`` calls in ms, and the last call's result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-body", required=True, help="pytorch-openpose src/body.py")
    parser.add_argument("--people", type=int, nargs="*", default=[1, 5, 20, 50])
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the table has medians")
    parser.add_argument("--repeat", type=int, default=10, help="grouping calls per round (best)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    reference = load_reference_parser(args.reference_body)
    torch.manual_seed(0)
    model = build_model("openpose_cmu_coco").eval()
    x = torch.randn(1, 3, 368, 368)
    cfg = GroupingConfig.cmu()
    people = sorted(set(args.people) | {FORWARD_PEOPLE})
    scenes = {}
    for n in people:
        hm, paf = parser_scene(n, seed=n)
        hm, paf = hm.astype(np.float32), paf.astype(np.float32)  # as the pipeline hands them
        scenes[n] = hm, paf, hm.astype(np.float64).transpose(1, 2, 0), paf.astype(
            np.float64).transpose(1, 2, 0)
    image = np.zeros((368, 368, 3), np.uint8)
    ours: dict[int, list[float]] = {n: [] for n in people}
    theirs: dict[int, list[float]] = {n: [] for n in people}
    found: dict[int, int] = {}
    forward: list[float] = []
    with torch.inference_mode():
        model(x)  # warm-up
        for _ in range(args.rounds):
            forward.append(best_ms(lambda: model(x), 2)[0])
            for n, (hm, paf, hm64, paf64) in scenes.items():
                ms, (_, got) = best_ms(lambda hm=hm, paf=paf: assemble_people(hm, paf, cfg),
                                       args.repeat)
                rms, (_, subset) = best_ms(
                    lambda h=hm64, p=paf64: reference(h, p, image), 1)
                subset = np.asarray(subset).reshape(-1, 20)
                assert got.shape == subset.shape and np.array_equal(got[:, :18], subset[:, :18]), (
                    f"{n} people: grouping and the parser return different people")
                ours[n].append(ms)
                theirs[n].append(rms)
                found[n] = len(got)
    fwd = float(np.median(forward))
    print(f"{args.rounds} rounds, medians; {args.threads} thread(s); 368×368 maps; "
          f"CMU body model forward {fwd:.0f} ms")
    print("| people | found | posekit grouping ms | pytorch-openpose parser ms | speed-up "
          "| target | same people |")
    print("|---:|---:|---:|---:|---:|---:|:--|")
    for n in args.people:
        speed = np.median(np.asarray(theirs[n]) / np.asarray(ours[n]))
        target = f"≥ {SPEED_UP_TARGETS[n]:.0f}×" if n in SPEED_UP_TARGETS else "–"
        met = "" if n not in SPEED_UP_TARGETS else (
            " (met)" if speed >= SPEED_UP_TARGETS[n] else " (MISSED)")
        print(f"| {n} | {found[n]} | {np.median(ours[n]):.1f} | {np.median(theirs[n]):.0f} | "
              f"{speed:.0f}× | {target}{met} | yes |")
    share = np.median(np.asarray(ours[FORWARD_PEOPLE]) / np.asarray(forward))
    print(f"\n| grouping at {FORWARD_PEOPLE} people | CMU forward (368×368) | share | target |")
    print("|---:|---:|---:|---:|")
    print(f"| {np.median(ours[FORWARD_PEOPLE]):.1f} ms | {fwd:.0f} ms | {100 * share:.2f}% | "
          f"≤ {100 * FORWARD_SHARE:.0f}%{' (met)' if share <= FORWARD_SHARE else ' (MISSED)'} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
