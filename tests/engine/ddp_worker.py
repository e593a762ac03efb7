"""Run by test_distributed.py under ``torchrun --nproc_per_node 2``: trains the tiny config with
DDP on CPU (gloo) and writes this rank's view of the result to OUT/rank<r>.json."""

import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import tiny_topdown_config  # noqa: E402

from posekit.engine.train import main  # noqa: E402


def run(out: Path) -> None:
    cfg = tiny_topdown_config("schedule.epochs=2", "data.batch_size=2")
    result = main(cfg, out / "run", progress=False)
    flat = torch.cat([p.detach().flatten() for p in result.model.parameters()])
    rank = int(os.environ["RANK"])
    (out / f"rank{rank}.json").write_text(json.dumps({
        "param_sum": float(flat.double().sum()),
        "param_abs_sum": float(flat.double().abs().sum()),
        "loss": result.stats["loss"],
        "best_ap": result.best_ap,
        "world_size": int(os.environ["WORLD_SIZE"]),
    }))


if __name__ == "__main__":
    run(Path(sys.argv[1]))
