"""posekit convert: MMPose SimpleBaseline parity, complete key maps, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from make_mmpose_simplebaseline_fixtures import (
    PARITY_MODEL,
    parity_input,
    seeded_state_dict,
)
from write_mmpose_standin import write_mmpose_checkpoint

from posekit.cli import main
from posekit.config import load_config
from posekit.engine.loading import load_trained
from posekit.export.convert import convert_checkpoint, convert_state_dict, load_foreign_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FIXTURES = Path(__file__).parent / "fixtures"
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "simplebaseline"
KEYS = json.loads((FIXTURES / "mmpose_simplebaseline_keys.json").read_text())["models"]


def config_for(model: str) -> Path:
    return CONFIGS / f"{model.replace('simple_baseline_', 'simplebaseline_')}_coco_256x192.yaml"


@pytest.mark.parametrize("numpy1_names", [True, False])
def test_converted_res50_reproduces_mmpose_heatmaps(tmp_path, numpy1_names):
    golden = np.load(FIXTURES / "mmpose_simplebaseline.npz")
    keys = KEYS[PARITY_MODEL]["keys"]
    src = write_mmpose_checkpoint(tmp_path / "td-hm_res50.pth", seeded_state_dict(keys),
                            numpy1_names=numpy1_names)
    out = tmp_path / "sb_res50.pt"
    assert main(["convert", str(src), "--config", str(config_for(PARITY_MODEL)),
                 "--out", str(out)]) == 0
    model = load_trained(out).model  # what eval / infer / export load
    x = parity_input()
    assert np.allclose(x.numpy(), golden["input"])
    with torch.no_grad():
        heatmaps = model(x)
    ref = torch.from_numpy(golden["heatmaps"])
    assert heatmaps.shape == ref.shape
    assert ref.std() > 0.1  # a fixture of near-zero maps would prove nothing
    assert (heatmaps - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_mmpose_key_maps_onto_posekit(name):
    """MMPose's full key list (names and shapes) of each zoo config fits the posekit model."""
    keys = KEYS[name]["keys"]
    source = {k: torch.zeros(shape, dtype=getattr(torch, dt.removeprefix("torch.")))
              for k, shape, dt in keys}
    state = convert_state_dict(source, load_config(config_for(name)))
    assert len(state) == len(keys)


def test_unmatched_keys_are_named(tmp_path):
    keys = KEYS[PARITY_MODEL]["keys"]
    sd = seeded_state_dict(keys)
    sd["head.extra_conv.weight"] = torch.zeros(3, 3)
    del sd["backbone.layer4.2.bn3.running_var"]
    sd["head.final_layer.weight"] = torch.zeros(5, 256, 1, 1)
    src = write_mmpose_checkpoint(tmp_path / "bad.pth", sd)
    with pytest.raises(ValueError) as err:
        convert_checkpoint(src, config_for(PARITY_MODEL), tmp_path / "out.pt")
    msg = str(err.value)
    assert "head.extra_conv.weight" in msg  # source key with no posekit parameter
    assert "backbone.layer4.2.bn3.running_var" in msg  # posekit buffer left empty
    assert "final_layer.weight: source (5, 256, 1, 1) vs posekit (17, 256, 1, 1)" in msg
    assert not (tmp_path / "out.pt").exists()


class Payload:
    """Stands in for an arbitrary pickled object (its unpickling could run any code)."""

    def __reduce__(self):
        return (print, ("this must never run",))


def test_checkpoint_with_arbitrary_object_is_refused(tmp_path, capsys):
    src = tmp_path / "evil.pth"
    torch.save({"meta": {"hook": Payload()}, "state_dict": {"a": torch.zeros(1)}}, src)
    with pytest.raises(ValueError, match=r"refused: loading it would unpickle .print"):
        load_foreign_checkpoint(src)
    assert "this must never run" not in capsys.readouterr().out
    # The CLI turns it into one error line and exit status 2.
    assert main(["convert", str(src), "--config", str(config_for(PARITY_MODEL)),
                 "--out", str(tmp_path / "o.pt")]) == 2
    assert "refused" in capsys.readouterr().err


def test_other_numpy_dtypes_are_refused(tmp_path):
    """Only the float32 dtype of MMPose's meta is allowed, not numpy at large."""
    src = tmp_path / "int64meta.pth"
    torch.save({"meta": {"ids": np.arange(3, dtype=np.int64)}, "state_dict": {}}, src)
    with pytest.raises(ValueError, match="refused"):
        load_foreign_checkpoint(src)


def test_model_without_converter(tmp_path, tiny_cfg):
    with pytest.raises(ValueError, match="no converter for model 'simple_baseline_tiny'"):
        convert_state_dict({"a": torch.zeros(1)}, tiny_cfg)


def test_extra_source_keys_are_refused_when_none_is_missing(tmp_path):
    """A source with every key plus one that maps to nothing must not convert silently."""
    keys = KEYS[PARITY_MODEL]["keys"]
    sd = seeded_state_dict(keys)
    sd["head.extra_conv.weight"] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match=r"1 source keys without a posekit parameter: "
                                         r"head.extra_conv.weight"):
        convert_state_dict(sd, load_config(config_for(PARITY_MODEL)))


def test_cli_error_lists_every_unmatched_key(tmp_path, capsys):
    """The README's promise at the command line: both lists, not a first line cut with '…'."""
    keys = KEYS[PARITY_MODEL]["keys"]
    sd = seeded_state_dict(keys)
    sd["head.extra_conv.weight"] = torch.zeros(3, 3)
    del sd["backbone.layer4.2.bn3.running_var"]
    src = write_mmpose_checkpoint(tmp_path / "bad.pth", sd)
    assert main(["convert", str(src), "--config", str(config_for(PARITY_MODEL)),
                 "--out", str(tmp_path / "out.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and " …\n" not in err
    assert "1 source keys without a posekit parameter: head.extra_conv.weight" in err
    assert "1 posekit parameters/buffers not filled: backbone.layer4.2.bn3.running_var" in err


def test_existing_out_is_kept_unless_forced(tmp_path, capsys):
    keys = KEYS[PARITY_MODEL]["keys"]
    src = write_mmpose_checkpoint(tmp_path / "sb.pth", seeded_state_dict(keys))
    out = tmp_path / "sb.pt"
    out.write_bytes(b"an earlier conversion")
    argv = ["convert", str(src), "--config", str(config_for(PARITY_MODEL)), "--out", str(out)]
    assert main(argv) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == b"an earlier conversion"
    assert main([*argv, "--force"]) == 0
    assert load_trained(out).cfg.model.name == PARITY_MODEL
