"""Transfer benchmark: train on SynthPose at a stated CPU budget, then score with GT boxes on
SynthPose val (the training styles), a held-out SynthPose style, and every real sample in
tests/fixtures/real (evaluation only; see posekit.engine.transfer for the scoring rules).

    python benchmarks/bench_transfer.py --minutes 10 --threads 2 --train-style train \
        --heldout-style blocks --out runs/transfer/randomised
    python benchmarks/bench_transfer.py --checkpoint runs/demo/best.pt --train-style classic

The CPU budget is minutes × threads (torch threads of the training process); data generation
and evaluation are not counted. Prints one Markdown table row per run, and writes
``scores.json`` into --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

from posekit.config import load_config
from posekit.data.coco import CocoPoseDataset
from posekit.data.synthpose import generate_dataset
from posekit.demo import DEMO_CONFIG
from posekit.engine.loading import load_trained
from posekit.engine.train import main as train_main
from posekit.engine.transfer import (
    REAL_SAMPLES,
    load_real_sample,
    score_dataset,
    score_mean_pose,
    score_real_samples,
)
from posekit.evaluation.baselines import MeanPose

HEADER = ("| run | train style | CPU-min (min × threads) | epochs | SynthPose val AP | held-out "
          "AP (style) | held-out / in-style | COCO AP | OCHuman AP | PoseTrack AP (COCO parts) "
          "| real PCK@0.2 (people) |\n|---|---|---|---|---|---|---|---|---|---|---|")


def _ensure(root: Path, split: str, num: int, seed: int, style: str, size: int,
            workers: int) -> None:
    ann = root / "annotations" / f"person_keypoints_{split}.json"
    if ann.exists():
        info = json.loads(ann.read_text())
        if len(info["images"]) == num and info["info"].get("style", "classic") == style:
            return
    start = time.perf_counter()
    generate_dataset(root, num, seed=seed, size=size, split=split, style=style, workers=workers)
    print(f"# generated {root}/{split}: {num} images, style {style} in "
          f"{time.perf_counter() - start:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/transfer")
    p.add_argument("--config", default=str(DEMO_CONFIG))
    p.add_argument("--set", nargs="*", default=[], help="config overrides key=value")
    p.add_argument("--minutes", type=float, default=10.0, help="training wall-clock budget")
    p.add_argument("--threads", type=int, default=1, help="torch threads while training")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--train-images", type=int, default=2000)
    p.add_argument("--val-images", type=int, default=200)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--train-style", default="train", help="style/family trained on")
    p.add_argument("--heldout-style", default="blocks", help="style never trained on")
    p.add_argument("--checkpoint", default=None, help="score this checkpoint, no training")
    p.add_argument("--workers", type=int, default=2, help="processes generating data")
    p.add_argument("--label", default=None)
    p.add_argument("--mean-pose", action="store_true",
                   help="also print the mean-pose floor (mean COCO-17 pose of the training "
                        "split in every GT box) on the real samples")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    data = out.parent / f"data_{args.train_style.replace(',', '+')}_{args.train_images}"
    held = out.parent / f"data_heldout_{args.heldout_style}"
    if args.checkpoint is None or args.mean_pose:  # (a checkpoint alone needs only val)
        _ensure(data, "train", args.train_images, 0, args.train_style, args.size, args.workers)
    _ensure(data, "val", args.val_images, 1, args.train_style, args.size, args.workers)
    _ensure(held, "val", args.val_images, 2, args.heldout_style, args.size, args.workers)

    epochs = None
    if args.checkpoint is None:
        overrides = [f"data.root={data}", f"train.max_minutes={args.minutes}", *args.set]
        if args.epochs is not None:
            overrides.append(f"schedule.epochs={args.epochs}")
        cfg = load_config(args.config, overrides)
        cfg = dataclasses.replace(cfg, name=args.label or out.name)
        start = time.perf_counter()
        result = train_main(cfg, out, progress=False, exist_ok=True)
        minutes = (time.perf_counter() - start) / 60
        epochs = result.epoch + 1
        print(f"# trained {epochs} epochs in {minutes:.1f} min on {args.threads} threads",
              flush=True)
        checkpoint = out / "best.pt"
    else:
        checkpoint, minutes = Path(args.checkpoint), float("nan")
    trained = load_trained(checkpoint, overrides=("data.workers=0",))
    cfg, task, model = trained.cfg, trained.task, trained.model

    synth = {}
    for key, root in (("val", data), ("heldout", held)):
        coco = CocoPoseDataset.from_dir(root, "val", skeleton=cfg.data.skeleton)
        synth[key] = score_dataset(task, model, coco, key, ap=True)
    real = score_real_samples(task, model)
    hits, total = sum(r.pck_hits for r in real), sum(r.pck_total for r in real)
    people = sum(r.people for r in real)
    by = {r.name: r for r in real}
    scores = {
        "checkpoint": str(checkpoint), "train_style": args.train_style,
        "heldout_style": args.heldout_style, "minutes": minutes, "threads": args.threads,
        "epochs": epochs, "synth_val_ap": synth["val"].ap, "heldout_ap": synth["heldout"].ap,
        "synth_val_pck": synth["val"].pck, "heldout_pck": synth["heldout"].pck,
        "real": {r.name: {"people": r.people, "pck": r.pck, "ap": r.ap} for r in real},
        "real_pck_pooled": hits / total if total else float("nan"), "real_people": people,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(scores, indent=1))
    for r in [*synth.values(), *real]:
        ap = f"{r.ap:.3f}" if r.ap is not None else "-"
        print(f"#   {r.name:12s} people {r.people:4d}  PCK@0.2 {r.pck:.3f} "
              f"({r.pck_hits}/{r.pck_total})  AP {ap}")
    if args.mean_pose:
        mp = MeanPose(tuple(cfg.codec.input_size)).fit(CocoPoseDataset.from_dir(data, "train"))
        floor = [score_mean_pose(mp, load_real_sample(n), n) for n in REAL_SAMPLES]
        for r in floor:
            print(f"#   mean pose {r.name:12s} PCK@0.2 {r.pck:.3f} ({r.pck_hits}/{r.pck_total})")
        fh, ft = sum(r.pck_hits for r in floor), sum(r.pck_total for r in floor)
        print(f"#   mean pose pooled real PCK@0.2 {fh / ft:.3f} ({fh}/{ft})")
        scores["mean_pose_real_pck_pooled"] = fh / ft
        (out / "scores.json").write_text(json.dumps(scores, indent=1))
    ratio = synth["heldout"].ap / synth["val"].ap if synth["val"].ap > 0 else float("nan")
    budget = f"{minutes * args.threads:.0f} ({minutes:.1f} × {args.threads})" \
        if args.checkpoint is None else "(given checkpoint)"
    print(HEADER)
    print(f"| {args.label or out.name} | {args.train_style} | {budget} | {epochs or '-'} | "
          f"{synth['val'].ap:.3f} | {synth['heldout'].ap:.3f} ({args.heldout_style}) | "
          f"{ratio:.2f} | {by['coco'].ap:.3f} | {by['ochuman'].ap:.3f} | "
          f"{by['posetrack18'].ap:.3f} | {scores['real_pck_pooled']:.3f} ({people}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
