"""Run folders: one rule, nothing written before config, data and checkpoint are
checked, and a resume after a kill at any point of the save sequence leaves no trace."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import REAL_COCO_JSON

from posekit.config import apply_overrides
from posekit.engine import run_folder
from posekit.engine import train as engine
from posekit.engine.checkpoint import load_checkpoint, save_checkpoint


def _rows(run: Path) -> list[dict]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def _snapshot(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def test_existing_run_folder_is_refused_untouched(tiny_cfg, tmp_path):
    cfg = apply_overrides(tiny_cfg, ["schedule.epochs=1"])
    engine.main(cfg, tmp_path / "run", progress=False)
    before = _snapshot(tmp_path / "run")
    assert set(before) == {"config.yaml", "metrics.csv", "scalars.jsonl", "last.pt", "best.pt"}
    with pytest.raises(FileExistsError, match="not empty.*--resume.*--exist-ok"):
        engine.main(apply_overrides(cfg, ["optim.lr=2e-3"]), tmp_path / "run", progress=False)
    assert _snapshot(tmp_path / "run") == before


def test_exist_ok_starts_over_with_a_fresh_log(tiny_cfg, tmp_path):
    cfg = apply_overrides(tiny_cfg, ["schedule.epochs=1"])
    engine.main(cfg, tmp_path / "run", progress=False)
    (tmp_path / "run" / "notes.txt").write_text("mine")
    engine.main(cfg, tmp_path / "run", progress=False, exist_ok=True)
    epochs = [r["epoch"] for r in _rows(tmp_path / "run") if r["kind"] == "epoch"]
    assert epochs == ["0"]  # the old run's rows are not appended to
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"  # other files are kept


def test_resume_with_foreign_checkpoint_writes_nothing(tiny_cfg, tmp_path):
    """Weights of another model: one line naming the first differing tensor and keypoint
    counts, and the run's config.yaml is not overwritten."""
    cfg = apply_overrides(tiny_cfg, ["schedule.epochs=1"])
    engine.main(cfg, tmp_path / "run", progress=False)
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    final = [k for k in state["model"] if k.endswith("weight")][-1]
    state["model"][final] = state["model"][final][:14]
    state["model"][final.replace("weight", "bias")] = state["model"][
        final.replace("weight", "bias")][:14]
    state["config"]["data"]["skeleton"] = "crowdpose14"
    save_checkpoint(state, tmp_path / "foreign.pt")
    before = _snapshot(tmp_path / "run")
    with pytest.raises(ValueError) as info:
        engine.main(apply_overrides(cfg, ["schedule.epochs=2"]), tmp_path / "run",
                    resume=tmp_path / "foreign.pt", progress=False)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 400, msg
    assert f"first {final}: 14x" in msg and "in the checkpoint vs 17x" in msg
    assert "the checkpoint has 14 keypoints, the config 17" in msg
    assert _snapshot(tmp_path / "run") == before


def _copy_dataset(tmp_path: Path) -> Path:
    src = REAL_COCO_JSON.parent
    dst = tmp_path / "data"
    shutil.copytree(src, dst)
    return dst / REAL_COCO_JSON.name


