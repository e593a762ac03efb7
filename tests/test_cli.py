"""End-to-end command-line checks: info, train, eval with a checkpoint, demo, and error lines."""

import json
from pathlib import Path

import pytest

from posekit.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_info_json_reproduces_paper_size(capsys):
    assert main(["info", str(CONFIGS / "simplebaseline/simplebaseline_res50_coco_256x192.yaml"),
                 "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["input_size"] == [256, 192]
    assert abs(info["params"] - 34.0e6) / 34.0e6 < 0.005  # MMPose: 34.00 M
    assert 10.0e9 < info["flops"] < 11.5e9  # 5.43 G multiply-adds, counted as 2 FLOPs each


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  lrr: 1\n")
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "optim.lrr" in err[0]
    assert main(["eval", "--checkpoint", str(tmp_path / "none.pt"), "--data", "x"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert main(["synth", "--out", str(tmp_path), "--num-images", "0"]) == 2
    assert capsys.readouterr().err.startswith("error:")


@pytest.mark.slow
def test_train_then_eval_checkpoint(tmp_path, capsys):
    from conftest import REAL_COCO_JSON

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "model: {name: simple_baseline_tiny}\n"
        "codec: {input_size: [96, 128], heatmap_size: [24, 32], sigma: 1.5}\n"
        f"data: {{train_ann: {REAL_COCO_JSON}, val_ann: {REAL_COCO_JSON}, batch_size: 4,"
        " workers: 0}\n"
        "schedule: {epochs: 1, warmup_iters: 1}\n"
    )
    assert main(["train", str(cfg), "--out", str(tmp_path / "run"), "optim.lr=1e-3"]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.001" in out and "done: best val AP" in out
    for name in ("last.pt", "best.pt", "config.yaml", "metrics.csv"):
        assert (tmp_path / "run" / name).exists(), name
    pred = tmp_path / "results.json"
    assert main(["eval", "--checkpoint", str(tmp_path / "run" / "best.pt"), "--data",
                 str(REAL_COCO_JSON), "--pred-out", str(pred), "--json",
                 str(tmp_path / "stats.json")]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("AP: ")
    results = json.loads(pred.read_text())
    assert len(results) == 12 and len(results[0]["keypoints"]) == 51
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert float(printed.split()[1]) == pytest.approx(stats["AP"], abs=5e-4)


@pytest.mark.slow
def test_demo_runs_end_to_end_small(tmp_path, capsys):
    """`make demo` in miniature: data, metric check, baseline, training, AP and a picture."""
    assert main(["demo", "--out", str(tmp_path / "demo"), "--train-images", "24",
                 "--val-images", "6", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "ground truth scored against itself, AP = 1.000" in out
    assert "mean-pose baseline" in out and "val AP (GT boxes, flip test):" in out
    assert (tmp_path / "demo" / "predictions.png").stat().st_size > 10_000
    assert (tmp_path / "demo" / "best.pt").exists()
