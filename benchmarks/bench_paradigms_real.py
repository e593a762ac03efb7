"""The talk's paradigm trade-off (§3) at paper model sizes: ms/image vs people in the image.

ViTPose-B and SimpleBaseline-Res50 top-down, RTMO-s one-stage and CMU's body model bottom-up,
each through its task's own pipeline (:func:`posekit.benchmarking.bench_model`) on 640 px
SynthPose scenes holding exactly 1, 2, 4, 8, 16, 32 people (dense crowd level), eager PyTorch
and onnxruntime, 2 threads, seeded weights (the networks' cost does not depend on them).

- RTMO-s: the calibrated weights of the one-stage parity test (person scores spread over (0, 1);
  seeded weights with RTMO's score-bias init find nobody, so the DCC would never run), keeping
  the scene's n people (``bench_model(cap_people=True)``): eager PyTorch runs the DCC on those n,
  as on a trained model's n people; the exported graph runs it on every candidate above the
  score threshold (~190–280 on these scenes with these weights), before the Python NMS.

- Top-down on given boxes: the scenes' true boxes, so each image makes exactly n crops (flip test
  on, as the configs). On RTMO-s boxes: the same crops plus RTMO-s's whole pipeline on the image
  as detector cost, i.e. the given-box row plus the RTMO-s row at the same n and runtime (both
  measured in this run; a seeded RTMO-s's own boxes would make the crop count meaningless).
- CMU's body model at its config's settings (pytorch-openpose's ``Body``: one scale, 0.5 × 368,
  so 184 × 184 px for a 640 px scene). Its grouping cost depends on the maps: seeded maps are
  noise with ~1,300 peaks, whatever n. The "rendered maps" row replaces the measured grouping by
  grouping on the maps a perfect network gives for the scene's n people (rendered at image size
  with :func:`posekit.grouping.scenes.render_maps`), timed here.

Writes ``paradigms_real.md`` (ms/image per curve and people count), ``phases.md`` (every row
by phase), ``paradigms_real.json``, the plot (``--plot``) and prints where curves cross.

On a shared machine run it with ``OMP_WAIT_POLICY=PASSIVE``: busy-waiting OpenMP threads make
eager PyTorch several times slower when the cores are busy (SimpleBaseline-Res50 on 4 crops,
2 threads, load ≈ 13: 17.4 s active, 3.2 s passive).

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=$PWD python benchmarks/bench_paradigms_real.py \
        --out runs/paradigms_real --plot docs/bench_paradigms_real.png
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from bench_vs_reference import rtmo_calibrated_weights

from posekit.benchmarking import (
    PEOPLE,
    BenchRow,
    bench_model,
    format_table,
    people_scene,
    plot_rows,
)
from posekit.config import find_config
from posekit.export.convert import convert_checkpoint
from posekit.grouping import GroupingConfig, group_people
from posekit.grouping.scenes import render_maps
from posekit.skeletons import COCO17, OPENPOSE18, convert_keypoints

SIZE = 640
MODELS = {  # shipped config → curve name
    "rtmo-s_coco_640x640": "RTMO-s",
    "openpose_cmu_coco": "CMU body",
    "simplebaseline_res50_coco_256x192": "SimpleBaseline-Res50",
    "vitpose_base_coco_256x192": "ViTPose-B",
}
TOP_DOWN = ("SimpleBaseline-Res50", "ViTPose-B")
DETECTOR = "RTMO-s"
RENDERED = "CMU body, grouping on rendered maps"


def rtmo_calibrated_checkpoint(workdir: Path) -> Path:
    """posekit checkpoint of the one-stage parity fixture's calibrated RTMO-s weights."""
    rtmo_calibrated_weights(workdir / "rtmo_s_mmpose.pth")
    config = find_config("rtmo-s_coco_640x640")
    return convert_checkpoint(workdir / "rtmo_s_mmpose.pth", config, workdir / "rtmo_s.pt")


def rendered_grouping_ms(n: int, repeats: int = 3) -> float:
    """Mean ms of :func:`group_people` on the ideal maps of the ``n`` people of the scene."""
    scene = people_scene(n, SIZE)
    coco = np.stack([p.keypoints for p in scene.people]).astype(np.float32)  # (n, 17, 3)
    people = convert_keypoints(coco, COCO17, OPENPOSE18)
    hm, paf = render_maps(people, (SIZE, SIZE))
    group_people(hm, paf, GroupingConfig.cmu())  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        group_people(hm, paf, GroupingConfig.cmu())
    return 1000 * (time.perf_counter() - start) / repeats


