"""Parameter and FLOP counting: single-layer known answers, torchvision's ResNet-50 MACs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from posekit.models import build_model, count_flops, count_params
from posekit.models.backbones.resnet import resnet50


def test_count_params_known_answers() -> None:
    assert count_params(nn.Linear(10, 5)) == 10 * 5 + 5
    assert count_params(nn.Conv2d(3, 8, 3)) == 8 * 3 * 3 * 3 + 8
    assert count_params(nn.BatchNorm2d(4)) == 8  # running stats are buffers, not parameters


def test_count_params_counts_shared_once_and_filters_frozen() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(4, 2))
    assert count_params(model) == 20 + 10
    model[3].weight.requires_grad_(False)
    assert count_params(model, trainable_only=True) == 20 + 2


def test_conv2d_flops_known_answer() -> None:
    # 2 FLOPs per multiply-add: 2 · C_out · C_in · k² · H_out · W_out (bias not counted)
    conv = nn.Conv2d(3, 8, 3, padding=1)
    assert count_flops(conv, (1, 3, 10, 10)) == 2 * 8 * 3 * 9 * 10 * 10
    strided = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False)
    assert count_flops(strided, (2, 4, 16, 12)) == 2 * 2 * 6 * 4 * 9 * 8 * 6


def test_linear_flops_known_answer() -> None:
    # a (1, 1, 2, 10) input is 2 rows of 10 features: 2 · rows · in · out
    assert count_flops(nn.Linear(10, 5), (1, 1, 2, 10)) == 2 * 2 * 10 * 5


def test_conv_transpose_flops_known_answer() -> None:
    # each input pixel scatters a full k×k×C_out kernel: 2 · C_in · C_out · k² · H_in · W_in
    deconv = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, bias=False)
    assert count_flops(deconv, (1, 4, 5, 5)) == 2 * 4 * 2 * 16 * 5 * 5


def test_flops_scale_with_batch() -> None:
    model = build_model("simple_baseline_tiny")
    assert count_flops(model, (3, 3, 64, 64)) == 3 * count_flops(model, (1, 3, 64, 64))


def test_resnet50_matches_torchvision_macs() -> None:
    # torchvision lists ResNet-50 at 4.089 G ops (multiply-adds, 224×224) including its fc
    with torch.device("meta"):
        model = resnet50()
    macs = count_flops(model, (1, 3, 224, 224)) / 2 + 2048 * 1000
    assert macs == pytest.approx(4.089e9, rel=1e-3)


def test_simple_baseline_res50_head_flops_exact() -> None:
    """The head's share at 256×192 (C5 is 8×6): three deconvs then a 1×1 conv at 64×48."""
    with torch.device("meta"):
        model = build_model("simple_baseline_res50")
    total = count_flops(model, (1, 3, 256, 192))
    backbone = count_flops(model.backbone, (1, 3, 256, 192))
    head_macs = (
        2048 * 256 * 16 * 8 * 6  # deconvs are charged at their input resolution
        + 256 * 256 * 16 * 16 * 12
        + 256 * 256 * 16 * 32 * 24
        + 256 * 17 * 64 * 48
    )
    assert total - backbone == 2 * head_macs
    assert total / 2 == pytest.approx(5.43e9, rel=2e-3)


def test_count_flops_restores_each_module_mode_and_keeps_bn_stats() -> None:
    model = build_model("simple_baseline_tiny").train()
    model.backbone.bn1.eval()  # e.g. a frozen stem BN inside a training model
    stats = model.backbone.bn1.running_mean.clone()
    head_stats = model.deconv_layers[1].running_mean.clone()
    count_flops(model, (2, 3, 64, 64))
    assert model.training and model.deconv_layers.training
    assert not model.backbone.bn1.training
    torch.testing.assert_close(model.backbone.bn1.running_mean, stats)
    torch.testing.assert_close(model.deconv_layers[1].running_mean, head_stats)


@pytest.mark.parametrize("shape", [(1, 3, 64), (1, 3, 0, 64), (1.0, 3, 64, 64), "1x3x64x64"])
def test_count_flops_rejects_bad_shapes(shape) -> None:
    with pytest.raises(ValueError, match="input_shape"):
        count_flops(nn.Conv2d(3, 1, 1), shape)
