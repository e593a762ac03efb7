"""posekit's training steps beside MMPose 1.3.2's, per iteration and loss term.

    python benchmarks/train_parity.py simplebaseline_res50   # or cpm, vitpose_s,
        # rtmo_s_phase1, rtmo_s_phase2, rtmo_s_phase1_f64, rtmo_s_phase2_f64 (float64)

MMPose's side is the stored fixture tests/engine/fixtures/train_steps/RUN.json (written by
tests/engine/make_mmpose_train_fixtures.py in an MMPose venv); posekit's side is a live run of
`posekit.engine.train.main` (3 iterations, batch 4, no shuffle, no augmentation) from the same
seeded weights converted with `posekit.export.convert`, the setup of
tests/engine/test_mmpose_train_parity.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _parity_module():
    path = ROOT / "tests" / "engine" / "test_mmpose_train_parity.py"
    spec = importlib.util.spec_from_file_location("train_parity_setup", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    setup = _parity_module()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", choices=sorted(setup.RUNS))
    args = parser.parse_args()
    ref = json.loads((setup.STEPS / f"{args.run}.json").read_text())
    rows = setup.train_posekit(args.run, len(ref["iterations"]))["rows"]
    print(f"{args.run}: MMPose {ref['mmpose']} ({ref['config']}) vs posekit, "
          f"batch {ref['batch_size']}, no shuffle, no augmentation")
    print(f"{'iter':>4}  {'term':<14}{'MMPose':>14}{'posekit':>14}{'rel. diff':>11}")
    for row, it in zip(rows, ref["iterations"], strict=True):
        terms = {k: v for k, v in it["outputs"].items() if k.startswith("loss")}
        terms["lr"] = setup.base_lr(ref, it)
        if "grad_norm" in it:
            terms["grad_norm"] = it["grad_norm"]
        for name, value in terms.items():
            print(f"{it['iter']:>4}  {name:<14}{value:>14.7g}{row[name]:>14.7g}"
                  f"{setup.rel(row[name], value):>11.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