@pytest.mark.parametrize("split", ["train", "val"])
def test_corrupt_image_stops_before_anything_is_written(tiny_cfg, tmp_path, split):
    ann = _copy_dataset(tmp_path)
    bad = ann.parent / json.loads(ann.read_text())["images"][2]["file_name"]
    bad.write_bytes(b"\xff\xd8 definitely not a jpeg" * 10)
    other = "val" if split == "train" else "train"
    cfg = apply_overrides(tiny_cfg, [f"data.{split}_ann={ann}",
                                     f"data.{other}_ann={REAL_COCO_JSON}"])
    with pytest.raises(ValueError, match=f"1 of 4 images cannot be decoded.*first: {bad}"):
        engine.main(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    # The opt-out for huge sets checks presence only (and then fails when the image is read).
    engine.check_data(apply_overrides(cfg, ["data.check_images=exists"]))


def test_missing_val_json_stops_before_training(tiny_cfg, tmp_path):
    cfg = apply_overrides(tiny_cfg, [f"data.val_ann={tmp_path / 'nope.json'}"])
    with pytest.raises(FileNotFoundError, match="nope.json"):
        engine.main(cfg, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_failing_validation_keeps_the_trained_epoch(tiny_cfg, tmp_path, monkeypatch):
    """Save before validating: when validation dies, last.pt already holds the epoch."""
    task_cls = type(engine.build_task(tiny_cfg))

    def broken(self, model, device="cpu"):
        raise ValueError("cannot decode image val/x.jpg")

    monkeypatch.setattr(task_cls, "evaluate", broken)
    with pytest.raises(ValueError, match="cannot decode"):
        engine.main(apply_overrides(tiny_cfg, ["schedule.epochs=1"]), tmp_path, progress=False)
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 0 and state["val_pending"] is True


# ---------------------------------------------------------------- kill during the save sequence

class Killed(BaseException):
    """Stands for SIGKILL: nothing catches it."""


RESUME_CFG = ["schedule.epochs=2", "train.val_interval=1", "train.log_interval=1",
              "optim.ema=true", "schedule.policy=cosine"]


def _rising_ap(monkeypatch: pytest.MonkeyPatch, cfg) -> None:
    """The tiny run's real AP is 0 at every epoch, so best.pt would never move: score the
    evaluated (EMA) model by its BN step counter instead, a function of the restored state."""
    task_cls = type(engine.build_task(cfg))
    real = task_cls.evaluate

    def evaluate(self, model, device="cpu"):
        report = real(self, model, device)
        steps = max(int(b) for n, b in model.named_buffers() if n.endswith("num_batches_tracked"))
        report.stats["AP"] = steps / 100
        return report

    monkeypatch.setattr(task_cls, "evaluate", evaluate)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    from conftest import tiny_topdown_config

    cfg = tiny_topdown_config(*RESUME_CFG)
    run = tmp_path_factory.mktemp("reference")
    with pytest.MonkeyPatch.context() as mp:
        _rising_ap(mp, cfg)
        engine.main(cfg, run, progress=False)
    return cfg, run


# The save sequence of a validation epoch is last.pt (val pending), best.pt (if better), last.pt;
# call n of save_checkpoint is killed before it writes (leaving its temp file) or just after.
# Epoch 0 saves with calls 1-3, epoch 1 (a new best over an existing one) with calls 4-6: every
# point of epoch 1's sequence, plus a kill before the very first checkpoint (start over).
KILL_POINTS = [(1, "before")] + [(c, w) for c in (4, 5, 6) for w in ("before", "after")]


@pytest.mark.slow
@pytest.mark.parametrize(("call", "when"), KILL_POINTS)
def test_kill_at_any_save_then_resume_leaves_no_trace(reference_run, tmp_path, monkeypatch,
                                                      call, when):
    cfg, ref = reference_run
    _rising_ap(monkeypatch, cfg)
    run = tmp_path / "run"
    calls = {"n": 0}
    real_save = engine.save_checkpoint

    def flaky(state, path):
        calls["n"] += 1
        if calls["n"] == call:
            if when == "before":
                (Path(path).parent / f".{Path(path).name}.dead.tmp").write_bytes(b"")
                raise Killed
            real_save(state, path)
            raise Killed
        return real_save(state, path)

    monkeypatch.setattr(engine, "save_checkpoint", flaky)
    with pytest.raises(Killed):
        engine.main(cfg, run, progress=False)
    monkeypatch.setattr(engine, "save_checkpoint", real_save)
    if (run / "last.pt").exists():
        engine.main(cfg, run, resume=run / "last.pt", progress=False)
    else:  # killed before the first checkpoint: start over
        engine.main(cfg, run, exist_ok=True, progress=False)

    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in ref.iterdir())
    rows, ref_rows = _rows(run), _rows(ref)
    keys = [(r["kind"], r["epoch"], r.get("iter", "")) for r in rows]
    assert len(keys) == len(set(keys)), "duplicated metrics rows"
    assert keys == [(r["kind"], r["epoch"], r.get("iter", "")) for r in ref_rows]
    for r, q in zip(rows, ref_rows, strict=True):
        assert float(r["loss"]) == pytest.approx(float(q["loss"]), rel=1e-5), r
        assert r.get("val_AP", "") == q.get("val_AP", "")
    last, best = load_checkpoint(run / "last.pt"), load_checkpoint(run / "best.pt")
    ref_best = load_checkpoint(ref / "best.pt")
    assert (best["epoch"], best["best_ap"]) == (last["best_epoch"], last["best_ap"])
    assert (best["epoch"], best["best_ap"]) == (ref_best["epoch"], ref_best["best_ap"]) == (1, 0.06)
    for k, v in ref_best["ema"]["module"].items():
        torch.testing.assert_close(best["ema"]["module"][k], v, rtol=1e-5, atol=1e-7)
    assert not last["val_pending"]


def test_full_disk_while_logging_names_the_file(tmp_path, monkeypatch):
    """A failed write() carries no file name; the log re-raises it with metrics.csv named."""
    import errno

    from posekit.errors import one_line_error

    log = run_folder.CsvLog(tmp_path / "metrics.csv", enabled=True)
    log({"kind": "iter", "loss": 1.0})

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_folder.csv.DictWriter, "writerow", full)
    with pytest.raises(OSError) as info:
        log({"kind": "iter", "loss": 2.0})
    assert one_line_error(info.value) == f"disk full while writing {tmp_path / 'metrics.csv'}"
