"""Training: ``train_one_epoch`` and ``main`` (torchvision-references style), plus the CLI entry.

``posekit train CONFIG.yaml`` runs on one process; ``torchrun --nproc_per_node N -m posekit.cli
train CONFIG.yaml`` runs DDP (NCCL on GPUs, gloo on CPU): a DistributedSampler shards the data,
rank 0 logs and writes checkpoints, metrics are all-reduced. Checkpoints hold everything needed to
continue exactly (model, optimiser, scheduler, scaler, EMA, epoch, torch RNG, resolved config);
data order and augmentation are functions of (seed, epoch, index), so a resumed run reproduces
the uninterrupted run's loss curve.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from posekit.config import ExperimentConfig, config_sets, config_to_dict, load_config
from posekit.data.coco import CocoPoseDataset
from posekit.engine.checkpoint import (
    checkpoint_keypoints,
    load_checkpoint,
    load_weights,
    save_checkpoint,
)
from posekit.engine.distributed import (
    barrier,
    broadcast_object,
    cleanup_distributed,
    get_world_size,
    init_distributed,
    is_distributed,
    is_main_process,
    reduce_dict,
    unwrap,
)
from posekit.engine.ema import ModelEMA
from posekit.engine.run_folder import (
    CsvLog,
    ScalarsLog,
    check_run_dir,
    never_checkpointed,
    open_run_folder,
)
from posekit.engine.split import load_split, skeleton_from_train_json
from posekit.engine.task import Task, TrainDataset
from posekit.engine.tasks import build_task
from posekit.models.vitpose import ViTPose

__all__ = [
    "backward_and_step", "build_optimizer", "build_scheduler", "train_one_epoch", "main",
    "train_cli", "TrainResult", "autocast_dtype", "check_data", "check_data_cli", "cpu_has_bf16",
    "train_loader", "scalars_row",
]


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN: AVX512-BF16 or AMX); emulated bf16 is
    slower than float32, so ``train.cpu_amp`` is ignored without it."""
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def build_optimizer(model: nn.Module, cfg: ExperimentConfig) -> torch.optim.Optimizer:
    """Adam / AdamW / SGD; no weight decay on biases and normalisation parameters, and the LR
    of parameters under a name prefix in ``optim.lr_mults`` scaled (RTMO's encoder: ×0.05).

    ViTPose builds its own groups (``param_groups``: layer-wise LR decay, no decay on position
    embeddings too).
    """
    o = cfg.optim
    if isinstance(model, ViTPose):
        if o.lr_mults:
            raise ValueError("optim.lr_mults: this model builds its own parameter groups "
                             "(optim.layer_decay); leave lr_mults empty")
        groups = model.param_groups(o.lr, o.weight_decay, o.layer_decay)
        for g in groups:
            g.pop("names", None)
    else:
        groups = _prefix_groups(model, o.lr, o.weight_decay, o.lr_mults, tuple(o.decay_also))
    if o.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr, betas=tuple(o.betas))
    if o.optimizer == "adam":
        return torch.optim.Adam(groups, lr=o.lr, betas=tuple(o.betas))
    if o.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=True)
    raise ValueError(f"optim.optimizer must be adam, adamw or sgd, got {o.optimizer!r}")


