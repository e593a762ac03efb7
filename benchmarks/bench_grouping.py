"""OpenPose grouping speed: ms/image for 1, 5, 20, 50 people at 368×368, next to the forward pass.

Maps are rendered from known people (posekit.grouping.scenes) with a little smooth noise, at
image resolution, as the pipeline hands them to grouping. Optionally also times
pytorch-openpose's pure-Python parser on the same maps (``--reference-body PATH/src/body.py``;
its code is read at run time from that file, see tests/grouping/make_pytorch_openpose_fixtures.py)
and checks both return the same people. Prints a Markdown table. Grouping uses the compiled
kernels when numba is installed (``pip install posekit[fast]``); ``--no-numba`` times the NumPy
path. ``--rounds N`` then times forward and grouping in alternation N times and prints the
median ratio (steadier on a shared, drifting machine).

    OMP_NUM_THREADS=1 python benchmarks/bench_grouping.py --reference-body /tmp/pyopenpose_body.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from posekit.grouping import GroupingConfig, assemble_people, paf_grouping
from posekit.grouping.scenes import random_people, render_maps
from posekit.models import build_model


def scene(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    people = random_people(n, (size, size), rng, missing=0.2)
    hm, paf = render_maps(people, (size, size), sigma=3.0, limb_width=2.0)
    noise = gaussian_filter(rng.normal(0, 0.03, hm.shape), (0, 2, 2))
    return (hm * 0.9 + noise).astype(np.float32), paf


def timed(fn, repeat: int) -> tuple[float, object]:
    best = float("inf")
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3, out


def forward_ms(name: str, size: int, repeat: int, model: torch.nn.Module | None = None) -> float:
    model = (model or build_model(name)).eval()
    x = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        model(x)
        ms, _ = timed(lambda: model(x), repeat)
    return ms


def interleaved(people: list[int], size: int, repeat: int, rounds: int) -> None:
    """Forward and grouping timed in alternation, ``rounds`` times: on a machine whose speed
    drifts (shared hosts), the per-round ratio is steadier than two separately timed numbers."""
    cfg = GroupingConfig.cmu()
    model = build_model("openpose_light")
    scenes = {n: scene(n, size, seed=n) for n in people}
    fwd, grp = [], {n: [] for n in people}
    for _ in range(rounds):
        fwd.append(forward_ms("openpose_light", size, repeat, model))
        for n, (hm, paf) in scenes.items():
            grp[n].append(timed(lambda hm=hm, paf=paf: assemble_people(hm, paf, cfg), repeat)[0])
    f = np.asarray(fwd)
    print(f"\ninterleaved, {rounds} rounds (best of {repeat} each): light forward median "
          f"{np.median(f):.1f} ms (range {f.min():.1f}–{f.max():.1f})")
    print("| people | grouping ms median (range) | vs light fwd: median of rounds (range) |")
    print("|---:|---:|---:|")
    for n in people:
        g = np.asarray(grp[n])
        r = 100 * g / f
        print(f"| {n} | {np.median(g):.1f} ({g.min():.1f}–{g.max():.1f}) | {np.median(r):.0f}% "
              f"({r.min():.0f}–{r.max():.0f}%) |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="*", default=[1, 5, 20, 50])
    parser.add_argument("--size", type=int, default=368)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference-body", default="", help="pytorch-openpose src/body.py")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=0,
                        help="then time forward and grouping in alternation this many rounds")
    parser.add_argument("--no-numba", action="store_true",
                        help="NumPy peak search and limb scoring even if numba is installed")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    paf_grouping.USE_NUMBA = paf_grouping.USE_NUMBA and not args.no_numba
    ref = None
    if args.reference_body:
        sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "grouping"))
        from make_pytorch_openpose_fixtures import load_reference_parser

        ref = load_reference_parser(args.reference_body)
    fwd_light = forward_ms("openpose_light", args.size, args.repeat)
    fwd_cmu = forward_ms("openpose_cmu_coco", args.size, max(1, args.repeat // 2))
    print(f"forward at {args.size}x{args.size}, {args.threads} thread(s): openpose_light "
          f"{fwd_light:.1f} ms, openpose_cmu_coco {fwd_cmu:.1f} ms; grouping kernels: "
          f"{'numba' if paf_grouping.USE_NUMBA else 'NumPy'}")
    print("| people | found | grouping ms | vs light fwd | parser ms | speed-up | same people |")
    print("|---:|---:|---:|---:|---:|---:|:--|")
    cfg = GroupingConfig.cmu()
    assemble_people(*scene(1, args.size, seed=0), cfg)  # compile (or load) the numba kernels
    for n in args.people:
        hm, paf = scene(n, args.size, seed=n)
        ms, (peaks, people) = timed(lambda hm=hm, paf=paf: assemble_people(hm, paf, cfg),
                                    args.repeat)
        row = f"| {n} | {len(people)} | {ms:.1f} | {100 * ms / fwd_light:.0f}% |"
        if ref is not None:
            h64, p64 = hm.astype(np.float64).transpose(1, 2, 0), paf.astype(np.float64).transpose(
                1, 2, 0)
            img = np.zeros((args.size, args.size, 3), np.uint8)
            rms, (cand, subset) = timed(lambda h64=h64, p64=p64, img=img: ref(h64, p64, img),
                                        max(1, args.repeat // 2))
            same = (np.asarray(subset).shape == people.shape
                    and np.array_equal(np.asarray(subset)[:, :18], people[:, :18]))
            row += f" {rms:.0f} | {rms / ms:.0f}× | {'yes' if same else 'NO'} |"
        else:
            row += " – | – | – |"
        print(row)
    if args.rounds > 0:
        interleaved(args.people, args.size, args.repeat, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
