"""ViTPose measurements on SynthPose: ViT-tiny vs SimpleBaseline-tiny, classic vs
simple decoder, scratch vs MAE init, single vs multi-dataset (COCO-17 head), distillation.

Every run trains for the same wall-clock budget (``--minutes``) on the same data: a one-epoch
probe measures its speed and sets the epoch count so that the whole cosine schedule fits the
budget (`budget.py`). Reports val AP (no flip), training images/s and network ms/person (batch 1,
128x96). Prints a markdown table.

    posekit synth --out D/coco --num-images 300 --split train --size 192 --seed 1 --crowd sparse
    posekit synth --out D/coco --num-images 50 --split val --size 192 --seed 2 --crowd sparse
    posekit synth --out D/mpii --num-images 300 --split train --size 192 --seed 3 --crowd sparse \
        --skeleton mpii
    OMP_NUM_THREADS=1 python benchmarks/bench_vitpose.py --data D --out runs/bench_vitpose
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from budget import budget_config  # benchmarks/budget.py

from posekit.config import apply_overrides, load_config
from posekit.engine.mae import pretrain
from posekit.engine.train import main as train

ROOT = Path(__file__).resolve().parents[1]
VIT = ROOT / "configs/vitpose/vitpose_tiny_synthpose_128x96.yaml"
SB = ROOT / "configs/simplebaseline/simplebaseline_tiny_synthpose_128x96.yaml"
STUDENT = "model.kwargs={depth: 2, decoder: classic, img_size: [128, 96]"


def ms_per_person(model: torch.nn.Module) -> float:
    model.eval()
    x = torch.randn(1, 3, 128, 96)
    with torch.no_grad():
        for _ in range(3):
            model(x)
        start = time.perf_counter()
        for _ in range(20):
            model(x)
    return (time.perf_counter() - start) / 20 * 1000


def run(name: str, path: Path, args: argparse.Namespace, *overrides: str) -> dict:
    base = [f"data.root={args.data}/coco", "data.workers=0", "data.max_val_images=50",
            "train.val_interval=1000", "test.flip_test=false", "train.log_interval=1000"]
    cfg = apply_overrides(load_config(path), base + list(overrides))
    out = Path(args.out) / name
    cfg, speed = budget_config(cfg, args.minutes, out)
    print(f"{name}: {speed:.1f} img/s on the probe -> {cfg.schedule.epochs} epochs", flush=True)
    t0 = time.perf_counter()
    result = train(cfg, out, progress=False, exist_ok=True)
    row = {"run": name, "params_M": sum(p.numel() for p in result.model.parameters()) / 1e6,
           "AP": result.best_ap, "epochs": result.epoch + 1,
           "planned_epochs": cfg.schedule.epochs, "wall_min": (time.perf_counter() - t0) / 60,
           "train_img_s": result.stats.get("images_per_s", float("nan")),
           "ms_person": ms_per_person(result.model), "dir": str(out)}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", default="runs/bench_vitpose")
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--only", default="", help="comma-separated run names")
    args = p.parse_args()
    torch.set_num_threads(1)
    only = set(filter(None, args.only.split(",")))
    rows = []

    def want(n: str) -> bool:
        return not only or n in only

    if want("simplebaseline_tiny"):
        rows.append(run("simplebaseline_tiny", SB, args))
    if want("vit_classic"):
        rows.append(run("vit_classic", VIT, args))
    if want("vit_simple"):
        rows.append(run("vit_simple", VIT, args,
                        "model.kwargs={decoder: simple, img_size: [128, 96]}"))
    if want("vit_mae"):
        cfg = apply_overrides(load_config(VIT), [f"data.root={args.data}/coco", "data.workers=0"])
        mae = pretrain(cfg, Path(args.out) / "mae", epochs=1000, max_minutes=args.minutes,
                       log=False)
        rows.append(run("vit_mae", VIT, args, f"model.init_checkpoint={mae}"))
    if want("vit_multi"):
        rows.append(run("vit_multi", VIT, args, "model.task=topdown_multi",
                        f"data.extra_train_anns=[{args.data}/mpii/annotations/"
                        "person_keypoints_train.json]", "data.extra_skeletons=[mpii16]",
                        f"data.extra_train_images=[{args.data}/mpii/images/train]"))
    teacher = Path(args.out) / "vit_classic" / "last.pt"
    if want("student"):
        rows.append(run("student", VIT, args, STUDENT + "}"))
    common = ["model.task=topdown_distill", "distill.teacher_model=vitpose_tiny",
              f"distill.teacher_checkpoint={teacher}"]
    if want("student_output"):
        rows.append(run("student_output", VIT, args, STUDENT + "}", *common,
                        "distill.kind=output", "distill.output_weight=1.0"))
    if want("student_token"):
        rows.append(run("student_token", VIT, args, STUDENT + ", num_knowledge_tokens: 1}",
                        *common, "distill.kind=token", "distill.token_steps=100"))
    print("| run | params (M) | val AP | epochs done | train img/s | ms/person |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['params_M']:.2f} | {r['AP']:.3f} | {r['epochs']} | "
              f"{r['train_img_s']:.1f} | {r['ms_person']:.1f} |")


if __name__ == "__main__":
    main()
