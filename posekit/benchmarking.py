"""``posekit bench``: end-to-end latency vs number of people, on eager PyTorch and onnxruntime.

The talk's §3 trade-off, measured: a top-down pipeline's cost grows with the number of people
(one crop each), a bottom-up or one-stage pipeline's should not. Each model (a checkpoint, or a
config with random weights: speed does not depend on them) runs through its task's own pipeline
on SynthPose scenes holding exactly 1, 2, 4, 8, 16, 32 people (``render_scene``, dense crowd
level, fixed seed), on each runtime; the
pipeline's per-call ``timing`` gives ms/image per phase (detector, preprocess, network, decode,
grouping). Top-down models get the rendered people's true boxes as detector, so the detector
column is the box lookup only (a real detector's cost comes on top).

Writes ``bench.md`` (one markdown table, one row per model × runtime × people), ``bench.json``
(the same rows) and ``bench.png`` (latency vs people, log-log).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from posekit.config import find_config, load_config
from posekit.data.synthpose import RenderedImage, render_scene
from posekit.engine.loading import load_trained
from posekit.engine.task import Task
from posekit.engine.tasks import build_task
from posekit.export.onnx import OnnxRunner, export_onnx
from posekit.pipelines.detectors import PersonBox
from posekit.pipelines.onestage import OneStage

__all__ = [
    "BenchRow", "people_scene", "people_image", "bench_model", "run_bench", "format_table",
    "plot_rows", "bench_cli", "DEFAULT_MODELS", "PEOPLE",
]

PEOPLE = (1, 2, 4, 8, 16, 32)
PHASES = ("detector", "preprocess", "network", "decode", "grouping")
DEFAULT_MODELS = (  # shipped configs, by name
    "simplebaseline_tiny_synthpose_128x96",
    "simplebaseline_res50_coco_256x192",
)


@dataclass
class BenchRow:
    model: str
    runtime: str  # torch | onnxruntime
    people: int
    ms: dict[str, float]  # mean ms/image per phase
    total_ms: float  # mean wall ms/image of the whole call
    calls: int = 0  # calls averaged (0: not recorded)

    @property
    def ms_per_person(self) -> float:
        return self.total_ms / max(self.people, 1)


def people_scene(n: int, size: int = 512, seed: int = 0) -> RenderedImage:
    """A SynthPose scene (dense crowd level: clutter, overlap) drawn with exactly ``n`` people."""
    return render_scene(np.random.default_rng([seed, n]), size, num_people=n, crowd="dense")


def people_image(n: int, size: int = 512, seed: int = 0) -> tuple[np.ndarray, list[PersonBox]]:
    """A BGR ``size`` × ``size`` image with exactly ``n`` SynthPose people and one box
    (x1, y1, x2, y2) per person: its visible pixels' box, or for a person hidden behind others or
    outside the frame the box of its keypoints clipped to the image, so a top-down model makes
    exactly ``n`` crops."""
    scene = people_scene(n, size, seed)
    boxes = []
    for person in scene.people:
        if person.area > 0:
            x, y, w, h = person.bbox
        else:
            xy = np.clip(person.keypoints[:, :2], 0, size - 1)
            (x, y), (x2, y2) = xy.min(0), xy.max(0)
            w, h = max(x2 - x, 8.0), max(y2 - y, 8.0)
        x, y, w, h = float(x), float(y), float(w), float(h)
        boxes.append(PersonBox((x, y, x + w, y + h), 1.0))
    return scene.image, boxes


def _load(spec: str) -> tuple[Task, torch.nn.Module, str]:
    """(task, model, label) of a checkpoint, or of a config file or shipped config name
    (random weights)."""
    path = Path(spec)
    if not path.is_file():
        try:
            path = find_config(spec)
        except FileNotFoundError:
            raise FileNotFoundError(f"bench: no such checkpoint or config: {spec}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        task = build_task(load_config(path))
        torch.manual_seed(0)
        return task, task.build_model().eval(), path.stem
    trained = load_trained(path)
    return trained.task, trained.model, f"{path.stem} ({trained.cfg.model.name})"


def bench_model(
    spec: str, *, people: Sequence[int] = PEOPLE, runtimes: Sequence[str] = ("torch",
                                                                             "onnxruntime"),
    repeats: int = 3, size: int = 512, seed: int = 0, threads: int = 0,
    workdir: str | Path | None = None, budget_s: float = 0.0, cap_people: bool = False,
) -> list[BenchRow]:
    """Rows for one model: each runtime × each people count (one warm-up call, then ``repeats``).

    With ``budget_s`` > 0, a cell makes only the repeats that fit in ``budget_s`` seconds at the
    warm-up's speed, and a warm-up slower than that is itself the measurement (the first call at
    a new crop count pays only for new batch shapes, small beside a call of seconds).
    ``cap_people``: a one-stage pipeline keeps at most the scene's n people, so that untrained
    weights, which find any number, decode exactly n people as a trained model would.
    """
    task, model, label = _load(spec)
    images = {n: people_image(n, size, seed) for n in people}
    box_table = {n: boxes for n, (_, boxes) in images.items()}

    def detector(image: np.ndarray, image_id: int | None = None) -> list[PersonBox]:
        return list(box_table[int(image_id)])

    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for runtime in runtimes:
            if runtime == "torch":
                network = task.inference_model(model)
            elif runtime == "onnxruntime":
                network = OnnxRunner(export_onnx(task, model, Path(tmp) / "model.onnx"),
                                     threads=threads)
            else:
                raise ValueError(f"runtime must be torch or onnxruntime, got {runtime!r}")
            pipe = task.pipeline(network, "cpu",
                                 detector=detector if task.needs_detector else None)
            for n in people:
                image = images[n][0]
                if cap_people and isinstance(pipe, OneStage):
                    pipe.max_people = n
                with torch.inference_mode():
                    start = time.perf_counter()
                    pipe(image, n)  # warm-up
                    warm = time.perf_counter() - start
                    sums = dict.fromkeys(PHASES, 0.0)
                    wall = 0.0
                    calls = repeats if budget_s <= 0 else min(repeats, int(budget_s // warm))
                    if calls == 0:  # over budget: the warm-up call is the measurement
                        sums.update(pipe.timing)
                        wall = warm
                    for _ in range(calls):
                        start = time.perf_counter()
                        pipe(image, n)
                        wall += time.perf_counter() - start
                        for k, v in pipe.timing.items():
                            sums[k] = sums.get(k, 0.0) + v
                count = max(calls, 1)
                rows.append(BenchRow(
                    label, runtime, n,
                    {k: 1000 * v / count for k, v in sums.items() if k in pipe.timing},
                    1000 * wall / count, count,
                ))
    return rows


def format_table(rows: Sequence[BenchRow]) -> str:
    """One markdown table; phases a paradigm lacks show as –."""
    head = ("| model | runtime | people | " + " | ".join(PHASES)
            + " | total ms/image | ms/person |")
    lines = [head, "|" + "---|" * (len(PHASES) + 5)]
    for r in rows:
        cells = [f"{r.ms[p]:.1f}" if p in r.ms else "–" for p in PHASES]
        lines.append(f"| {r.model} | {r.runtime} | {r.people} | " + " | ".join(cells)
                     + f" | {r.total_ms:.1f} | {r.ms_per_person:.2f} |")
    return "\n".join(lines)


def plot_rows(rows: Sequence[BenchRow], path: str | Path,
              title: str = "posekit bench: latency vs number of people (CPU)") -> Path:
    """Latency (ms/image) vs people, one line per model × runtime (a colour per model, solid
    for torch, dashed for onnxruntime), log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 4.5), dpi=120)
    series: dict[tuple[str, str], list[BenchRow]] = {}
    for r in rows:
        series.setdefault((r.model, r.runtime), []).append(r)
    models = list(dict.fromkeys(r.model for r in rows))
    for (model, runtime), items in series.items():
        items = sorted(items, key=lambda r: r.people)
        ax.plot([r.people for r in items], [r.total_ms for r in items], marker="o",
                color=f"C{models.index(model) % 10}",
                linestyle="-" if runtime == "torch" else "--", label=f"{model} · {runtime}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("people in the image")
    ax.set_ylabel("ms / image (end to end)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def run_bench(models: Sequence[str], out: str | Path, **kwargs: object) -> list[BenchRow]:
    """Bench every model, write bench.md / bench.json / bench.png under ``out``."""
    rows: list[BenchRow] = []
    for spec in models:
        rows.extend(bench_model(spec, **kwargs))  # type: ignore[arg-type]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.md").write_text(format_table(rows) + "\n")
    (out / "bench.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    plot_rows(rows, out / "bench.png")
    return rows


def bench_cli(args: argparse.Namespace) -> int:
    try:
        people = tuple(int(v) for v in str(args.people).split(",") if v.strip())
    except ValueError:
        raise ValueError(f"--people must be comma-separated integers, got {args.people!r}"
                         ) from None
    runtimes = tuple(v.strip() for v in str(args.runtimes).split(",") if v.strip())
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    rows = run_bench(args.models or list(DEFAULT_MODELS), args.out, people=people,
                     runtimes=runtimes, repeats=args.repeats, size=args.size, seed=args.seed,
                     threads=args.threads, budget_s=args.budget)
    print(format_table(rows))
    print(f"wrote {Path(args.out) / 'bench.md'}, bench.json and bench.png "
          f"(threads: {torch.get_num_threads()} torch, {args.threads or 'default'} onnxruntime)")
    return 0
