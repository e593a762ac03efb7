"""Top-down speed on this machine: training images/s and inference ms/person.

    python benchmarks/bench_topdown.py CONFIG [--checkpoint CKPT] [--data DIR] [--threads N]

Training throughput runs ``train_one_epoch``'s step (forward, loss, backward, AdamW) on random
crops at the config's input size; inference times the TopDown pipeline on people of a dataset
(crop, batched forward, decode, back-projection), with and without flip test.
"""

from __future__ import annotations

import argparse
import time

import torch

from posekit.config import load_config
from posekit.data.coco import CocoPoseDataset
from posekit.data.topdown import TopDownDataset
from posekit.engine.loading import load_trained
from posekit.engine.tasks import build_task
from posekit.pipelines.detectors import GroundTruthBoxes, person_boxes


def train_throughput(task, batch_size: int, iters: int) -> float:
    model = task.build_model().train()
    w, h = task.cfg.codec.input_size
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    k = task.skeleton.num_keypoints
    g = torch.Generator().manual_seed(0)
    batch = {
        "image": torch.randn(batch_size, 3, h, w, generator=g),
        "keypoints": torch.cat([torch.rand(batch_size, k, 2, generator=g) * torch.tensor([w, h]),
                                torch.full((batch_size, k, 1), 2.0)], dim=-1),
    }
    for i in range(iters + 2):
        if i == 2:  # two warm-up steps
            start = time.perf_counter()
        loss = task.loss(model, batch, torch.device("cpu"))["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return batch_size * iters / (time.perf_counter() - start)


def inference_ms_per_person(task, model, coco: CocoPoseDataset, flip: bool, people: int) -> float:
    items = person_boxes(coco, GroundTruthBoxes(coco))[:people]
    dataset = TopDownDataset(coco, tuple(task.cfg.codec.input_size), task.augment(), train=False,
                             boxes=items)
    pipe = task.pipeline(task.inference_model(model), flip_test=flip)
    pipe.predict_crops(dataset, indices=range(min(8, len(dataset))))  # warm-up
    start = time.perf_counter()
    pipe.predict_crops(dataset)
    return (time.perf_counter() - start) * 1000 / len(dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--data", default=None, help="SynthPose-layout dir for inference timing")
    parser.add_argument("--split", default="val")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--people", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    task = build_task(cfg)
    print(f"config {cfg.name}: input {cfg.codec.input_size[1]}x{cfg.codec.input_size[0]}, "
          f"torch threads {torch.get_num_threads()}")
    rate = train_throughput(task, args.batch_size, args.iters)
    print(f"train: {rate:.1f} images/s (batch {args.batch_size}, forward+backward+AdamW)")
    if args.data:
        if args.checkpoint:
            trained = load_trained(args.checkpoint)
            task, model = trained.task, trained.model
        else:
            model = task.build_model().eval()
        coco = CocoPoseDataset.from_dir(args.data, args.split)
        for flip in (False, True):
            ms = inference_ms_per_person(task, model, coco, flip, args.people)
            print(f"inference: {ms:.2f} ms/person (flip test {'on' if flip else 'off'}, "
                  f"batch {task.cfg.data.val_batch_size}, crop+forward+decode+back-projection)")


if __name__ == "__main__":
    main()
