"""ONNX export: checker, metadata, raw-output and decoded-people parity with eager PyTorch."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch
from product_helpers import (
    person_image,
    tiny_checkpoint,
)

from posekit import PoseEstimator
from posekit.cli import main
from posekit.config import config_to_dict
from posekit.engine.loading import load_trained
from posekit.engine.tasks import build_task
from posekit.export.onnx import OnnxRunner, config_from_onnx, export_onnx, read_metadata

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny checkpoint (quarter-offset decoding, flip test on) and its dynamic-batch export."""
    d = tmp_path_factory.mktemp("onnx")
    cfg, ckpt = tiny_checkpoint(d / "tiny.pt", "codec.refine=quarter", "test.flip_test=true")
    onnx_path = d / "tiny.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(onnx_path)]) == 0
    return cfg, ckpt, onnx_path


def test_file_passes_checker_and_stores_what_inference_needs(exported):
    cfg, _, path = exported
    onnx.checker.check_model(str(path), full_check=True)
    meta = read_metadata(path)
    assert meta["paradigm"] == "topdown" and meta["model"] == "simple_baseline_tiny"
    assert meta["skeleton"] == "coco17"
    assert json.loads(meta["input_size"]) == [96, 128]
    assert json.loads(meta["codec"]) == config_to_dict(cfg)["codec"]
    assert meta["batch"] == "dynamic"
    assert config_from_onnx(path) == cfg  # the full resolved config round-trips


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_raw_outputs_match_eager(exported, batch):
    _, ckpt, path = exported
    trained = load_trained(ckpt)
    task, model = trained.task, trained.model
    x = torch.randn(batch, 3, 128, 96, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        eager = task.inference_model(model)(x)
    runner = OnnxRunner(path)
    ort = runner(x)
    assert runner.batch is None and ort.shape == eager.shape == (batch, 17, 32, 24)
    assert eager.abs().max() > 0.1  # non-trivial maps
    assert (ort - eager).abs().max() <= 1e-4


def test_decoded_people_match_eager(exported):
    """Same pipeline code on both runtimes: several boxes (one batch), flip test on."""
    _, ckpt, path = exported
    boxes = np.array([[0, 0, 96, 128], [10, 20, 50, 80], [30, 5, 80, 105]], np.float64)
    eager = PoseEstimator.from_checkpoint(ckpt, detector=lambda im: boxes)
    ort = PoseEstimator.from_checkpoint(path, detector=lambda im: boxes)
    assert ort.runtime == "onnxruntime" and eager.runtime == "torch"
    for seed in range(3):
        image = person_image(seed)
        a, b = eager(image), ort(image)
        assert len(a) == len(b) >= 1
        assert (a.keypoints.xy - b.keypoints.xy).abs().max() <= 0.01
        assert (a.keypoints.conf - b.keypoints.conf).abs().max() <= 1e-4
        assert (a.scores - b.scores).abs().max() <= 1e-4
    assert set(ort.timing) == {"detector", "preprocess", "network", "decode"}


def test_fixed_batch_export_runs_any_number_of_crops(exported, tmp_path):
    _, ckpt, _ = exported
    trained = load_trained(ckpt)
    path = export_onnx(trained.task, trained.model, tmp_path / "b4.onnx", batch=4)
    runner = OnnxRunner(path)
    assert runner.batch == 4 and read_metadata(path)["batch"] == "4"
    x = torch.randn(6, 3, 128, 96)  # one full chunk of 4 and one padded chunk of 2
    with torch.no_grad():
        eager = trained.task.inference_model(trained.model)(x)
    assert (runner(x) - eager).abs().max() <= 1e-4


def test_multi_stage_models_export_their_last_stage(tiny_cfg, tmp_path):
    """inference_model reduces a list of stage outputs to the last one, which export keeps."""

    class TwoStage(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            y = self.inner(x)
            return [y * 0.5, y]

    task = build_task(tiny_cfg)
    inner = task.build_model().eval()
    with torch.no_grad():
        inner.final_layer.bias.fill_(1.0)
    path = export_onnx(task, TwoStage(inner), tmp_path / "two.onnx")
    x = task.example_input(2)
    assert len(onnx.load(str(path)).graph.output) == 1
    with torch.no_grad():
        assert (OnnxRunner(path)(x) - inner(x)).abs().max() <= 1e-4


def test_errors(exported, tmp_path):
    cfg, ckpt, _ = exported
    with pytest.raises(ValueError, match="batch must be"):
        task = build_task(cfg)
        export_onnx(task, task.build_model(), tmp_path / "x.onnx", batch=0)
    assert main(["export", "--checkpoint", str(ckpt), "--out", str(tmp_path / "y.onnx"),
                 "--batch", "many"]) == 2
    foreign = tmp_path / "foreign.onnx"
    proto = onnx.load(str(exported[2]))
    del proto.metadata_props[:]
    onnx.save(proto, str(foreign))
    with pytest.raises(ValueError, match="not a posekit ONNX export"):
        PoseEstimator.from_checkpoint(foreign, detector="full-image")


def test_external_data_export_matches_eager_and_replaces_inline(exported, tmp_path):
    """The > 2 GB path at a small size: weights in <out>.data, onnxruntime parity; a later
    inline export to the same name removes the .data file it would otherwise leave stale."""
    _, ckpt, _ = exported
    trained = load_trained(ckpt)
    out = tmp_path / "ext.onnx"
    export_onnx(trained.task, trained.model, out, external_data=True)
    data = tmp_path / "ext.onnx.data"
    weights = sum(p.numel() * 4 for p in trained.model.state_dict().values()
                  if p.is_floating_point())
    assert data.stat().st_size >= 0.9 * weights > 10 * out.stat().st_size
    assert read_metadata(out)["model"] == "simple_baseline_tiny"
    x = torch.randn(2, 3, 128, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eager = trained.task.inference_model(trained.model)(x)
    assert (OnnxRunner(out)(x) - eager).abs().max() <= 1e-4
    export_onnx(trained.task, trained.model, out)  # inline: one self-contained file
    assert not data.exists() and out.stat().st_size >= 0.9 * weights
    assert (OnnxRunner(out)(x) - eager).abs().max() <= 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ext.onnx"]


def test_inline_export_writes_no_data_file(exported):
    _, _, path = exported
    assert not path.with_name(path.name + ".data").exists()
    assert not any(p.name.startswith(".") for p in path.parent.iterdir())


def test_failed_export_leaves_nothing_and_keeps_the_earlier_file(exported, tmp_path,
                                                                 monkeypatch):
    _, ckpt, _ = exported
    trained = load_trained(ckpt)
    out = tmp_path / "m.onnx"
    out.write_bytes(b"an earlier export")

    def fail(*args, **kwargs):
        raise RuntimeError("checker failed")

    monkeypatch.setattr(onnx.checker, "check_model", fail)
    with pytest.raises(RuntimeError, match="checker failed"):
        export_onnx(trained.task, trained.model, out, external_data=True)
    assert out.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_bottom_up_export_takes_any_size_multiple_of_the_stride(tmp_path):
    """BottomUp feeds each image at its own aspect ratio and scale: the export has free height
    and width (multiples of the stride), where a top-down export keeps its crop size."""
    from posekit.config import find_config, load_config

    cfg = load_config(find_config("openpose_light_synthpose_256"), [
        'model.kwargs={"paf_stages": 1, "heatmap_stages": 1, "num_blocks": 1}'])
    task = build_task(cfg)
    torch.manual_seed(0)
    model = task.build_model().eval()
    runner = OnnxRunner(export_onnx(task, model, tmp_path / "bu.onnx"))
    dims = [d.dim_param or d.dim_value for d in
            onnx.load(str(tmp_path / "bu.onnx")).graph.input[0].type.tensor_type.shape.dim]
    assert dims[1] == 3 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))
    for shape in [(1, 3, 64, 96), (2, 3, 104, 264)]:
        x = torch.rand(shape) - 0.5
        with torch.no_grad():
            want = task.inference_model(model)(x)
        got = runner(x)
        assert [tuple(t.shape) for t in got] == [tuple(t.shape) for t in want]
        assert max(float((a - b).abs().max()) for a, b in zip(got, want, strict=True)) <= 1e-4
