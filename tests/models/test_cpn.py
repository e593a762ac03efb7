"""CPN: shapes per output, paper size, pyramid sigmas, OHKM known answers, level loss masking."""

from __future__ import annotations

import pytest
import torch

from posekit.losses import OHKMLoss
from posekit.models import build_model, count_params
from posekit.models.cpn import OUTPUT_BN_INIT, opencv_kernel_sigma

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_four_global_levels_and_refine_at_stride_4():
    model = build_model("cpn_tiny").eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, 128, 96))
    assert len(outs) == 5
    assert all(o.shape == (2, 17, 32, 24) for o in outs)


def test_refine_depth_grows_with_level_depth():
    model = build_model("cpn_tiny")
    assert [len(c) for c in model.refine_net.cascade] == [3, 2, 1, 0]  # C5 … C2


def test_heatmaps_start_near_zero_not_at_unit_variance():
    """The output BatchNorms start with γ = OUTPUT_BN_INIT: in training mode every map then has
    std ≈ γ (batch statistics), far below a Gaussian target's ≈ 0.1; γ = 1 gives std ≈ 1."""
    model = build_model("cpn_tiny").train()
    with torch.no_grad():
        outs = model(torch.randn(4, 3, 128, 96))
    assert len(model.output_norms()) == 5
    for out in outs:
        assert out.std().item() == pytest.approx(OUTPUT_BN_INIT, rel=0.05)
    assert OUTPUT_BN_INIT <= 0.02


def test_paper_size():
    assert abs(count_params(build_model("cpn_res50")) - 27.0e6) / 27.0e6 < 0.01


def test_kernel_sigmas_of_the_paper():
    assert [round(opencv_kernel_sigma(k), 2) for k in (23, 17, 13, 9)] == [3.8, 2.9, 2.3, 1.7]


def test_ohkm_keeps_the_hardest_labelled_keypoints():
    """Keypoint k has squared error k² everywhere; keypoints 16 and 15 are unlabelled (weight 0),
    so top-8 must average 14², 13², …, 7² — not 16², 15², … (a dropped mask) nor 0..7 (sign)."""
    k = 17
    target = torch.zeros(1, k, 4, 3)
    output = torch.arange(k, dtype=torch.float32)[None, :, None, None].expand(1, k, 4, 3)
    weights = torch.ones(1, k)
    weights[0, 15:] = 0
    loss = OHKMLoss(topk=8)(output, target, weights)
    expected = sum(v * v for v in range(7, 15)) / 8
    assert loss.item() == pytest.approx(expected)
    # per-sample selection: a second sample with the reverse order picks its own hardest
    out2 = torch.cat([output, output.flip(1)])
    w2 = torch.ones(2, k)
    loss2 = OHKMLoss(topk=8)(out2, torch.zeros_like(out2), w2)
    assert loss2.item() == pytest.approx(sum(v * v for v in range(9, 17)) / 8)


def test_ohkm_gradient_only_reaches_the_selected_keypoints():
    k = 17
    output = torch.arange(k, dtype=torch.float32)[None, :, None, None].repeat(1, 1, 2, 2)
    output.requires_grad_(True)
    OHKMLoss(topk=8)(output, torch.zeros_like(output), torch.ones(1, k)).backward()
    touched = output.grad.abs().sum(dim=(0, 2, 3)) > 0
    assert touched.tolist() == [False] * 9 + [True] * 8


def test_global_loss_uses_visible_keypoints_only_and_levels_their_sigma():
    from posekit.config import ExperimentConfig, apply_overrides
    from posekit.engine.topdown_task import TopDownTask

    cfg = apply_overrides(ExperimentConfig(name="t"), [
        "model.name=cpn_tiny", "model.loss=ohkm", "codec.input_size=[96, 128]",
        "codec.heatmap_size=[24, 32]", "codec.sigma=1.5", "codec.level_sigmas=[3, 2.5, 2, 1.5]",
    ])
    task = TopDownTask(cfg)
    assert [c.sigma for c in task.level_codecs] == [3.0, 2.5, 2.0, 1.5]
    kpts = torch.zeros(1, 17, 3)
    kpts[0, :, 0], kpts[0, :, 1], kpts[0, :, 2] = 40.0, 60.0, 2.0
    kpts[0, 3, 2] = 1.0  # labelled but occluded: not in the global loss, in the refine loss

    class Fixed(torch.nn.Module):
        def __init__(self, maps):
            super().__init__()
            self.maps = maps

        def forward(self, x):
            return self.maps

    # outputs equal to the targets except on keypoint 3, where they are off by 1
    targets = [c.encode(kpts[:, None]).heatmaps for c in [*task.level_codecs, task.codec]]
    maps = [t.clone() for t in targets]
    for m in maps:
        m[:, 3] += 1.0
    losses = task.loss(Fixed(maps), {"image": torch.zeros(1, 3, 128, 96), "keypoints": kpts},
                       torch.device("cpu"))
    # keypoint 3 (v = 1): GlobalNet's target is an empty map (tf-cpn), Σ_levels mean / (2·4)
    expected = sum(((t[:, 3] + 1.0) ** 2).sum().item() / t.numel() for t in targets[:-1]) / 8
    assert losses["loss_levels"].item() == pytest.approx(expected, rel=1e-5)
    assert losses["loss_final"].item() > 0  # RefineNet's OHKM sees it too
    kpts[0, 3, 2] = 2.0
    losses = task.loss(Fixed(maps), {"image": torch.zeros(1, 3, 128, 96), "keypoints": kpts},
                       torch.device("cpu"))
    assert losses["loss_levels"].item() == pytest.approx(4 / 17 / 8)  # 4 levels × 1/17, / 8


def test_level_count_mismatch_is_reported():
    from posekit.config import ExperimentConfig, apply_overrides
    from posekit.engine.topdown_task import TopDownTask

    cfg = apply_overrides(ExperimentConfig(name="t"), [
        "model.name=cpn_tiny", "codec.input_size=[96, 128]", "codec.heatmap_size=[24, 32]",
        "codec.level_sigmas=[3, 2]",
    ])
    task = TopDownTask(cfg)
    model = task.build_model()
    batch = {"image": torch.zeros(1, 3, 128, 96), "keypoints": torch.zeros(1, 17, 3)}
    with pytest.raises(ValueError, match="level_sigmas has 2 entries but the model returns 5"):
        task.loss(model, batch, torch.device("cpu"))
