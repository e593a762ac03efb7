"""Multi-stage models on SynthPose at an equal CPU wall budget: the talk's claims (§5–§11) measured.

Trains each tiny config (SimpleBaseline, CPM Σf_t and final-stage-only, Hourglass 1/2/4 stacks,
CPN with and without OHKM) for the same ``--minutes`` of time on one thread, then reports
params, GFLOPs (torch's counter, multiply-add = 2), val AP (GT boxes, flip test), train images/s,
epochs done, network ms per person (one crop, batch 1, last stage), CPM's AP per stage and PCK@0.2
on visible (v = 2) and occluded (v = 1) keypoints.

Equal budget, full schedule: each model's training speed is first measured on a one-epoch run over
the first 64 training images; its epoch count is then set so that the whole cosine schedule fits in
``--minutes`` (a slow model gets fewer epochs, not a schedule cut off at high learning rate).
``train.max_minutes`` = 1.25 × budget stays as a cap (checked at epoch ends).

    python -m posekit.cli synth --out runs/ms/data --num-images 600 --split train --seed 1
    python -m posekit.cli synth --out runs/ms/data --num-images 100 --split val --seed 2
    OMP_NUM_THREADS=1 python benchmarks/bench_multistage.py --data runs/ms/data --minutes 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from budget import first_images  # benchmarks/budget.py
from torch import Tensor, nn

from posekit.config import apply_overrides, load_config
from posekit.engine.tasks import build_task
from posekit.engine.train import main as train
from posekit.evaluation.coco_eval import evaluate_coco
from posekit.evaluation.pck import match_by_oks, pck_bbox
from posekit.models import count_flops, count_params

ROOT = Path(__file__).resolve().parents[1]
RUNS: dict[str, tuple[str, list[str]]] = {  # CPM and CPN first: their extra metrics fail early
    "cpm_tiny (sum f_t)": ("configs/cpm/cpm_tiny_synthpose_128x96.yaml", []),
    "cpn_tiny (OHKM)": ("configs/cpn/cpn_tiny_synthpose_128x96.yaml", []),
    "simplebaseline_tiny": ("configs/simplebaseline/simplebaseline_tiny_synthpose_128x96.yaml", []),
    "cpm_tiny (final only)": ("configs/cpm/cpm_tiny_synthpose_128x96.yaml",
                              ["model.stage_weights=[0, 0, 1]"]),
    "hourglass_tiny x1": ("configs/hourglass/hourglass_tiny_synthpose_128x96.yaml",
                          ["model.kwargs.num_stacks=1"]),
    "hourglass_tiny x2": ("configs/hourglass/hourglass_tiny_synthpose_128x96.yaml",
                          ["model.kwargs.num_stacks=2"]),
    "hourglass_tiny x4": ("configs/hourglass/hourglass_tiny_synthpose_128x96.yaml",
                          ["model.kwargs.num_stacks=4"]),
    "cpn_tiny (no OHKM)": ("configs/cpn/cpn_tiny_synthpose_128x96.yaml", ["model.loss=mse"]),
}


class StageOutput(nn.Module):
    """One stage's output of a multi-stage model, as a single-output model for the pipeline."""

    def __init__(self, model: nn.Module, stage: int) -> None:
        super().__init__()
        self.model, self.stage = model, stage

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)[self.stage]


def pck_by_visibility(coco, results: list[dict], sigmas: np.ndarray) -> dict[str, float]:
    """PCK@0.2 (box scale) over OKS-matched people, on v = 2 and on v = 1 keypoints apart."""
    k = sigmas.shape[0]
    by_image: dict[int, list[dict]] = {}
    for r in results:
        by_image.setdefault(r["image_id"], []).append(r)
    preds, truths, boxes = [], [], []
    for ann_img in {a["image_id"] for a in coco.gt_dict["annotations"]}:
        anns = [a for a in coco.gt_dict["annotations"]
                if a["image_id"] == ann_img and not a["iscrowd"] and a["num_keypoints"] > 0]
        if not anns:
            continue
        gt = np.asarray([a["keypoints"] for a in anns], dtype=np.float64).reshape(-1, k, 3)
        found = by_image.get(ann_img, [])
        pred = np.asarray([d["keypoints"] for d in found], dtype=np.float64).reshape(-1, k, 3)
        scores = np.asarray([d["score"] for d in found], dtype=np.float64)
        match = match_by_oks(pred, scores, gt, np.asarray([a["area"] for a in anns], float),
                             sigmas)
        matched = np.full((len(anns), k, 2), np.nan)
        matched[match >= 0] = pred[match[match >= 0], :, :2]
        preds.append(matched)
        truths.append(gt)
        boxes.append(np.asarray([a["bbox"] for a in anns], dtype=np.float64))
    pred, gt, box = np.concatenate(preds), np.concatenate(truths), np.concatenate(boxes)
    return {f"PCK v={v}": pck_bbox(pred, gt, box, 0.2, mask=gt[..., 2] == v).mean
            for v in (2, 1)} | {f"n v={v}": int((gt[..., 2] == v).sum()) for v in (2, 1)}


def evaluate(task, model: nn.Module) -> tuple[float, list[dict]]:
    coco = task.val_coco()
    results = task.predict(model, coco, "cpu")
    report = evaluate_coco(coco.gt_dict, results, skeleton=task.skeleton)
    return report.stats["AP"], results


def ms_per_person(task, model: nn.Module, repeats: int = 20) -> float:
    net = task.inference_model(model)
    x = task.example_input(1)
    with torch.no_grad():
        for _ in range(3):
            net(x)
        start = time.perf_counter()
        for _ in range(repeats):
            net(x)
    return (time.perf_counter() - start) / repeats * 1000


