"""posekit bench at tiny sizes: exact people counts, rows per runtime, table and plot."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import tiny_topdown_config
from product_helpers import (
    tiny_checkpoint,
)

from posekit.benchmarking import bench_model, format_table, people_image, people_scene
from posekit.cli import main
from posekit.config import find_config, save_config
from posekit.pipelines.onestage import OneStage

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("n", [1, 3, 8, 32])
def test_people_image_holds_exactly_n_people_inside_their_boxes(n):
    image, boxes = people_image(n, size=256, seed=0)
    scene = people_scene(n, size=256, seed=0)
    assert image.shape == (256, 256, 3) and np.array_equal(image, scene.image)  # fixed seed
    assert len(boxes) == len(scene.people) == n
    for i, (box, person) in enumerate(zip(boxes, scene.people, strict=True)):
        x, y, x2, y2 = box.box
        w, h = x2 - x, y2 - y
        assert w > 0 and h > 0
        rows, cols = np.nonzero(scene.owner == i + 1)  # the person's visible pixels
        if len(rows):
            assert cols.min() >= x and cols.max() <= x + w and rows.min() >= y
            assert rows.max() <= y + h
        else:
            assert person.area == 0


def test_bench_cli_writes_table_json_and_plot(tmp_path, capsys):
    cfg_path = tmp_path / "tiny.yaml"
    save_config(tiny_topdown_config(), cfg_path)
    out = tmp_path / "bench"
    rc = main(["bench", str(cfg_path), "--people", "1,4", "--repeats", "1", "--threads", "1",
               "--size", "128", "--out", str(out)])
    assert rc == 0
    rows = json.loads((out / "bench.json").read_text())
    assert [(r["runtime"], r["people"]) for r in rows] == [
        ("torch", 1), ("torch", 4), ("onnxruntime", 1), ("onnxruntime", 4)]
    for r in rows:
        assert set(r["ms"]) == {"detector", "preprocess", "network", "decode"}
        assert r["total_ms"] >= sum(r["ms"].values()) * 0.99 > 0
    table = (out / "bench.md").read_text()
    assert table.count("\n") == 2 + len(rows)
    assert "| tiny | onnxruntime | 4 |" in table
    assert "| grouping |" in table.splitlines()[0] + "|" and "–" in table  # no grouping here
    png = cv2.imread(str(out / "bench.png"))
    assert png is not None and png.shape[0] > 100
    assert "wrote" in capsys.readouterr().out


def test_bench_a_checkpoint(tmp_path):
    """A checkpoint is benched with its trained weights (labelled with its model name)."""
    _, ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    rows = bench_model(str(ckpt), people=(1, 16), runtimes=("torch",), repeats=2, size=128)
    assert [r.people for r in rows] == [1, 16]
    assert rows[0].model == "tiny (simple_baseline_tiny)"
    assert all(r.ms["network"] > 0 and r.total_ms > 0 for r in rows)


def test_format_table_marks_missing_phases():
    from posekit.benchmarking import BenchRow

    row = BenchRow("m", "torch", 2, {"network": 3.0, "grouping": 1.0}, 4.0)
    line = format_table([row]).splitlines()[-1]
    assert line == "| m | torch | 2 | – | – | 3.0 | – | 1.0 | 4.0 | 2.00 |"


def test_bench_rejects_unknown_inputs(tmp_path):
    assert main(["bench", str(tmp_path / "none.yaml"), "--out", str(tmp_path)]) == 2
    assert main(["bench", "--people", "a,b", "--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("config,phases", [
    ("rtmo_tiny_synthpose_256x256", {"preprocess", "network", "decode"}),
    ("openpose_light_synthpose_256", {"preprocess", "network", "decode", "grouping"}),
])
def test_bench_one_stage_and_bottom_up_rows(config, phases):
    """One-stage and bottom-up models bench through their own pipelines: no detector phase (they
    find the people themselves), grouping only for bottom-up."""
    rows = bench_model(config, people=(1, 4), runtimes=("torch",), repeats=1, size=128,
                       threads=1)
    assert [(r.runtime, r.people) for r in rows] == [("torch", 1), ("torch", 4)]
    for r in rows:
        assert set(r.ms) == phases
        assert r.ms["network"] > 0 and r.total_ms >= sum(r.ms.values()) * 0.99


def test_bench_budget_caps_repeats():
    """A cell makes the repeats that fit in the budget; a warm-up slower than the budget is the
    measurement itself (one call), with its phases."""
    kw = dict(people=(1,), runtimes=("torch",), repeats=3, size=128, threads=1)
    full = bench_model("simplebaseline_tiny_synthpose_128x96", **kw)
    over = bench_model("simplebaseline_tiny_synthpose_128x96", budget_s=1e-9, **kw)
    assert full[0].calls == 3 and over[0].calls == 1
    assert over[0].ms["network"] > 0 and over[0].total_ms >= sum(over[0].ms.values()) * 0.99


def test_cap_people_makes_a_one_stage_model_decode_the_scenes_count(tmp_path, monkeypatch):
    """With every location a candidate (score threshold 0), untrained RTMO keeps many people;
    ``cap_people`` keeps exactly the scene's n, so the per-person decoding is timed for n."""
    text = find_config("rtmo_tiny_synthpose_256x256").read_text()
    config = tmp_path / "rtmo_all.yaml"
    config.write_text(text.replace("det_score_thresh: 0.1", "det_score_thresh: 0.0"))
    kept: list[int] = []
    to_image = OneStage.to_image
    monkeypatch.setattr(OneStage, "to_image",
                        lambda self, scores, *a: kept.append(len(scores)) or to_image(
                            self, scores, *a))
    kw = dict(people=(1, 4), runtimes=("torch",), repeats=1, size=128, threads=1)
    bench_model(str(config), **kw)
    assert min(kept) > 4  # uncapped: many more than the scene holds
    kept.clear()
    bench_model(str(config), cap_people=True, **kw)
    assert kept == [1, 1, 4, 4]  # warm-up and timed call at each n
