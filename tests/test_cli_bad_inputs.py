"""What a new user's bad input and a failing run do at the command line: `--debug` reaches the
handler, foreign checkpoints name the refused global, a failing run keeps earlier results,
unmatched detections and odd results files are reported, a run that never checkpointed resumes."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import warnings
from pathlib import Path

import cv2
import pytest
import torch
from conftest import REAL, REAL_COCO_JSON
from product_helpers import person_image, tiny_checkpoint

from posekit.cli import build_parser, main
from posekit.config import load_config, save_config
from posekit.errors import DataWarning, one_line_error, shorten_torch_load_error

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CROWDPOSE_JSON = REAL / "mmpose_crowdpose" / "test_crowdpose.json"


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _tiny_yaml(tmp_path: Path, ann: Path = REAL_COCO_JSON, extra: str = "") -> Path:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "model: {name: simple_baseline_tiny}\n"
        "codec: {input_size: [96, 128], heatmap_size: [24, 32], sigma: 1.5}\n"
        f"data: {{train_ann: {ann}, val_ann: {ann}, batch_size: 4, workers: 0{extra}}}\n"
        "schedule: {epochs: 1, warmup_iters: 1}\n"
        "test: {flip_test: false}\n"
    )
    return cfg


# --- --debug, --help -------------------------------------------------------------------------


def test_top_level_debug_reaches_the_command(tmp_path):
    """`posekit --debug CMD` shows the traceback: the sub-command's own --debug (absent) must
    not reset it."""
    args = build_parser().parse_args(["--debug", "info", "x.yaml"])
    assert args.debug is True
    assert build_parser().parse_args(["info", "x.yaml", "--debug"]).debug is True
    assert build_parser().parse_args(["info", "x.yaml"]).debug is False
    with pytest.raises(FileNotFoundError):  # raised, not turned into "error: …" and exit 2
        main(["--debug", "info", str(tmp_path / "missing.yaml")])


def test_top_level_help_describes_the_tool_and_lists_every_command(capsys):
    parser = build_parser()
    assert not parser.description.rstrip().endswith("|")
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all(name in out for name in commands.choices)


# --- foreign or malicious checkpoints ---------------------------------------------------------


class Payload:
    """A pickled call (``os.getcwd``, harmless) standing in for arbitrary code."""

    def __reduce__(self):
        return (os.getcwd, ())


@pytest.fixture
def malicious(tmp_path) -> Path:
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "config": {}, "hook": Payload()}, path)
    return path


def test_refused_global_is_named_in_every_wording_of_torch():
    blocked = ("Weights only load failed. In PyTorch 2.6, we changed the default value of the "
               "`weights_only` argument in `torch.load` from `False` to `True`. Re-running "
               "`torch.load` with `weights_only` set to `False` will likely succeed, but it can "
               "result in arbitrary code execution.\n\n\nTrying to load unsupported GLOBAL "
               "posix.getcwd whose module posix is blocked.\n\nCheck the documentation")
    mid_line = ("Weights only load failed. (1) Re-running with `weights_only` set to `False` … "
                "WeightsUnpickler error: Unsupported global: GLOBAL foo.Bar was not an allowed "
                "global by default. Please use `torch.serialization.add_safe_globals([Bar])`.")
    for message, name in ((blocked, "posix.getcwd"), (mid_line, "foo.Bar")):
        line = shorten_torch_load_error(message)
        assert name in line and "weights_only=True" in line
        assert "False" not in line and "Re-running" not in line


@pytest.mark.parametrize("command", ["infer", "eval", "export", "resume"])
def test_malicious_checkpoint_names_the_global_not_torchs_advice(command, malicious, tmp_path,
                                                                capsys):
    argv = {
        "infer": ["infer", str(person_dir(tmp_path)), "--checkpoint", str(malicious),
                  "--detector", "full-image", "--out", str(tmp_path / "o")],
        "eval": ["eval", "--checkpoint", str(malicious), "--data", str(REAL_COCO_JSON)],
        "export": ["export", "--checkpoint", str(malicious), "--out", str(tmp_path / "m.onnx")],
        "resume": ["train", str(_tiny_yaml(tmp_path)), "--out", str(tmp_path / "run"),
                   "--resume", str(malicious)],
    }[command]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "posix.getcwd" in line and "refused by weights_only=True" in line, line
    assert "weights_only` set to `False" not in line and "Re-running" not in line
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "run").exists()


def person_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir(exist_ok=True)
    cv2.imwrite(str(folder / "a.png"), person_image(0))
    return folder


# --- infer: earlier results survive a failing run; unmatched detections -----------------------


def test_failing_infer_keeps_the_earlier_results(tmp_path, capsys):
    _, ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "out"
    args = ["--checkpoint", str(ckpt), "--detector", "full-image", "--out", str(out)]
    assert main(["infer", str(person_dir(tmp_path)), *args]) == 0
    before = (out / "results.json").read_text()
    assert json.loads(before)
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "x.jpg").write_bytes(b"not a jpeg")
    assert main(["infer", str(corrupt), *args]) == 2
    assert "nothing readable" in capsys.readouterr().err
    assert (out / "results.json").read_text() == before
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "results.json"]  # no temp file


def test_detections_matching_no_image_are_reported(tmp_path, capsys):
    _, ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    dets = tmp_path / "dets.json"  # image ids of another set: a.png is image 1
    dets.write_text(json.dumps([{"image_id": 785, "category_id": 1, "bbox": [0, 0, 50, 80],
                                 "score": 0.9}]))
    with pytest.warns(DataWarning, match=r"dets.json: none of its detections is on the 1 images "
                                         r"read \(their image ids: 1;.*0 people"):
        assert main(["infer", str(person_dir(tmp_path)), "--checkpoint", str(ckpt),
                     "--detector", str(dets), "--out", str(tmp_path / "o")]) == 0
    # eval --detections: the same mistake against a ground truth
    with pytest.warns(DataWarning, match=r"none of its 1 detections is on an image of the "
                                         r"dataset \(image ids 785, 40083"):
        assert main(["eval", "--checkpoint", str(ckpt), "--data", str(REAL_COCO_JSON),
                     "--detections", str(_shifted_ids(tmp_path))]) == 0


def _shifted_ids(tmp_path: Path) -> Path:
    """A detections file whose one box is on an image id the real sample does not have."""
    path = tmp_path / "other_set.json"
    path.write_text(json.dumps([{"image_id": 123456, "category_id": 1, "bbox": [0, 0, 50, 80],
                                 "score": 0.9}]))
    return path


# --- eval: empty and duplicated results files --------------------------------------------------


def _gt_as_results() -> list[dict]:
    gt = json.loads(REAL_COCO_JSON.read_text())
    return [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
             "score": 1.0} for a in gt["annotations"] if a["num_keypoints"] > 0]


@pytest.mark.parametrize("kind", ["empty", "duplicated", "clean"])
def test_eval_warns_about_empty_or_duplicated_results(kind, tmp_path, capsys):
    results = {"empty": [], "duplicated": _gt_as_results() * 2, "clean": _gt_as_results()}[kind]
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(results))
    argv = ["eval", "--gt", str(REAL_COCO_JSON), "--pred", str(pred)]
    if kind == "clean":
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataWarning)
            assert main(argv) == 0
        return
    message = ("holds no results: every AP and AR is 0" if kind == "empty" else
               f"{len(results) // 2} of {len(results)} results repeat an earlier one exactly")
    with pytest.warns(DataWarning, match=message):
        assert main(argv) == 0


# --- convert / export / checkpoints: files ------------------------------------------------------


def test_checkpoints_follow_the_umask(tmp_path):
    from posekit.engine.checkpoint import save_checkpoint

    old = os.umask(0o022)
    try:
        path = save_checkpoint({"model": {}}, tmp_path / "a.pt")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_errors_name_the_target_not_the_temporary_file(tmp_path):
    from posekit.engine.checkpoint import save_checkpoint

    target = tmp_path / "last.pt"
    target.mkdir()  # the rename onto it fails
    with pytest.raises(OSError) as err:
        save_checkpoint({"model": {}}, target)
    line = one_line_error(err.value)
    assert str(target) in line and ".tmp" not in line, line
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


# --- smaller ones -----------------------------------------------------------------------------


def test_empty_override_is_the_empty_string(tmp_path, capsys):
    cfg = load_config(_tiny_yaml(tmp_path), ["data.root=", "data.val_images=''"])
    assert cfg.data.root == "" and cfg.data.val_images == ""
    assert main(["check-data", str(_tiny_yaml(tmp_path)), "data.root="]) == 0


def test_crowdpose_json_without_skeleton_trains_on_its_skeleton(tmp_path, capsys):
    """A config that leaves data.skeleton out takes the json's (CrowdPose's 14 points), as
    MMPose's dataset metainfo does; one that sets the wrong one is told which fits."""
    images = f", train_images: {CROWDPOSE_JSON.parent}, val_images: {CROWDPOSE_JSON.parent}"
    cfg = _tiny_yaml(tmp_path, CROWDPOSE_JSON, extra=images)
    assert main(["check-data", str(cfg)]) == 0
    captured = capsys.readouterr()
    assert "skeleton crowdpose14" in captured.out
    assert "data.skeleton: crowdpose14 (the person category of" in captured.err
    assert main(["check-data", str(cfg), "data.skeleton=coco17"]) == 2
    line = _one_error_line(capsys)
    assert "must hold 51 numbers" in line and "got 42" in line
    assert "describes skeleton crowdpose14 (14 keypoints)" in line
    assert "data.skeleton=crowdpose14" in line


