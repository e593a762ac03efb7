"""``posekit info CONFIG``: parameters and FLOPs of a config's model at its input size."""

from __future__ import annotations

import argparse
import json

from posekit.config import ExperimentConfig, load_config
from posekit.engine.tasks import build_task
from posekit.models.complexity import count_flops, count_params

__all__ = ["model_info", "info_cli"]


def model_info(cfg: ExperimentConfig) -> dict:
    """``{"params", "flops", "input_size": [h, w]}``; FLOPs count a multiply-add as 2."""
    model = build_task(cfg).build_model()
    w, h = cfg.codec.input_size
    return {"params": count_params(model), "flops": count_flops(model, (1, 3, h, w)),
            "input_size": [h, w]}


def info_cli(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    info = model_info(cfg)
    if args.json:
        print(json.dumps(info))
    else:
        h, w = info["input_size"]
        print(f"model:      {cfg.model.name} ({cfg.name})")
        print(f"input:      {h}x{w} (h x w)")
        print(f"params:     {info['params'] / 1e6:.2f} M ({info['params']:,})")
        print(f"FLOPs:      {info['flops'] / 1e9:.2f} G (multiply-add = 2 FLOPs; "
              f"{info['flops'] / 2e9:.2f} G multiply-adds)")
    return 0
