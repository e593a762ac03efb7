"""OpenPose models: CMU conversion parity against pytorch-openpose outputs, stage wiring."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.models import build_model
from posekit.models.openpose import OpenPose, remap_openpose_cmu_state_dict

FIXTURE = Path(__file__).parents[1] / "fixtures" / "openpose" / "openpose_cmu_body.npz"

# The fixture's seeded weight rule, written once beside the end-to-end fixture's maker.
sys.path.insert(0, str(Path(__file__).parents[1] / "pipelines"))
from make_pytorch_openpose_e2e_fixtures import seeded_state_dict  # noqa: E402


def test_cmu_conversion_parity_with_pytorch_openpose():
    ref = np.load(FIXTURE)
    model = build_model("openpose_cmu_coco").eval()
    remapped = remap_openpose_cmu_state_dict(seeded_state_dict(ref))
    own = model.state_dict()
    assert set(remapped) == set(own)  # every source key used, every parameter filled
    assert all(remapped[k].shape == own[k].shape for k in own)
    model.load_state_dict(remapped, strict=True)
    with torch.no_grad():
        pafs, heatmaps = model(torch.from_numpy(ref["input"]))
    assert len(pafs) == len(heatmaps) == 6
    np.testing.assert_allclose(pafs[-1].numpy(), ref["paf_stage6"], atol=1e-4, rtol=0)
    # The port ReLUs its last confidence output (CMU's model does not): compare max(0, ours).
    np.testing.assert_allclose(heatmaps[-1].clamp(min=0).numpy(), ref["heatmap_stage6_relu"],
                               atol=1e-4, rtol=0)
    assert (heatmaps[-1] < 0).any()  # ours keeps CMU's unclipped output


def test_remap_accepts_module_prefix_and_rejects_unknown():
    t = torch.zeros(1)
    out = remap_openpose_cmu_state_dict({"model1_2.conv5_3_CPM_L2.bias": t,
                                         "model6_1.Mconv7_stage6_L1.weight": t,
                                         "model0.conv4_4_CPM.weight": t})
    assert set(out) == {"stages.0.heatmap.convs.2.bias", "stages.5.paf.convs.6.weight",
                        "backbone.convs.11.weight"}
    with pytest.raises(ValueError, match="fc7"):
        remap_openpose_cmu_state_dict({"fc7.weight": t})


def test_talk_architecture_stage_wiring():
    model = OpenPose(backbone="light", paf_stages=3, heatmap_stages=2, paf_width=8,
                     heatmap_width=8, num_blocks=1)
    pafs, hms = model(torch.zeros(2, 3, 64, 48))
    assert len(pafs) == 3 and len(hms) == 2
    assert pafs[0].shape == (2, 38, 8, 6) and hms[-1].shape == (2, 19, 8, 6)
    # ρ^1 sees F and L^{T_P} (not S); ρ^t, t > 1, also S^{t−1}; φ^t, t > 1, sees L^{t−1}.
    f = model.backbone.out_channels
    assert model.paf_stages[0].blocks[0].convs[0].in_channels == f
    assert model.paf_stages[1].blocks[0].convs[0].in_channels == f + 38
    assert model.heatmap_stages[0].blocks[0].convs[0].in_channels == f + 38
    assert model.heatmap_stages[1].blocks[0].convs[0].in_channels == f + 38 + 19


def test_talk_architecture_heatmaps_depend_on_last_paf_stage():
    torch.manual_seed(0)
    model = build_model("openpose_light").eval()
    x = torch.randn(1, 3, 32, 32)
    pafs, hms = model(x)
    # Perturbing only the last PAF stage's output conv changes the confidence maps.
    with torch.no_grad():
        model.paf_stages[-1].out.bias.add_(1.0)
        _, hms2 = model(x)
    assert not torch.allclose(hms[0], hms2[0])


def test_vgg19_variant_keeps_vgg_layout():
    model = build_model("openpose_vgg19", paf_stages=1, heatmap_stages=1, num_blocks=1)
    widths = [c.out_channels for c in model.backbone.convs]
    assert widths == [64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 256, 128]


def test_posekit_convert_table_loads_cmu_layout():
    from posekit.config import load_config
    from posekit.export.convert import convert_state_dict

    ref = np.load(FIXTURE)
    cfg = load_config("configs/openpose/openpose_cmu_coco.yaml")
    assert "cmu" in cfg.model.name
    out = convert_state_dict(seeded_state_dict(ref), cfg)
    model = build_model(cfg.model.name)
    model.load_state_dict(out, strict=True)
