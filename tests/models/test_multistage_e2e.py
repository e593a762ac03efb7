"""CPM, stacked hourglass and CPN end to end: `posekit train` + `posekit eval` on the shipped
tiny SynthPose configs (pointed at the 4-image real COCO sample), ONNX parity of the last stage
and of the decoded people, and the background map through the flip test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REAL_COCO_JSON
from product_helpers import person_image, randomize_

from posekit import PoseEstimator
from posekit.cli import main
from posekit.config import apply_overrides, config_to_dict, load_config
from posekit.engine.checkpoint import save_checkpoint
from posekit.engine.tasks import build_task
from posekit.export.onnx import OnnxRunner, export_onnx

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TINY = {
    "cpm": CONFIGS / "cpm" / "cpm_tiny_synthpose_128x96.yaml",
    "hourglass": CONFIGS / "hourglass" / "hourglass_tiny_synthpose_128x96.yaml",
    "cpn": CONFIGS / "cpn" / "cpn_tiny_synthpose_128x96.yaml",
}
ON_SAMPLE = [f"data.train_ann={REAL_COCO_JSON}", f"data.val_ann={REAL_COCO_JSON}",
             "data.root=''", "data.workers=0", "data.batch_size=4", "schedule.epochs=1",
             "schedule.warmup_iters=2", "train.val_interval=1", "test.flip_test=true"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow  # about 10-60 s per family on a loaded 2-core machine (CPM's 9×9 convs)
@pytest.mark.parametrize("family", sorted(TINY))
def test_train_then_eval_with_the_cli(family, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", str(TINY[family]), "--out", str(out), "--device", "cpu",
                 *ON_SAMPLE]) == 0
    assert main(["eval", "--config", str(out / "config.yaml"), "--checkpoint",
                 str(out / "last.pt"), "--data", str(REAL_COCO_JSON), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "AP: " in text


@pytest.mark.parametrize("family", sorted(TINY))
def test_onnx_export_matches_last_stage_and_people(family, tmp_path):
    cfg = apply_overrides(load_config(TINY[family]), ON_SAMPLE)
    task = build_task(cfg)
    model = randomize_(task.build_model()).eval()
    path = export_onnx(task, model, tmp_path / f"{family}.onnx")
    x = task.example_input(2)
    with torch.no_grad():
        last = model(x)[-1]
    assert (OnnxRunner(path)(x) - last).abs().max() <= 1e-4
    ckpt = tmp_path / "m.pt"
    save_checkpoint({"model": model.state_dict(), "config": config_to_dict(cfg), "epoch": 0},
                    ckpt)
    boxes = np.array([[0, 0, 96, 128], [10, 20, 40, 60]], np.float64)
    eager = PoseEstimator.from_checkpoint(ckpt, detector=lambda im: boxes)
    ort = PoseEstimator.from_checkpoint(path, detector=lambda im: boxes)
    a, b = eager(person_image(1)), ort(person_image(1))
    assert len(a) == len(b) >= 1
    assert (a.keypoints.xy - b.keypoints.xy).abs().max() <= 0.01


def test_cpm_background_channel_is_trained_and_dropped_at_decode():
    cfg = apply_overrides(load_config(TINY["cpm"]), ON_SAMPLE)
    task = build_task(cfg)
    assert task.codec.background
    model = task.build_model()
    assert model(task.example_input(1))[-1].shape[1] == 18
    kpts = torch.zeros(2, 17, 3)
    kpts[..., 0], kpts[..., 1], kpts[..., 2] = 48.0, 64.0, 2.0
    kpts[1, 5:, 2] = 0  # unlabelled keypoints: masked out of the loss
    targets = task.codec.encode(kpts[:, None])
    assert targets.heatmaps.shape == (2, 18, 16, 12)

    class Fixed(torch.nn.Module):
        def __init__(self, maps):
            super().__init__()
            self.maps = maps

        def forward(self, x):
            return [self.maps]

    maps = targets.heatmaps.clone()
    maps[1, 5:17] += 1.0  # wrong only on the unlabelled keypoints of sample 1: no loss
    batch = {"image": torch.zeros(2, 3, 128, 96), "keypoints": kpts}
    assert task.loss(Fixed(maps), batch, torch.device("cpu"))["loss"].item() == 0.0
    maps[:, 17] += 1.0  # the background map is always trained
    assert task.loss(Fixed(maps), batch, torch.device("cpu"))["loss"].item() > 0
    pipe = task.pipeline(lambda x: torch.rand(x.shape[0], 18, 16, 12), "cpu")
    heatmaps = pipe.heatmaps(task.example_input(2))  # flip test keeps the background map
    assert heatmaps.shape == (2, 18, 16, 12)
    decoded = task.codec.decode(heatmaps)
    first = decoded[0] if isinstance(decoded, tuple) else decoded
    assert first.shape[:2] == (2, 17)
