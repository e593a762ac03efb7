"""Issue 12 at the command line: one `error:` line for data, disk, permission and weight
problems, one `warning:` line with a count, configs by name, and the wheel's own demo."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest
from conftest import REAL_COCO_JSON

from posekit.cli import main
from posekit.config import list_configs, load_config

ROOT = Path(__file__).resolve().parents[1]


def _tiny_yaml(tmp_path: Path, ann: Path, workers: int = 0, extra: str = "") -> Path:
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(
        "model: {name: simple_baseline_tiny}\n"
        "codec: {input_size: [96, 128], heatmap_size: [24, 32], sigma: 1.5}\n"
        f"data: {{train_ann: {ann}, val_ann: {REAL_COCO_JSON}, batch_size: 4,"
        f" workers: {workers}{extra}}}\n"
        "schedule: {epochs: 1, warmup_iters: 1}\n"
        "test: {flip_test: false}\n"
    )
    return cfg


def _copy_dataset(tmp_path: Path) -> Path:
    shutil.copytree(REAL_COCO_JSON.parent, tmp_path / "data")
    return tmp_path / "data" / REAL_COCO_JSON.name


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.mark.slow
def test_image_failing_mid_run_in_a_worker_is_one_line(tmp_path, capsys):
    """Decode check skipped (huge-set opt-out), image corrupt: the DataLoader worker's
    traceback is reduced to the one line naming the file."""
    ann = _copy_dataset(tmp_path)
    bad = ann.parent / json.loads(ann.read_text())["images"][1]["file_name"]
    bad.write_bytes(b"not a jpeg at all" * 20)
    cfg = _tiny_yaml(tmp_path, ann, workers=2, extra=", check_images: exists")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    line = _one_error_line(capsys)
    assert line == f"error: cannot decode image {bad} (image id 40083): corrupt or not an image"


def test_check_data_command(tmp_path, capsys):
    cfg = _tiny_yaml(tmp_path, REAL_COCO_JSON)
    assert main(["check-data", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "train: 4 images, 14 people" in out and "ok: every image decoded" in out
    ann = _copy_dataset(tmp_path)
    bad = ann.parent / json.loads(ann.read_text())["images"][0]["file_name"]
    bad.write_bytes(b"")
    assert main(["check-data", str(cfg), f"data.val_ann={ann}"]) == 2
    assert "1 of 4 images cannot be decoded" in _one_error_line(capsys)


def test_out_of_image_keypoints_give_one_warning_with_count(tmp_path):
    data = json.loads(REAL_COCO_JSON.read_text())
    moved = 0
    for ann in data["annotations"][:2]:
        k = ann["keypoints"]
        first = next(i for i in range(0, len(k), 3) if k[i + 2] > 0)
        k[first] = 5000.0  # x = 5000 on a 640-pixel-wide image, still labelled
        moved += 1
    tmp_json = tmp_path / "far.json"
    tmp_json.write_text(json.dumps(data))
    cfg = _tiny_yaml(tmp_path, tmp_json, extra=f", train_images: {REAL_COCO_JSON.parent}")
    from posekit.errors import DataWarning

    with pytest.warns(DataWarning) as record:
        assert main(["check-data", str(cfg)]) == 0
    assert len(record) == 1  # train only: the val json is the untouched one
    # The CLI prints warnings through this formatter: one line.
    assert warnings.formatwarning(record[0].message, DataWarning, "x.py", 1) == (
        f"warning: {tmp_json}: {moved} labelled keypoints lie far outside their image "
        "(more than 25% of its size beyond the border); check the annotations' coordinates\n")


def test_weights_of_another_skeleton_name_both_counts(tmp_path, capsys):
    """`eval` with a 14-keypoint config on a 17-keypoint checkpoint says 17 vs 14."""
    cfg = _tiny_yaml(tmp_path, REAL_COCO_JSON)
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    other = tmp_path / "crowd.yaml"
    other.write_text(cfg.read_text().replace("workers: 0", "workers: 0, skeleton: crowdpose14"))
    assert main(["eval", "--checkpoint", str(tmp_path / "run" / "last.pt"), "--config",
                 str(other), "--data", str(REAL_COCO_JSON)]) == 2
    line = _one_error_line(capsys)
    assert "the checkpoint has 17 keypoints, the config 14" in line
    assert "in the checkpoint vs 14x" in line and len(line) < 400


def test_unsafe_checkpoint_error_drops_torch_advice(tmp_path, capsys):
    import torch

    torch.save({"model": {}, "obj": object()}, tmp_path / "unsafe.pt")
    assert main(["eval", "--checkpoint", str(tmp_path / "unsafe.pt"), "--data", "x"]) == 2
    line = _one_error_line(capsys)
    assert "weights_only" in line and "Unsupported global" in line
    assert "two options" not in line and "\x1b" not in line and len(line) < 300


def test_disk_full_while_saving_says_so(tmp_path, capsys, monkeypatch):
    """torch's zip writer reports ENOSPC as 'unexpected pos'; the error names the disk."""
    from posekit.engine import checkpoint

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 4096:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(checkpoint.os, "fdopen", lambda fd, mode: FullDisk(real_fdopen(fd, mode)))
    cfg = _tiny_yaml(tmp_path, REAL_COCO_JSON)
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    line = _one_error_line(capsys)
    assert line == f"error: disk full while writing {tmp_path / 'run' / 'last.pt'}"
    assert not list((tmp_path / "run").glob(".*.tmp"))


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True,
                    reason="root ignores file permissions")
