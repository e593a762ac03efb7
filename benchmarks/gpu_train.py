"""Training throughput of SimpleBaseline-Res50, ViTPose-B and RTMO-s: images/s, peak memory and
the loss after N iterations, with AMP on CUDA, on generated SynthPose data.

Each model is built from its shipped COCO config (its optimizer, lr groups, grad clipping and
schedule), fed from a SynthPose set written to a temporary folder. The batches are loaded before
the clock starts and cycled, so the figure is the training step (forward, loss with its target
encoding and assignment, backward, optimizer step), not JPEG decoding. ``--tiny`` runs the CPU-sized
SynthPose configs of the same three families at a few images, which is what the test suite runs.

    python benchmarks/gpu_train.py --iters 50 --batch 32            # CUDA, AMP (fp16)
    python benchmarks/gpu_train.py --tiny --device cpu --iters 2     # the CPU smoke run
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from posekit.config import ExperimentConfig, load_config
from posekit.data.synthpose import generate_dataset
from posekit.engine.tasks import build_task
from posekit.engine.train import backward_and_step, build_optimizer, build_scheduler

# (name, shipped COCO config, CPU-sized config of the same family for --tiny)
MODELS = [
    ("SimpleBaseline-Res50", "simplebaseline_res50_coco_256x192",
     "simplebaseline_tiny_synthpose_128x96"),
    ("ViTPose-B", "vitpose_base_coco_256x192", "vitpose_tiny_synthpose_128x96"),
    ("RTMO-s", "rtmo-s_coco_640x640", "rtmo_tiny_synthpose_256x256"),
]


def experiment(config: str, data_root: Path, batch: int) -> ExperimentConfig:
    """The shipped config, reading the SynthPose folder with no worker processes."""
    return load_config(config, [
        f"data.root={data_root}", "data.train_split=train", "data.train_ann=''",
        "data.train_images=''", "data.val_ann=''", "data.val_images=''", "data.workers=0",
        f"data.batch_size={batch}", "train.seed=0",
    ])


def train_steps(cfg: ExperimentConfig, iters: int, device: torch.device, amp: bool,
                warmup: int) -> dict[str, float]:
    """``warmup`` untimed then ``iters`` timed training steps; images/s, peak MiB, last loss."""
    torch.manual_seed(0)
    task = build_task(cfg)
    model = task.build_model().to(device)
    train_set = task.train_dataset()
    loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.data.batch_size, shuffle=False,
                                         drop_last=True, collate_fn=task.collate_fn)
    batches = list(itertools.islice(loader, min(len(loader), 4)))
    if not batches:
        raise ValueError(f"{cfg.name}: fewer images than one batch of {cfg.data.batch_size}")
    optimizer = build_optimizer(model, cfg)
    scheduler = build_scheduler(optimizer, cfg, iters_per_epoch=len(loader))
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model.train()
    loss = torch.zeros(())
    start, images = 0.0, 0
    for it in range(warmup + iters):
        if it == warmup:
            _sync(device)
            start, images = time.perf_counter(), 0
        batch = batches[it % len(batches)]
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            loss = task.loss(model, batch, device)["loss"]
        optimizer.zero_grad(set_to_none=True)
        backward_and_step(loss, model, optimizer, scaler, cfg.optim.grad_clip)
        scheduler.step()
        images += batch["image"].shape[0]
    _sync(device)
    seconds = time.perf_counter() - start
    cuda = device.type == "cuda"
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else float("nan")
    return {"images_per_s": images / seconds, "peak_mib": peak, "loss": float(loss.detach()),
            "iters": iters, "batch": cfg.data.batch_size}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=50, help="timed iterations per model")
    parser.add_argument("--warmup", type=int, default=5, help="untimed iterations first")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--images", type=int, default=0, help="SynthPose images (0 = 4 batches)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--no-amp", action="store_true", help="fp32 even on CUDA")
    parser.add_argument("--tiny", action="store_true",
                        help="CPU-sized configs of the same families (smoke run)")
    parser.add_argument("--models", nargs="*", default=[m[0] for m in MODELS],
                        choices=[m[0] for m in MODELS])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    num_images = args.images or 4 * args.batch
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        generate_dataset(tmp, num_images, seed=0, size=256, split="train")
        for name, full, tiny in MODELS:
            if name not in args.models:
                continue
            cfg = experiment(tiny if args.tiny else full, Path(tmp), args.batch)
            results[name] = {"config": cfg.name, **train_steps(
                cfg, args.iters, device, not args.no_amp, args.warmup)}
    amp = "AMP fp16" if device.type == "cuda" and not args.no_amp else "fp32"
    label = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else platform.processor() or platform.machine())
    print(f"# training throughput on {label} ({amp}), torch {torch.__version__}, "
          f"{args.iters} timed iterations after {args.warmup}")
    print("| model | config | batch | images/s | peak memory (MiB) | loss after N |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['config']} | {r['batch']} | {r['images_per_s']:.1f} | "
              f"{r['peak_mib']:.0f} | {r['loss']:.4g} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
