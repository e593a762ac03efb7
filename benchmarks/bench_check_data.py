"""Cost of the up-front image check: decode every image at 1/8 size vs a full decode.

    PYTHONPATH=$PWD python benchmarks/bench_check_data.py [--repeat 50]

Reads the 4 real COCO sample photos (640x~420 JPEGs) ``--repeat`` times each through
:func:`posekit.data.coco.undecodable_images` and through a full ``cv2.imread``, and prints
ms per image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from posekit.data.coco import CocoPoseDataset, undecodable_images

REAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "real" / "mmpose_coco"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    coco = CocoPoseDataset(REAL / "test_coco.json", REAL)
    records = coco.records * args.repeat
    start = time.perf_counter()
    bad = undecodable_images(records, workers=args.workers)
    reduced = (time.perf_counter() - start) / len(records) * 1e3
    start = time.perf_counter()
    for r in records:
        cv2.imread(r.file_name, cv2.IMREAD_COLOR)
    full = (time.perf_counter() - start) / len(records) * 1e3
    print(f"{len(records)} images, {len(bad)} bad: 1/8 decode check {reduced:.2f} ms/image "
          f"({args.workers} threads), full decode {full:.2f} ms/image (1 thread)")


if __name__ == "__main__":
    main()