def test_permission_denied_is_one_line(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cfg = _tiny_yaml(tmp_path, REAL_COCO_JSON)
    assert main(["train", str(cfg), "--out", str(locked / "run")]) == 2
    assert _one_error_line(capsys).startswith("error: permission denied")


def test_permission_error_while_writing_the_run_is_one_line(tmp_path, capsys, monkeypatch):
    from posekit.engine import run_folder

    def denied(cfg, path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(run_folder, "save_config", denied)
    cfg = _tiny_yaml(tmp_path, REAL_COCO_JSON)
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert _one_error_line(capsys) == \
        f"error: permission denied: {tmp_path / 'run' / 'config.yaml'}"


def test_os_errors_become_short_lines():
    from posekit.errors import one_line_error

    assert one_line_error(PermissionError(errno.EACCES, "Permission denied", "/r/x")) == \
        "permission denied: /r/x"
    assert one_line_error(OSError(errno.ENOSPC, "No space left", "/r/m.csv")) == \
        "disk full while writing /r/m.csv"


def test_configs_by_name(capsys):
    shipped = list_configs()
    assert "simplebaseline_tiny_synthpose_128x96" in shipped
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert "simplebaseline_res50_coco_256x192" in out and "simplebaseline " in out
    cfg = load_config("simplebaseline_res50_coco_256x192")
    assert cfg.name == "simplebaseline_res50_coco_256x192" and cfg.model.name
    assert load_config("simplebaseline/simplebaseline_res50_coco_256x192.yaml").name == cfg.name
    with pytest.raises(FileNotFoundError, match="similar: simplebaseline_res50_coco_256x192"):
        load_config("simplebaseline_res50_coco")
    assert main(["info", "simplebaseline_res50_coco_256x192", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["input_size"] == [256, 192]


@pytest.mark.slow
def test_installed_wheel_runs_its_demo_from_another_directory(tmp_path):
    """Build the wheel, install it into a fresh venv (dependencies seen through a .pth file to
    the running interpreter's site-packages, nothing downloaded) and run a one-epoch demo from
    an unrelated directory: the configs must come from the installed package."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("posekit", "configs"):
        shutil.copytree(ROOT / name, src / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["OMP_NUM_THREADS"] = "1"

    def run(*cmd, cwd=tmp_path):
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", str(tmp_path / "dist"), str(src))
    wheel = next((tmp_path / "dist").glob("posekit-*.whl"))
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    py = venv / "bin" / "python"
    purelib = Path(run(str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                   .strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "_posekit_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    run(sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps",
        "--no-index", str(wheel))
    shutil.rmtree(src)  # nothing may come from the source tree

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(str(py), "-c", "import posekit; print(posekit.__file__)", cwd=elsewhere)
    assert where.startswith(str(venv)), where
    listed = run(str(venv / "bin" / "posekit"), "configs", cwd=elsewhere)
    assert "simplebaseline_tiny_synthpose_128x96" in listed
    out = run(str(venv / "bin" / "posekit"), "demo", "--out", "demo", "--train-images", "12",
              "--val-images", "4", "--epochs", "1", cwd=elsewhere)
    assert "val AP (GT boxes, flip test):" in out
    assert (elsewhere / "demo" / "best.pt").is_file()
