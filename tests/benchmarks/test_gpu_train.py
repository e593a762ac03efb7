"""benchmarks/gpu_train.py at a tiny size on the CPU: every family trains and reports figures."""

from __future__ import annotations

import json
import math
import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_train.py"


def test_gpu_train_tiny_cpu_reports_each_model(tmp_path, capsys):
    main = runpy.run_path(str(SCRIPT))["main"]
    out = tmp_path / "train.json"
    rc = main(["--tiny", "--device", "cpu", "--iters", "1", "--warmup", "0", "--batch", "1",
               "--images", "2", "--json", str(out)])
    assert rc == 0
    results = json.loads(out.read_text())
    assert list(results) == ["SimpleBaseline-Res50", "ViTPose-B", "RTMO-s"]
    for r in results.values():
        assert r["images_per_s"] > 0 and math.isfinite(r["loss"]) and r["loss"] > 0
        assert r["iters"] == 1 and r["batch"] == 1
    table = capsys.readouterr().out
    assert "| RTMO-s | rtmo_tiny_synthpose_256x256 | 1 |" in table