def test_show_takes_a_coco_json_and_its_image_folder(tmp_path, capsys):
    moved = tmp_path / "images"
    shutil.copytree(REAL_COCO_JSON.parent, moved, ignore=shutil.ignore_patterns("*.json"))
    out = tmp_path / "sheet.png"
    assert main(["show", str(REAL_COCO_JSON), "--images", str(moved), "--out", str(out),
                 "--num", "2"]) == 0
    assert cv2.imread(str(out)) is not None
    assert main(["show", str(REAL_COCO_JSON), "--out", str(out), "--num", "2"]) == 0


# --- a run killed before its first checkpoint --------------------------------------------------


def _killed_before_first_checkpoint(tmp_path: Path) -> tuple[Path, Path]:
    """What a run killed during its first epoch leaves: config.yaml and iteration rows."""
    yaml_path = _tiny_yaml(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    save_config(load_config(yaml_path), run / "config.yaml")
    with (run / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["kind", "epoch", "iter", "loss"])
        writer.writeheader()
        writer.writerow({"kind": "iter", "epoch": 0, "iter": 0, "loss": 1.0})
    return yaml_path, run


def test_run_killed_before_its_first_checkpoint_is_not_told_to_resume(tmp_path, capsys):
    yaml_path, run = _killed_before_first_checkpoint(tmp_path)
    assert main(["train", str(yaml_path), "--out", str(run)]) == 2
    line = _one_error_line(capsys)
    assert "--resume" not in line and "holds no checkpoint" in line and "--exist-ok" in line


def test_run_killed_before_its_first_checkpoint_resumes_from_the_start(tmp_path, capsys):
    yaml_path, run = _killed_before_first_checkpoint(tmp_path)
    assert main(["train", str(yaml_path), "--out", str(run), "--resume",
                 str(run / "last.pt")]) == 0
    assert "stopped before its first checkpoint; starting it over" in capsys.readouterr().err
    assert (run / "last.pt").is_file()
    with (run / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows if r["kind"] == "epoch"] == ["0"]
    assert not any(r.get("loss") == "1.0" for r in rows)  # the killed run's row is gone
    # a checkpoint path elsewhere is still an error, not a fresh start
    assert main(["train", str(yaml_path), "--out", str(tmp_path / "run2"), "--resume",
                 str(tmp_path / "nowhere" / "last.pt")]) == 2
    assert "checkpoint not found" in _one_error_line(capsys)


def test_infer_error_names_results_json_not_its_temporary_file(tmp_path, capsys):
    _, ckpt = tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "out"
    (out / "results.json").mkdir(parents=True)  # the final rename fails
    assert main(["infer", str(person_dir(tmp_path)), "--checkpoint", str(ckpt), "--no-draw",
                 "--detector", "full-image", "--out", str(out)]) == 2
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1 and str(out / "results.json") in errors[0], errors
    assert ".tmp" not in errors[0]
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]
