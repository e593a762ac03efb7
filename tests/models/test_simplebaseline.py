"""SimpleBaseline: registry rows, heatmap shapes, paper-size params, head init, checkpoint remap."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import Tensor, nn

from posekit.models import MODELS, build_model
from posekit.models.backbones.resnet import resnet_tiny
from posekit.models.simplebaseline import (
    SimpleBaseline,
    remap_simple_baseline_state_dict,
    simple_baseline_res50,
    simple_baseline_tiny,
)

SIMPLE_BASELINE_NAMES = [name for name in MODELS if name.startswith("simple_baseline")]


def test_registry_lists_every_depth() -> None:
    assert set(SIMPLE_BASELINE_NAMES) == {
        f"simple_baseline_{s}" for s in ("res18", "res34", "res50", "res101", "res152", "tiny")
    }


# ResNet-101/152 repeat ResNet-50's bottleneck blocks: real forward/backward on the others,
# shapes of the deep ones on the meta device (no memory, no arithmetic).
DEEP = ("simple_baseline_res101", "simple_baseline_res152")


@pytest.mark.parametrize("name", DEEP)
def test_deep_variants_shapes_on_meta_device(name: str) -> None:
    with torch.device("meta"):
        model = build_model(name, num_keypoints=5).train()
        heatmaps = model(torch.empty(2, 3, 64, 32))
    assert isinstance(heatmaps, Tensor) and heatmaps.shape == (2, 5, 16, 8)
    assert model.output_stride == 4
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("name", [n for n in SIMPLE_BASELINE_NAMES if n not in DEEP])
def test_forward_backward(name: str) -> None:
    """Heatmaps at stride 4, finite, and a loss reaches every parameter."""
    torch.manual_seed(0)
    model = build_model(name, num_keypoints=5).train()
    images = torch.randn(2, 3, 64, 32)
    heatmaps = model(images)
    assert isinstance(heatmaps, Tensor)
    assert heatmaps.shape == (2, 5, 16, 8)
    assert model.output_stride == 4
    assert bool(torch.isfinite(heatmaps).all())
    heatmaps.square().mean().backward()
    no_grad = [n for n, p in model.named_parameters()
               if p.grad is None or not bool(torch.isfinite(p.grad).all()) or not p.grad.any()]
    assert no_grad == []


def test_build_model_rejects_unknown_name_listing_known() -> None:
    with pytest.raises(ValueError, match="simple_baseline_res50") as info:
        build_model("simple_baseline_res49")
    assert "'simple_baseline_res49'" in str(info.value)


def test_res50_matches_paper_size() -> None:
    with torch.device("meta"):
        model = simple_baseline_res50()
    total = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.parameters())
    head = (
        2048 * 256 * 16 + 2 * 256 * 256 * 16  # three 4×4 deconvs, no bias
        + 3 * 2 * 256  # their BN gamma and beta
        + 256 * 17 + 17  # 1×1 conv to 17 heatmaps
    )
    assert backbone == 23_508_032
    assert total == backbone + head == 33_999_697
    assert total == pytest.approx(34.0e6, rel=0.005)  # MMPose's model zoo: 34.00 M


# torchvision ResNet sizes without fc (see test_resnet.py) and each backbone's C5 channels
BACKBONES = {
    "res18": (11_176_512, 512), "res34": (21_284_672, 512), "res50": (23_508_032, 2048),
    "res101": (42_500_160, 2048), "res152": (58_143_808, 2048),
}


@pytest.mark.parametrize("depth", list(BACKBONES))
def test_every_depth_is_backbone_plus_paper_head(depth: str) -> None:
    backbone, c5 = BACKBONES[depth]
    with torch.device("meta"):
        model = build_model(f"simple_baseline_{depth}")
    head = c5 * 256 * 16 + 2 * 256 * 256 * 16 + 3 * 2 * 256 + 256 * 17 + 17
    assert sum(p.numel() for p in model.parameters()) == backbone + head


@pytest.mark.parametrize("name", SIMPLE_BASELINE_NAMES)
def test_constructor_signature_is_explicit(name: str) -> None:
    """Config files pass keyword arguments checked against this signature, so no **kwargs."""
    params = inspect.signature(MODELS[name]).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    assert {"num_keypoints", "deconv_channels", "deconv_kernel", "final_kernel"} <= set(params)


def test_res50_paper_input_gives_64x48_heatmaps() -> None:
    with torch.device("meta"):
        model = simple_baseline_res50()
        heatmaps = model(torch.zeros(1, 3, 256, 192))
    assert heatmaps.shape == (1, 17, 64, 48)


def test_forward_is_head_of_features() -> None:
    torch.manual_seed(0)
    model = simple_baseline_tiny().eval()
    images = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        features = model.forward_features(images)
        assert features.shape == (1, 128, 2, 2)  # resnet_tiny C5 at stride 32
        torch.testing.assert_close(model(images), model.forward_head(features))


def test_head_init_follows_mmpose() -> None:
    torch.manual_seed(0)
    model = simple_baseline_res50(num_keypoints=17)
    deconvs = [m for m in model.deconv_layers if isinstance(m, nn.ConvTranspose2d)]
    assert [tuple(d.weight.shape) for d in deconvs] == [
        (2048, 256, 4, 4), (256, 256, 4, 4), (256, 256, 4, 4)
    ]
    assert all(d.bias is None and d.stride == (2, 2) and d.padding == (1, 1) for d in deconvs)
    assert float(deconvs[0].weight.detach().std()) == pytest.approx(0.001, rel=0.02)
    assert float(model.final_layer.weight.detach().std()) == pytest.approx(0.001, rel=0.1)
    assert int(torch.count_nonzero(model.final_layer.bias)) == 0
    bns = [m for m in model.deconv_layers if isinstance(m, nn.BatchNorm2d)]
    assert all(bool((b.weight == 1).all()) and int(torch.count_nonzero(b.bias)) == 0 for b in bns)
    # the backbone keeps its Kaiming init rather than the head's N(0, 0.001²)
    assert float(model.backbone.conv1.weight.detach().std()) > 0.01


@pytest.mark.parametrize(
    ("kwargs", "stride"),
    [
        ({"deconv_kernel": 3}, 4),
        ({"deconv_kernel": 2}, 4),
        ({"final_kernel": 3}, 4),
        ({"deconv_channels": (32, 32)}, 8),
        ({"deconv_channels": ()}, 32),
    ],
)
def test_head_variants_keep_exact_sizes(kwargs: dict, stride: int) -> None:
    model = SimpleBaseline(backbone=resnet_tiny(), num_keypoints=3, **kwargs).eval()
    with torch.no_grad():
        heatmaps = model(torch.randn(1, 3, 64, 96))
    assert model.output_stride == stride
    assert heatmaps.shape == (1, 3, 64 // stride, 96 // stride)


def test_invalid_arguments_raise() -> None:
    with pytest.raises(TypeError, match="out_channels"):
        SimpleBaseline(backbone=nn.Conv2d(3, 8, 3))
    with pytest.raises(ValueError, match="deconv_kernel"):
        SimpleBaseline(backbone=resnet_tiny(), deconv_kernel=5)
    with pytest.raises(ValueError, match="final_kernel"):
        SimpleBaseline(backbone=resnet_tiny(), final_kernel=2)
    with pytest.raises(ValueError, match="num_keypoints"):
        SimpleBaseline(backbone=resnet_tiny(), num_keypoints=0)
    with pytest.raises(ValueError, match="deconv"):
        SimpleBaseline(backbone=resnet_tiny(), deconv_channels=(8,) * 6)


def test_batchnorm_train_vs_eval() -> None:
    """Train mode normalises with batch statistics and updates running ones; eval does neither."""
    torch.manual_seed(0)
    model = simple_baseline_tiny()
    images = torch.randn(4, 3, 64, 64)
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}

    model.eval()
    with torch.no_grad():
        batch = model(images)
        single = model(images[:1])
    torch.testing.assert_close(batch[:1], single, rtol=1e-4, atol=1e-6)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())

    model.train()
    with torch.no_grad():
        batch = model(images)
        other_batch = model(torch.cat([images[:1], torch.randn(3, 3, 64, 64)]))
    assert not torch.allclose(batch[:1], other_batch[:1])  # depends on its batch companions
    assert not torch.equal(model.state_dict()["deconv_layers.1.running_mean"],
                           before["deconv_layers.1.running_mean"])


def _foreign(sd: dict[str, Tensor], style: str) -> dict[str, Tensor]:
    """Rename our keys the way each foreign codebase stores a SimpleBaseline."""
    out = {}
    for key, value in sd.items():
        if style == "mmpose1":  # TopdownPoseEstimator: backbone.* and head.*
            name = key if key.startswith("backbone.") else "head." + key
        elif style == "mmpose0":  # TopDown: backbone.* and keypoint_head.*
            name = key if key.startswith("backbone.") else "keypoint_head." + key
        else:  # the authors' PoseResNet, saved from DataParallel
            name = "module." + key.removeprefix("backbone.")
        out[name] = value
    return out


def test_remap_known_keys() -> None:
    t = torch.zeros(1)
    remapped = remap_simple_baseline_state_dict({
        "module.layer1.0.conv1.weight": t,
        "conv1.weight": t,
        "head.final_layer.bias": t,
        "keypoint_head.deconv_layers.1.running_mean": t,
        "backbone.layer4.2.bn3.weight": t,
    })
    assert list(remapped) == [
        "backbone.layer1.0.conv1.weight",
        "backbone.conv1.weight",
        "final_layer.bias",
        "deconv_layers.1.running_mean",
        "backbone.layer4.2.bn3.weight",
    ]


@pytest.mark.parametrize("style", ["mmpose1", "mmpose0", "pose_resnet"])
def test_foreign_checkpoint_loads_strictly_and_reproduces_outputs(style: str) -> None:
    torch.manual_seed(0)
    source = simple_baseline_tiny(num_keypoints=4)
    with torch.no_grad():  # make the head non-trivial so a mis-routed key would change outputs
        for p in source.parameters():
            p.add_(0.05 * torch.randn_like(p))
    source.eval()
    foreign = _foreign(source.state_dict(), style)
    if style == "pose_resnet":
        assert "module.conv1.weight" in foreign and "module.final_layer.weight" in foreign

    target = simple_baseline_tiny(num_keypoints=4)
    target.load_state_dict(remap_simple_baseline_state_dict(foreign), strict=True)
    target.eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(target(images), source(images))