def _prefix_groups(model: nn.Module, lr: float, weight_decay: float,
                   lr_mults: dict[str, float], decay_also: tuple[str, ...] = ()) -> list[dict]:
    """Parameter groups keyed by (LR multiplier, decayed): 1-D parameters (biases, norms) get no
    weight decay unless their name ends with one of ``decay_also``; a name under a prefix of
    ``lr_mults`` gets lr × its multiplier."""
    unused = set(lr_mults)
    groups: dict[tuple[float, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        mult = 1.0
        for prefix, m in lr_mults.items():
            if name == prefix or name.startswith(prefix + "."):
                mult = float(m)
                unused.discard(prefix)
        decayed = p.ndim > 1 or (bool(decay_also) and name.endswith(decay_also))
        groups.setdefault((mult, decayed), []).append(p)
    if unused:
        raise ValueError(f"optim.lr_mults: no parameter is under {sorted(unused)}")
    return [{"params": ps, "lr": lr * mult, "weight_decay": weight_decay if decayed else 0.0}
            for (mult, decayed), ps in groups.items()]


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: ExperimentConfig, iters_per_epoch: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-iteration LR factor: a warm-up (MMEngine's LinearLR or MMPose's QuadraticWarmupLR),
    then step decay at epochs, or a cosine from the end of the warm-up down to a floor."""
    s = cfg.schedule
    if s.policy not in ("step", "cosine"):
        raise ValueError(f"schedule.policy must be step or cosine, got {s.policy!r}")
    if s.warmup not in ("linear", "quadratic"):
        raise ValueError(f"schedule.warmup must be linear or quadratic, got {s.warmup!r}")
    total = max(1, s.epochs * iters_per_epoch)
    warmup = s.warmup_epochs * iters_per_epoch if s.warmup_epochs > 0 else s.warmup_iters

    def factor(it: int) -> float:
        if s.policy == "step":
            epoch = it // max(1, iters_per_epoch)
            f = s.gamma ** sum(epoch >= step for step in s.steps)
        else:
            t = max(0, it - warmup) / max(1, total - warmup)
            f = s.min_lr_ratio + (1 - s.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))
        if it < warmup:
            if s.warmup == "quadratic":
                f *= ((it + 1) / warmup) ** 2
            else:
                f *= s.warmup_ratio + (1 - s.warmup_ratio) * it / max(1, warmup - 1)
        return f

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class _EpochSampler(Sampler[int]):
    """Single-process shuffling that depends only on (seed, epoch), like DistributedSampler;
    the dataset order when ``shuffle`` is false."""

    def __init__(self, size: int, seed: int, shuffle: bool = True) -> None:
        self.size, self.seed, self.epoch, self.shuffle = size, seed, 0, shuffle

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        if not self.shuffle:
            return iter(range(self.size))
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=g).tolist())

    def __len__(self) -> int:
        return self.size


def backward_and_step(loss: torch.Tensor, model: nn.Module, optimizer: torch.optim.Optimizer,
                      scaler: torch.amp.GradScaler | None, grad_clip: float) -> float | None:
    """Backward (scaled under float16 AMP), clip the gradient norm to ``grad_clip`` (> 0), step;
    the total norm before clipping (None without clipping), as MMEngine logs it."""
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    grad_norm = None
    if grad_clip > 0:
        grad_norm = float(nn.utils.clip_grad_norm_(model.parameters(), grad_clip))
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return grad_norm


def train_one_epoch(
    model: nn.Module,
    task: Task,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    device: torch.device,
    epoch: int,
    *,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    grad_clip: float = 0.0,
    ema: ModelEMA | None = None,
    log_interval: int = 20,
    progress: bool = True,
    on_log: Any = None,
    start_iter: int = 0,
    max_iters: int = 0,
) -> dict[str, float]:
    """One pass over ``loader``; returns the epoch's mean losses (all-reduced), lr and images/s.

    ``start_iter`` counts the run's iterations before this epoch: ``on_log`` gets a row every
    ``log_interval`` iterations of the run, with the lr the step used; the pass stops early once
    the run has done ``max_iters`` iterations (0: no limit).
    """
    model.train()
    sums: dict[str, float] = {}
    count, images, start = 0, 0, time.perf_counter()
    bar = None
    if progress and is_main_process():
        from tqdm import tqdm

        bar = tqdm(total=len(loader), desc=f"epoch {epoch}", leave=False, dynamic_ncols=True,
                   file=sys.stderr)
    for it, batch in enumerate(loader):
        if max_iters > 0 and start_iter + it >= max_iters:
            break
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32,
                            enabled=amp_dtype is not None):
            losses = task.loss(model, batch, device)
        loss = losses["loss"]
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"non-finite loss {loss.item()} at epoch {epoch} iteration {it}; "
                "lower optim.lr or enable optim.grad_clip"
            )
        optimizer.zero_grad(set_to_none=True)
        lr = optimizer.param_groups[0]["lr"]  # the lr of this step (the scheduler moves it on)
        grad_norm = backward_and_step(loss, model, optimizer, scaler, grad_clip)
        scheduler.step()
        if ema is not None:
            ema.update(unwrap(model))
        reduced = reduce_dict({k: v.detach() for k, v in losses.items()})
        for k, v in reduced.items():
            sums[k] = sums.get(k, 0.0) + float(v)
        count += 1
        images += batch["image"].shape[0] * get_world_size()
        rate = images / (time.perf_counter() - start)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{float(reduced['loss']):.4g}", img_s=f"{rate:.1f}")
        if on_log is not None and (start_iter + it + 1) % log_interval == 0:
            row = {"epoch": epoch, "iter": it + 1, "lr": lr,
                   **{k: float(v) for k, v in reduced.items()}, "images_per_s": rate}
            if grad_norm is not None:
                row["grad_norm"] = grad_norm
            on_log(row)
    if bar is not None:
        bar.close()
    out = {k: v / max(count, 1) for k, v in sums.items()}
    out["lr"] = optimizer.param_groups[0]["lr"]
    out["images_per_s"] = images / max(time.perf_counter() - start, 1e-9)
    return out


def scalars_row(row: dict[str, Any], start_iter: int, optimizer: torch.optim.Optimizer,
                 base_lr: float) -> dict[str, Any]:
    """A scalars.jsonl line from a log row: the run's 1-based iteration, the epoch, the lr of
    ``optim.lr``'s schedule (group 0 can be a scaled group, e.g. ViTPose's layer decay) and every
    loss term under the task's names (MMPose's: loss_kpt, loss_bbox, loss_cls, ...)."""
    group = optimizer.param_groups[0]
    lr = row["lr"] * base_lr / group["initial_lr"] if group.get("initial_lr") else row["lr"]
    terms = {k: v for k, v in row.items() if k not in ("epoch", "iter", "lr")}
    return {"iter": start_iter + row["iter"], "epoch": row["epoch"], "lr": lr, **terms}


def _resolve_device(requested: str) -> str:
    if requested in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available")
    return requested


@dataclasses.dataclass
class TrainResult:
    """What a training run leaves in memory (its files are in ``out_dir``)."""

    model: nn.Module  # the trained model (unwrapped from DDP; raw weights, not EMA)
    best_ap: float  # best validation AP seen (-1 when never validated)
    epoch: int  # last completed epoch
    stats: dict[str, float]  # the last epoch's training statistics


def check_data(cfg: ExperimentConfig, task: Task | None = None, *, workers: int = 4
               ) -> dict[str, CocoPoseDataset]:
    """Load and check both splits before training: json, image files present and, unless
    ``data.check_images`` is ``exists``, that every image decodes. Returns the datasets (the
    val split is the task's own, read once, when a task is given)."""
    mode = cfg.data.check_images
    if mode not in ("decode", "exists"):
        raise ValueError(f"data.check_images must be decode or exists, got {mode!r}")
    splits = {"train": load_split(cfg, "train"),
              "val": task.val_coco() if task is not None else load_split(cfg, "val")}
    if mode == "decode":
        for coco in splits.values():
            coco.check_decodable(workers=workers)
    return splits


def autocast_dtype(cfg: ExperimentConfig, device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype of a run: bf16 (fp16 without bf16) on CUDA with
    ``train.amp``, bf16 on a CPU that computes it natively with ``train.cpu_amp``, else None."""
    if cfg.train.amp and device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if cfg.train.cpu_amp and device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None


def train_loader(task: Task, train_set: TrainDataset, cfg: ExperimentConfig,
                 device: torch.device) -> DataLoader:
    """The training loader: DistributedSampler under DDP, else a (seed, epoch) shuffle; the
    batch never exceeds one process's share of the data."""
    sampler: Sampler[int] = (
        DistributedSampler(train_set, shuffle=cfg.data.shuffle, seed=cfg.train.seed,
                           drop_last=True)
        if is_distributed() else _EpochSampler(len(train_set), cfg.train.seed, cfg.data.shuffle)
    )
    batch_size = min(cfg.data.batch_size, max(1, len(train_set) // get_world_size()))
    return DataLoader(
        train_set, batch_size=batch_size, sampler=sampler, num_workers=cfg.data.workers,
        drop_last=True, pin_memory=device.type == "cuda", persistent_workers=False,
        collate_fn=task.collate_fn,
    )


@dataclasses.dataclass
class _Run:
    """What the epochs of one training run share, and the best validation so far."""

    cfg: ExperimentConfig
    task: Task
    model: nn.Module  # DDP-wrapped under DDP
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None
    ema: ModelEMA | None
    device: torch.device
    out_dir: Path
    main_proc: bool
    log: CsvLog | None = None
    scalars: ScalarsLog | None = None
    tb: Any = None
    best_ap: float = -1.0
    best_epoch: int = -1


def _restore(run: _Run, state: dict[str, Any]) -> tuple[int, dict[str, float] | None]:
    """Optimiser, scheduler, scaler, EMA, RNG and best AP from a checkpoint; returns the first
    epoch to train and, when the checkpoint's validation is pending, its epoch statistics."""
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if run.scaler is not None and state.get("scaler"):
        run.scaler.load_state_dict(state["scaler"])
    if run.ema is not None and state.get("ema"):
        run.ema.load_state_dict(state["ema"])
    torch.set_rng_state(state["rng"]["torch"].cpu())
    run.best_ap = float(state.get("best_ap", -1.0))
    run.best_epoch = int(state.get("best_epoch", -1))
    pending = dict(state.get("epoch_stats") or {}) if state.get("val_pending") else None
    return int(state["epoch"]) + 1, pending


def _snapshot(run: _Run, epoch: int, stats: dict[str, float], val_pending: bool
              ) -> dict[str, Any]:
    """The checkpoint of the run after ``epoch``: all a resume needs."""
    return {
        "model": unwrap(run.model).state_dict(),
        "ema": run.ema.state_dict() if run.ema is not None else None,
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict() if run.scaler is not None else None,
        "epoch": epoch,
        "best_ap": run.best_ap,
        "best_epoch": run.best_epoch,
        "val_pending": val_pending,
        "epoch_stats": {k: float(v) for k, v in stats.items()},
        "config": config_to_dict(run.cfg),
        "rng": {"torch": torch.get_rng_state()},
    }


def _finish_epoch(run: _Run, epoch: int, stats: dict[str, float], validate: bool,
                  save: bool) -> None:
    """Validation, best.pt, the epoch row and last.pt, in the crash-safe order."""
    row: dict[str, Any] = {"kind": "epoch", "epoch": epoch, **stats}
    if validate:
        if run.main_proc:  # save before validating: a failing validation loses no training
            save_checkpoint(_snapshot(run, epoch, stats, True), run.out_dir / "last.pt")
        barrier()
        eval_model = run.ema.module if run.ema is not None else unwrap(run.model)
        report = run.task.evaluate(eval_model, run.device)
        row.update({f"val_{k}": v for k, v in report.stats.items()})
        if report.stats["AP"] > run.best_ap:
            run.best_ap, run.best_epoch = report.stats["AP"], epoch
            if run.main_proc:
                save_checkpoint(_snapshot(run, epoch, stats, False), run.out_dir / "best.pt")
    assert run.log is not None
    run.log(row)
    if run.tb is not None:
        for k, v in row.items():
            if isinstance(v, int | float) and k != "epoch":
                run.tb.add_scalar(k, v, epoch)
    if run.main_proc:
        shown = ("loss", "lr", "images_per_s", "val_AP")
        msg = " ".join(f"{k}={v:.4g}" for k, v in row.items()
                       if isinstance(v, float) and k in shown)
        print(f"epoch {epoch}: {msg}", flush=True)
        if save or validate:
            save_checkpoint(_snapshot(run, epoch, stats, False), run.out_dir / "last.pt")
    barrier()


def _train_epochs(run: _Run, loader: DataLoader, train_set: TrainDataset, start_epoch: int,
                  pending: dict[str, float] | None, amp_dtype: torch.dtype | None, *,
                  stop_epoch: int | None, progress: bool) -> tuple[int, dict[str, float]]:
    """The epoch loop from ``start_epoch`` (a pending validation first); returns the last
    epoch and its statistics. Stops after ``stop_epoch`` or when ``train.max_minutes`` is up."""
    cfg = run.cfg
    started = time.perf_counter()
    stats: dict[str, float] = {}
    epoch = start_epoch - 1
    if pending is not None:  # the checkpoint was written before its validation: redo it
        stats = pending
        _finish_epoch(run, epoch, stats, validate=True, save=True)
    log = run.log
    assert log is not None
    max_iters = cfg.train.max_iters
    for epoch in range(start_epoch, cfg.schedule.epochs):
        loader.sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        run.task.set_epoch(epoch)
        start_iter = epoch * len(loader)

        def on_log(row: dict[str, Any], start_iter: int = start_iter) -> None:
            log({"kind": "iter", **row})
            if run.scalars is not None:
                run.scalars(scalars_row(row, start_iter, run.optimizer, cfg.optim.lr))

        stats = train_one_epoch(
            run.model, run.task, loader, run.optimizer, run.scheduler, run.device, epoch,
            scaler=run.scaler, amp_dtype=amp_dtype, grad_clip=cfg.optim.grad_clip, ema=run.ema,
            log_interval=cfg.train.log_interval, progress=progress, on_log=on_log,
            start_iter=start_iter, max_iters=max_iters,
        )
        last_epoch = epoch == cfg.schedule.epochs - 1
        out_of_time = (cfg.train.max_minutes > 0
                       and (time.perf_counter() - started) / 60 >= cfg.train.max_minutes)
        out_of_time = bool(broadcast_object(out_of_time))
        out_of_iters = max_iters > 0 and (epoch + 1) * len(loader) >= max_iters
        stop = out_of_time or out_of_iters
        validate = (epoch + 1) % cfg.train.val_interval == 0 or last_epoch or stop
        save = (epoch + 1) % cfg.train.checkpoint_interval == 0 or last_epoch or stop
        _finish_epoch(run, epoch, stats, validate, save)
        if stop_epoch is not None and epoch >= stop_epoch:
            break
        if out_of_iters and not last_epoch:
            if run.main_proc:
                print(f"stopping after epoch {epoch}: train.max_iters={max_iters} reached",
                      flush=True)
            break
        if out_of_time:
            if run.main_proc:
                print(f"stopping after epoch {epoch}: train.max_minutes="
                      f"{cfg.train.max_minutes} reached", flush=True)
            break
    return epoch, stats


def main(
    cfg: ExperimentConfig, out_dir: str | Path, *, resume: str | Path | None = None,
    progress: bool = True, stop_epoch: int | None = None, exist_ok: bool = False,
) -> TrainResult:
    """Train ``cfg`` into ``out_dir`` (last.pt, best.pt, config.yaml, metrics.csv).

    ``stop_epoch`` ends this invocation after that epoch (as a preemption would) while the LR
    schedule still spans ``schedule.epochs``; ``resume`` continues from a checkpoint.

    Run folders (`posekit.engine.run_folder`): an existing non-empty ``out_dir`` is refused
    unless ``resume`` is given (the run continues: metrics.csv is cut back to the checkpoint,
    stale temp files are removed) or ``exist_ok`` (a new run starts over in it: its config.yaml,
    metrics.csv, last.pt and best.pt are replaced). Nothing is written to ``out_dir`` before the
    config, both data splits and the resume checkpoint have been checked.

    Save order of an epoch (so a kill at any point leaves a consistent folder): on validation
    epochs last.pt is written first (marked ``val_pending``: the epoch's training is never lost
    to a failing validation), then validation, best.pt when it improved, the epoch row of
    metrics.csv, and last.pt again; a resume from a ``val_pending`` checkpoint redoes that
    validation before training on.
    """
    device = init_distributed(_resolve_device(cfg.train.device))
    out_dir = Path(out_dir)
    main_proc = is_main_process()
    if resume is not None and never_checkpointed(out_dir, Path(resume)):
        print(f"{resume} does not exist: the run stopped before its first checkpoint; "
              "starting it over", file=sys.stderr)
        resume, exist_ok = None, True
    check_run_dir(out_dir, resume=resume is not None, exist_ok=exist_ok)
    torch.manual_seed(cfg.train.seed)

    # --- checks: config (task, model), data (both splits), checkpoint; nothing written yet.
    task = build_task(cfg)
    model = task.build_model().to(device)
    task.check_model(model)
    if main_proc:
        check_data(cfg, task)
    train_set = task.train_dataset()
    if len(train_set) == 0:
        raise ValueError("the training split has no usable people")
    state = None
    if resume is not None:
        state = load_checkpoint(resume, map_location=device)
        load_weights(model, state["model"], source=resume, model_name=cfg.model.name,
                     num_keypoints=task.skeleton.num_keypoints,
                     source_keypoints=checkpoint_keypoints(state))
    loader = train_loader(task, train_set, cfg, device)
    optimizer = build_optimizer(model, cfg)
    amp_dtype = autocast_dtype(cfg, device)
    run = _Run(
        cfg, task, model, optimizer, build_scheduler(optimizer, cfg, len(loader)),
        torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None,
        ModelEMA(model, cfg.optim.ema_decay) if cfg.optim.ema else None,
        device, out_dir, main_proc,
    )
    start_epoch, pending = _restore(run, state) if state is not None else (0, None)
    barrier()  # every rank has checked before rank 0 writes

    run.log = open_run_folder(out_dir, cfg, enabled=main_proc,
                              resumed_epoch=None if resume is None else start_epoch - 1,
                              validated=pending is None)
    run.scalars = ScalarsLog(out_dir / "scalars.jsonl", main_proc,
                             resume_epoch=None if resume is None else start_epoch)
    if is_distributed():
        run.model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    run.tb = _tensorboard(out_dir, cfg.train.tensorboard and main_proc)
    if main_proc:
        print(f"posekit train: {cfg.name or 'experiment'} → {out_dir} on {device}"
              f" ({get_world_size()} process{'es' if get_world_size() > 1 else ''}),"
              f" {len(train_set)} training samples, {len(loader)} iterations/epoch"
              + (f", {str(amp_dtype).removeprefix('torch.')} autocast" if amp_dtype else ""))
    epoch, stats = _train_epochs(run, loader, train_set, start_epoch, pending, amp_dtype,
                                 stop_epoch=stop_epoch, progress=progress)
    if run.tb is not None:
        run.tb.close()
    cleanup_distributed()
    return TrainResult(unwrap(run.model), run.best_ap, epoch, stats)


def _tensorboard(out_dir: Path, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print("tensorboard is not installed; logging to metrics.csv only", file=sys.stderr)
        return None
    return SummaryWriter(str(out_dir / "tb"))


def _skeleton_unless_set(cfg: ExperimentConfig, args: argparse.Namespace) -> ExperimentConfig:
    """A config that leaves ``data.skeleton`` out trains on the skeleton its train json names."""
    if config_sets(args.config, list(args.overrides), "data.skeleton"):
        return cfg
    cfg, source = skeleton_from_train_json(cfg)
    if source is not None and int(os.environ.get("RANK", "0")) == 0:
        print(f"data.skeleton: {cfg.data.skeleton} (the person category of {source}; the config "
              "does not set it)", file=sys.stderr)
    return cfg


def train_cli(args: argparse.Namespace) -> int:
    """``posekit train CONFIG [--out DIR] [--resume CKPT] [--exist-ok] [--epochs N] [--device D]
    [k=v ...]``; CONFIG is a YAML file or the name of a shipped config."""
    cfg = _skeleton_unless_set(load_config(args.config, args.overrides), args)
    if args.epochs is not None:
        cfg = dataclasses.replace(cfg, schedule=dataclasses.replace(cfg.schedule,
                                                                    epochs=args.epochs))
    if args.device is not None:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, device=args.device))
    out = Path(args.out) if args.out else Path("runs") / cfg.name
    rank0 = int(os.environ.get("RANK", "0")) == 0  # before the process group exists
    if rank0:
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
    result = main(cfg, out, resume=args.resume, progress=sys.stderr.isatty(),
                  exist_ok=args.exist_ok)
    if rank0:
        print(f"done: best val AP {result.best_ap:.4f}; checkpoints in {out}")
    return 0


def check_data_cli(args: argparse.Namespace) -> int:
    """``posekit check-data CONFIG [k=v ...]``: what training checks before its first step."""
    cfg = _skeleton_unless_set(load_config(args.config, list(args.overrides)), args)
    start = time.perf_counter()
    splits = check_data(cfg, build_task(cfg))
    for name, coco in splits.items():
        print(f"{name}: {len(coco)} images, {coco.num_people} people, "
              f"skeleton {coco.skeleton.name} ({coco._source})")
    how = "decoded" if cfg.data.check_images == "decode" else "present (not decoded)"
    print(f"ok: every image {how}; {time.perf_counter() - start:.1f} s")
    return 0
