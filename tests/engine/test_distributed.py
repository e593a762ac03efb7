import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.slow
def test_two_process_gloo_ranks_agree(tmp_path):
    """torchrun with 2 CPU processes: both ranks end with the same weights, loss and AP, and only
    rank 0 writes checkpoints."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), str(tmp_path)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["param_sum"] == r1["param_sum"] and r0["param_abs_sum"] == r1["param_abs_sum"]
    assert r0["loss"] == r1["loss"] and r0["best_ap"] == r1["best_ap"]
    run = tmp_path / "run"
    assert (run / "last.pt").exists() and (run / "metrics.csv").exists()
    assert not list(run.glob(".*.tmp"))
    # Logged once (rank 0): one row per epoch.
    assert (run / "metrics.csv").read_text().count("\nepoch,") == 2
