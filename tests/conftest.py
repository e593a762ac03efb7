"""Shared test fixtures: paths of the real samples and a tiny top-down config on them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from posekit.config import ExperimentConfig, apply_overrides

FIXTURES = Path(__file__).parent / "fixtures"
REAL = FIXTURES / "real"
REAL_COCO_JSON = REAL / "mmpose_coco" / "test_coco.json"


def tiny_topdown_config(*overrides: str) -> ExperimentConfig:
    """SimpleBaseline-tiny at 128x96 trained and validated on the 4-image real COCO sample."""
    base = [
        "model.name=simple_baseline_tiny",
        "codec.input_size=[96, 128]", "codec.heatmap_size=[24, 32]", "codec.sigma=1.5",
        "codec.refine=dark", "codec.unbiased_encoding=true",
        f"data.train_ann={REAL_COCO_JSON}", f"data.val_ann={REAL_COCO_JSON}",
        "data.batch_size=4", "data.val_batch_size=16", "data.workers=0",
        "optim.lr=1e-3", "schedule.epochs=2", "schedule.warmup_iters=2",
        "train.val_interval=1", "train.log_interval=1000", "test.flip_test=false",
    ]
    return apply_overrides(ExperimentConfig(name="tiny"), base + list(overrides))


@pytest.fixture
def tiny_cfg() -> ExperimentConfig:
    return tiny_topdown_config()


@pytest.fixture
def one_torch_thread():
    """One torch thread for the test (restored after): on the shared 2-core machine, OpenMP's
    busy-waiting threads make eager inference many times slower when the cores are busy."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
