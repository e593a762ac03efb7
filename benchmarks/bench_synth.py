"""SynthPose generation speed: images/s on one CPU core, per crowd level.

Writes each dataset (JPEGs + json) to a temporary folder, as ``posekit synth`` does, and prints
a Markdown table for docs/benchmarks.md. With ``--workers 1`` the process is pinned to one core
and OpenCV to one thread, so the figure is a one-core figure even on a busy machine.

    python benchmarks/bench_synth.py --num-images 500 --size 256
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import cv2

from posekit.data.synthpose import CROWD_LEVELS, generate_dataset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=500)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--crowd", nargs="*", default=list(CROWD_LEVELS),
                        choices=list(CROWD_LEVELS))
    parser.add_argument("--style", nargs="*", default=["classic"],
                        help="styles or families to time (e.g. classic rich blocks random)")
    args = parser.parse_args(argv)

    if args.workers == 1:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        cv2.setNumThreads(1)
    print(f"# SynthPose generation: {args.num_images} images {args.size}x{args.size}, "
          f"workers={args.workers}, seed={args.seed}")
    print(f"# Python {platform.python_version()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs visible, OpenCV {cv2.__version__}")
    print("| style | crowd | images/s | ms/image | people/image (mean, min–max) | "
          "v=2 / v=1 / v=0 | "
          "sqrt(area) p10 / p50 / p90 px |")
    print("|---|---|---|---|---|---|---|")
    for style, crowd in [(st, c) for st in args.style for c in args.crowd]:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            s = generate_dataset(out, args.num_images, seed=args.seed, size=args.size,
                                 crowd=crowd, workers=args.workers, style=style)
            seconds = time.perf_counter() - start
        ppi, vis, sa = s["people_per_image"], s["visibility"], s["sqrt_area"]
        ms = 1000 * seconds / args.num_images
        print(f"| {style} | {crowd} | {args.num_images / seconds:.0f} | {ms:.1f}"
              f" | {ppi['mean']:.2f} ({ppi['min']}–{ppi['max']}) | "
              f"{100 * vis['v2']:.0f}% / {100 * vis['v1']:.0f}% / {100 * vis['v0']:.0f}% | "
              f"{sa['p10']:.0f} / {sa['p50']:.0f} / {sa['p90']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