def report(out: Path, logs: list[str]) -> None:
    """Markdown table of every results_*.json in ``out`` and of the result lines in ``logs``
    (this script's stdout, for runs still going), in RUNS order, and the CPM stage plot."""
    rows = {r["model"]: r for f in sorted(out.glob("results_*.json"))
            for r in json.loads(f.read_text())}
    for log in logs:
        for line in Path(log).read_text().splitlines():
            if line.startswith('{"model"'):
                r = json.loads(line)
                rows[r["model"]] = r
    print("| model | params (M) | GFLOPs | epochs | train img/s | ms/person | val AP | extra |")
    print("|---|---|---|---|---|---|---|---|")
    for name in RUNS:
        if name not in rows:
            print(f"| {name} | not run | | | | | | |")
            continue
        r = rows[name]
        extra = ""
        if "AP_per_stage" in r:
            extra = "AP per stage " + " / ".join(f"{v:.4f}" for v in r["AP_per_stage"])
        if "PCK v=1" in r:
            extra = (f"PCK@0.2 v=2 {r['PCK v=2']:.3f} (n={r['n v=2']}), "
                     f"v=1 {r['PCK v=1']:.3f} (n={r['n v=1']})")
        print(f"| {name} | {r['params_M']:.2f} | {r['GFLOPs']:.3f} | {r['epochs']} | "
              f"{r['train_img_s']:.1f} | {r['ms_per_person']:.0f} | {r['AP']:.4f} | {extra} |")
    stages = {n: r["AP_per_stage"] for n, r in rows.items() if "AP_per_stage" in r}
    if stages:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
        for name, aps in stages.items():
            ax.plot(range(1, len(aps) + 1), aps, marker="o", label=name)
        ax.set_xlabel("CPM stage t")
        ax.set_ylabel("val AP (SynthPose)")
        ax.set_xticks(range(1, max(len(a) for a in stages.values()) + 1))
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(ROOT / "docs" / "cpm_ap_per_stage.png")
        print("wrote docs/cpm_ap_per_stage.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="runs/ms/data")
    parser.add_argument("--minutes", type=float, default=2.0, help="training budget per run")
    parser.add_argument("--out", default="runs/ms/bench")
    parser.add_argument("--only", nargs="*", default=None, help="subset of run names")
    parser.add_argument("--report", action="store_true",
                        help="only print the markdown table of the results_*.json in --out and "
                             "write docs/cpm_ap_per_stage.png")
    parser.add_argument("--logs", nargs="*", default=[], help="with --report: stdout logs")
    parser.add_argument("--train-images", type=int, default=200,
                        help="train on the first N training images (shorter epochs: the budget "
                             "is checked at epoch ends)")
    args = parser.parse_args()
    if args.report:
        report(Path(args.out), args.logs)
        return
    torch.set_num_threads(1)
    rows = []
    data = Path(args.data)
    subset = Path(args.out) / f"train_first{args.train_images}.json"
    subset.parent.mkdir(parents=True, exist_ok=True)
    full = json.loads((data / "annotations" / "person_keypoints_train.json").read_text())
    full = first_images(full, args.train_images)
    subset.write_text(json.dumps(full))
    probe = Path(args.out) / "train_first64.json"
    probe.write_text(json.dumps(first_images(full, 64)))
    num_crops = sum(1 for a in full["annotations"] if a["num_keypoints"] > 0 and not a["iscrowd"])
    for name, (config, extra) in RUNS.items():
        if args.only and not any(o in name for o in args.only):
            continue
        out = Path(args.out) / name.replace(" ", "_").replace("(", "").replace(")", "")
        common = [f"data.root={args.data}", f"data.train_images={data / 'images' / 'train'}",
                  "data.workers=0", "train.device=cpu", "train.val_interval=1000",
                  "train.log_interval=100000", *extra]
        base = load_config(ROOT / config)
        speed = train(apply_overrides(base, [*common, f"data.train_ann={probe}",
                                             "schedule.epochs=1"]),
                      out / "probe", progress=False, exist_ok=True).stats["images_per_s"]
        epochs = max(1, int(args.minutes * 60 * speed / num_crops))
        cfg = apply_overrides(base, [*common, f"data.train_ann={subset}",
                                     f"schedule.epochs={epochs}",
                                     f"train.max_minutes={1.25 * args.minutes}"])
        task = build_task(cfg)
        print(f"{name}: {speed:.1f} img/s on the probe -> {epochs} epochs of {num_crops} crops",
              flush=True)
        t0 = time.perf_counter()
        result = train(cfg, out, progress=False, exist_ok=True)
        wall = time.perf_counter() - t0
        model = result.model.eval()
        w, h = cfg.codec.input_size
        row = {
            "model": name, "params_M": count_params(model) / 1e6,
            "GFLOPs": count_flops(model, (1, 3, h, w)) / 1e9,
            "epochs": result.epoch + 1,
            "train_img_s": result.stats.get("images_per_s", float("nan")),
            "wall_s": wall, "ms_per_person": ms_per_person(task, model),
            "planned_epochs": epochs,
        }
        ap, results = evaluate(task, model)
        row["AP"] = ap
        if name.startswith("cpm"):
            row["AP_per_stage"] = [evaluate(task, StageOutput(model, t))[0]
                                   for t in range(len(model(task.example_input(1))) - 1)] + [ap]
        if name.startswith("cpn"):
            row.update(pck_by_visibility(task.val_coco(), results, task.skeleton.oks_sigmas()))
        print(json.dumps(row), flush=True)
        rows.append(row)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    tag = "_".join(args.only) if args.only else "all"
    (Path(args.out) / f"results_{tag}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