def derived_rows(rows: list[BenchRow]) -> list[BenchRow]:
    """Top-down on RTMO-s boxes, and CMU with grouping on rendered maps (module docstring)."""
    at = {(r.model, r.runtime, r.people): r for r in rows}
    out = []
    for r in rows:
        if r.model in TOP_DOWN:
            det = at[(DETECTOR, r.runtime, r.people)]
            out.append(replace(r, model=f"{r.model} on {DETECTOR} boxes",
                               ms={**r.ms, "detector": det.total_ms},
                               total_ms=r.total_ms - r.ms.get("detector", 0.0) + det.total_ms))
    grouping = {n: rendered_grouping_ms(n) for n in sorted({r.people for r in rows})}
    for r in rows:
        if r.model == "CMU body":
            out.append(replace(r, model=RENDERED, ms={**r.ms, "grouping": grouping[r.people]},
                               total_ms=r.total_ms - r.ms["grouping"] + grouping[r.people]))
    return out


def curve_table(rows: list[BenchRow]) -> str:
    """Markdown: one line per curve, ms/image at each people count, and the 32-vs-1 growth."""
    counts = sorted({r.people for r in rows})
    at = {(r.model, r.runtime, r.people): r.total_ms for r in rows}
    curves = list(dict.fromkeys((r.model, r.runtime) for r in rows))
    head = "| pipeline | runtime | " + " | ".join(f"{n}" for n in counts) + " | last / first |"
    lines = [head, "|" + "---|" * (len(counts) + 3)]
    for model, runtime in curves:
        ms = [at[(model, runtime, n)] for n in counts]
        lines.append(f"| {model} | {runtime} | " + " | ".join(f"{v:,.0f}" for v in ms)
                     + f" | {ms[-1] / ms[0]:.1f}× |")
    return "\n".join(lines)


def crossings(rows: list[BenchRow]) -> list[str]:
    """Where two curves of one runtime swap order: n interpolated linearly in log n, log ms."""
    counts = sorted({r.people for r in rows})
    at = {(r.model, r.runtime, r.people): r.total_ms for r in rows}
    lines = []
    for runtime in dict.fromkeys(r.runtime for r in rows):
        models = list(dict.fromkeys(r.model for r in rows if r.runtime == runtime))
        for a, b in itertools.combinations(models, 2):
            d = [math.log(at[(a, runtime, n)] / at[(b, runtime, n)]) for n in counts]
            found = []
            for i in range(len(counts) - 1):
                if d[i] == 0 or d[i] * d[i + 1] < 0:
                    x0, x1 = math.log2(counts[i]), math.log2(counts[i + 1])
                    x = x0 + (x1 - x0) * d[i] / (d[i] - d[i + 1])
                    found.append(f"≈ {2 ** x:.1f} people")
            if found:
                lines.append(f"{runtime}: {a} × {b} cross at {', '.join(found)}")
            else:
                side = "above" if d[0] > 0 else "below"
                lines.append(f"{runtime}: {a} stays {side} {b} over {counts[0]}–{counts[-1]}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/paradigms_real")
    parser.add_argument("--plot", default=None, help="also write the plot here (e.g. docs/)")
    parser.add_argument("--people", default=",".join(map(str, PEOPLE)))
    parser.add_argument("--runtimes", default="torch,onnxruntime")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=8.0,
                        help="seconds per cell: slow calls get fewer repeats (bench_model)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    people = tuple(int(v) for v in args.people.split(","))
    runtimes = tuple(args.runtimes.split(","))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[BenchRow] = []
    log = {"threads": args.threads, "size": SIZE, "load": [],
           "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "")}
    start = time.perf_counter()
    for config, name in MODELS.items():
        t = time.perf_counter()
        spec = str(rtmo_calibrated_checkpoint(out)) if name == DETECTOR else config
        found = bench_model(spec, people=people, runtimes=runtimes, repeats=args.repeats,
                            size=SIZE, threads=args.threads, budget_s=args.budget,
                            cap_people=name == DETECTOR)
        rows += [replace(r, model=name) for r in found]
        log["load"].append((name, os.getloadavg()[0], time.perf_counter() - t))
        print(f"{name}: {time.perf_counter() - t:.0f} s, load {os.getloadavg()[0]:.1f}",
              flush=True)
        (out / "paradigms_real.json").write_text(json.dumps(
            {"log": log, "rows": [asdict(r) for r in rows]}, indent=1))
    rows += derived_rows(rows)
    log["total_s"] = time.perf_counter() - start
    (out / "paradigms_real.json").write_text(json.dumps(
        {"log": log, "rows": [asdict(r) for r in rows]}, indent=1))
    (out / "phases.md").write_text(format_table(rows) + "\n")
    table = curve_table(rows)
    (out / "paradigms_real.md").write_text(table + "\n")
    plotted = [r for r in rows if r.model != "CMU body"]  # its seeded grouping is noise's
    title = f"ms/image vs people, 640 px SynthPose, {args.threads} threads, CPU"
    plot_rows(plotted, out / "paradigms_real.png", title=title)
    if args.plot:
        plot_rows(plotted, args.plot, title=title)
    print(table)
    print("\n".join(crossings(plotted)))
    print(f"total {log['total_s']:.0f} s, load at each model: {log['load']}")


if __name__ == "__main__":
    main()
