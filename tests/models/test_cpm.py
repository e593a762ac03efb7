"""CPM: MMPose parity, stage shapes, the belief hand-over between stages, background maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from make_mmpose_cpm_fixtures import WEIGHT_SEED, parity_input, seeded_state_dict

from posekit.losses import KeypointMSELoss, MultiStageLoss
from posekit.models import build_model, count_params
from posekit.models.cpm import CPM, remap_cpm_state_dict

FIXTURES = Path(__file__).parent / "fixtures"
KEYS = json.loads((FIXTURES / "mmpose_cpm_keys.json").read_text())["keys"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_remapped_mmpose_weights_reproduce_every_stage():
    golden = np.load(FIXTURES / "mmpose_cpm.npz")
    model = build_model("cpm_6stage", num_keypoints=17).eval()
    source = seeded_state_dict(KEYS, WEIGHT_SEED)
    model.load_state_dict(remap_cpm_state_dict(source), strict=True)
    x = parity_input()
    assert np.allclose(x.numpy(), golden["input"])
    with torch.no_grad():
        stages = model(x)
    assert len(stages) == 6
    for t, out in enumerate(stages):
        ref = torch.from_numpy(golden[f"stage{t}"])
        assert out.shape == ref.shape == (1, 17, 8, 6)
        assert ref.std() > 0.1  # near-zero maps would prove nothing
        assert (out - ref).abs().max() <= 1e-4, f"stage {t}"


def test_remap_fills_every_parameter_exactly_once():
    model = build_model("cpm_6stage")
    remapped = remap_cpm_state_dict({k: torch.zeros(s) for k, s, _ in KEYS})
    assert len(remapped) == len(KEYS)  # no two MMPose keys collide
    own = model.state_dict()
    assert set(remapped) == set(own)
    assert all(tuple(remapped[k].shape) == tuple(own[k].shape) for k in own)
    assert "module.backbone.stem.0.conv.weight" not in remap_cpm_state_dict(
        {"module.backbone.stem.0.conv.weight": torch.zeros(1)})


def test_paper_size_matches_mmpose_count():
    assert abs(count_params(build_model("cpm_6stage")) - 31.30e6) / 31.30e6 < 0.01


@pytest.mark.parametrize("stages", [1, 2, 4])
@pytest.mark.parametrize("background", [False, True])
def test_one_output_per_stage_at_stride_8(stages, background):
    model = build_model("cpm_tiny", num_stages=stages, background=background).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 60, 44))  # odd multiples: ⌈60/8⌉ = 8, ⌈44/8⌉ = 6
    assert len(outs) == stages
    assert all(o.shape == (2, 17 + background, 8, 6) for o in outs)


def test_later_stages_use_previous_beliefs():
    torch.manual_seed(0)
    model = build_model("cpm_tiny", num_stages=3).eval()
    for m in model.modules():  # the N(0, 0.001²) init makes every map ≈ 0; use larger weights
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.1)
    x = torch.randn(1, 3, 64, 48)
    with torch.no_grad():
        base = model.forward_stages(x)
        b1 = base[0] + torch.randn_like(base[0])
        changed = model.forward_stages(x, first_beliefs=b1)
        same = model.forward_stages(x, first_beliefs=base[0].clone())
    assert torch.equal(same[-1], base[-1])
    assert (changed[1] - base[1]).abs().max() > 1e-3  # stage 2 reads b_1
    assert (changed[2] - base[2]).abs().max() > 1e-3  # and passes it on to stage 3


def test_stage_sum_loss_trains_every_stage():
    model = build_model("cpm_tiny", num_stages=3)
    out = model(torch.randn(2, 3, 64, 48))
    target = torch.rand_like(out[0])
    loss = MultiStageLoss(KeypointMSELoss())(out, target, torch.ones(2, 17))
    loss.backward()
    assert model.stage1[-1][0].weight.grad.abs().sum() > 0
    assert model.stages[-1].head[-1][0].weight.grad.abs().sum() > 0


def test_invalid_arguments():
    with pytest.raises(ValueError, match="num_stages"):
        CPM(num_stages=0)
    with pytest.raises(ValueError, match="stage_kernel"):
        CPM(stage_kernel=4)


def test_posekit_convert_loads_an_mmpose_cpm_checkpoint(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
    from write_mmpose_standin import write_mmpose_checkpoint

    from posekit.cli import main
    from posekit.engine.loading import load_trained

    golden = np.load(FIXTURES / "mmpose_cpm.npz")
    src = write_mmpose_checkpoint(tmp_path / "td-hm_cpm.pth", seeded_state_dict(KEYS, WEIGHT_SEED))
    config = Path(__file__).resolve().parents[2] / "configs/cpm/cpm_6stage_coco_256x192.yaml"
    out = tmp_path / "cpm.pt"
    assert main(["convert", str(src), "--config", str(config), "--out", str(out)]) == 0
    model = load_trained(out).model
    with torch.no_grad():
        last = model(parity_input())[-1]
    assert (last - torch.from_numpy(golden["stage5"])).abs().max() <= 1e-4
