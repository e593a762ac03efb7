"""Outputs of pytorch-openpose's pure-Python parser on rendered maps (not run by pytest).

Usage: python tests/grouping/make_pytorch_openpose_fixtures.py PATH/TO/pytorch-openpose/src/body.py

The parser is the part of ``Body.__call__`` after the network (from ``all_peaks = []`` to
``return candidate, subset``), read from the given file at run time and executed on maps from
:func:`parser_scene` (its code is not part of posekit). Only its outputs are stored, in
tests/fixtures/openpose/pytorch_openpose_parser.npz: per scene the candidate table (x, y, score,
id) and the subset table (18 peak ids, total score, part count).
"""

from __future__ import annotations

import math
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from posekit.grouping.scenes import random_people, render_maps

SCENES = {"p2": (2, 11), "p5": (5, 12), "p20": (20, 13)}  # name: (people, seed)
SIZE = (368, 368)


def parser_scene(
    n: int, seed: int, size: tuple[int, int] = SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Rendered maps (19, H, W), (38, H, W) of ``size`` = (w, h) in float64 with a little
    smooth noise."""
    rng = np.random.default_rng(seed)
    people = random_people(n, size, rng, missing=0.2)
    hm, paf = render_maps(people, size, sigma=3.0, limb_width=2.0)
    noise = gaussian_filter(rng.normal(0, 0.03, hm.shape), (0, 2, 2))
    return hm.astype(np.float64) * 0.9 + noise, paf.astype(np.float64)


def load_reference_parser(body_py: str):
    src = Path(body_py).read_text().splitlines()
    start = next(i for i, line in enumerate(src) if line.strip() == "all_peaks = []")
    end = next(i for i, line in enumerate(src) if line.strip() == "return candidate, subset")
    body = textwrap.dedent("\n".join(src[start:end + 1]))
    code = "def parse(heatmap_avg, paf_avg, oriImg, thre1=0.1, thre2=0.05):\n" + textwrap.indent(
        body, "    ")
    ns = {"np": np, "math": math, "gaussian_filter": gaussian_filter}
    exec(compile(code, body_py, "exec"), ns)  # noqa: S102 - the reference, outside posekit
    return ns["parse"]


def main() -> None:
    parse = load_reference_parser(sys.argv[1])
    out = {}
    for name, (n, seed) in SCENES.items():
        hm, paf = parser_scene(n, seed)
        t = time.perf_counter()
        candidate, subset = parse(hm.transpose(1, 2, 0), paf.transpose(1, 2, 0),
                                  np.zeros((*hm.shape[1:], 3), np.uint8))
        print(f"{name}: {len(subset)} people, parser {1e3 * (time.perf_counter() - t):.0f} ms")
        out[f"{name}_candidate"] = np.asarray(candidate, np.float64).reshape(-1, 4)
        out[f"{name}_subset"] = np.asarray(subset, np.float64)
    path = Path(__file__).parents[1] / "fixtures" / "openpose" / "pytorch_openpose_parser.npz"
    np.savez_compressed(path, **out)
    print("wrote", path)


if __name__ == "__main__":
    main()
