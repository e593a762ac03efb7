"""ResNet backbone: torchvision-exact sizes, v1.5 stride placement, C2..C5, checkpoint remapping."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from posekit.models.backbones.resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    remap_torchvision_resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnet_tiny,
)

# torchvision's `num_params` (ResNet*_Weights.meta) minus the ImageNet classifier (C5·1000 + 1000).
TORCHVISION_PARAMS_WITHOUT_FC = {
    resnet18: 11_176_512,  # 11,689,512 − 513,000
    resnet34: 21_284_672,  # 21,797,672 − 513,000
    resnet50: 23_508_032,  # 25,557,032 − 2,049,000
    resnet101: 42_500_160,  # 44,549,160 − 2,049,000
    resnet152: 58_143_808,  # 60,192,808 − 2,049,000
}


def _tiny_bottleneck() -> ResNet:
    return ResNet(block=Bottleneck, layers=(1, 2, 1, 1), widths=(4, 8, 8, 8), stem_width=8)


@pytest.mark.parametrize("variant", list(TORCHVISION_PARAMS_WITHOUT_FC), ids=lambda f: f.__name__)
def test_param_count_matches_torchvision(variant) -> None:
    with torch.device("meta"):  # counting needs shapes only, so even ResNet-152 is instant
        model = variant()
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_PARAMS_WITHOUT_FC[variant]


def test_stage_outputs_have_strides_4_to_32_and_declared_channels() -> None:
    model = resnet_tiny().eval()
    images = torch.randn(2, 3, 64, 96)
    features = model.forward_features(images)
    assert model.strides == (4, 8, 16, 32)
    assert model.out_channels == (16, 32, 64, 128)
    assert [tuple(f.shape) for f in features] == [
        (2, c, 64 // s, 96 // s) for c, s in zip(model.out_channels, model.strides, strict=True)
    ]
    torch.testing.assert_close(model(images), features[-1])


def test_resnet50_channels_and_strides_on_meta() -> None:
    with torch.device("meta"):
        model = resnet50()
        features = model.forward_features(torch.zeros(1, 3, 256, 192))
    assert model.out_channels == (256, 512, 1024, 2048)
    assert [tuple(f.shape) for f in features] == [
        (1, 256, 64, 48), (1, 512, 32, 24), (1, 1024, 16, 12), (1, 2048, 8, 6)
    ]


def test_stride_sits_on_the_3x3_conv_v1_5() -> None:
    with torch.device("meta"):
        bottleneck, basic = resnet50(), resnet18()
    for stage in (bottleneck.layer2, bottleneck.layer3, bottleneck.layer4):
        first = stage[0]
        assert first.conv1.stride == (1, 1) and first.conv2.stride == (2, 2)
        assert first.downsample[0].stride == (2, 2)
    assert basic.layer2[0].conv1.stride == (2, 2) and basic.layer2[0].conv2.stride == (1, 1)
    # stage 1: no stride (the stem reduced by 4); a projection only where channels change
    assert bottleneck.layer1[0].downsample[0].stride == (1, 1)
    assert basic.layer1[0].downsample is None


def _bn(x: Tensor, sd: dict[str, Tensor], name: str) -> Tensor:
    return F.batch_norm(
        x, sd[f"{name}.running_mean"], sd[f"{name}.running_var"], sd[f"{name}.weight"],
        sd[f"{name}.bias"], training=False,
    )


def _reference_forward(sd: dict[str, Tensor], x: Tensor, layers: tuple[int, ...], bottleneck: bool):
    """torchvision's ResNet written functionally from a state dict (stride on the 3×3 conv)."""
    x = F.relu(_bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), sd, "bn1"))
    x = F.max_pool2d(x, 3, stride=2, padding=1)
    outs = []
    for stage, num_blocks in enumerate(layers, start=1):
        for b in range(num_blocks):
            p = f"layer{stage}.{b}"
            stride = 2 if stage > 1 and b == 0 else 1
            identity = x
            if f"{p}.downsample.0.weight" in sd:
                identity = _bn(F.conv2d(x, sd[f"{p}.downsample.0.weight"], stride=stride), sd,
                               f"{p}.downsample.1")
            if bottleneck:
                y = F.relu(_bn(F.conv2d(x, sd[f"{p}.conv1.weight"]), sd, f"{p}.bn1"))
                y = F.relu(_bn(F.conv2d(y, sd[f"{p}.conv2.weight"], stride=stride, padding=1),
                               sd, f"{p}.bn2"))
                y = _bn(F.conv2d(y, sd[f"{p}.conv3.weight"]), sd, f"{p}.bn3")
            else:
                y = F.relu(_bn(F.conv2d(x, sd[f"{p}.conv1.weight"], stride=stride, padding=1),
                               sd, f"{p}.bn1"))
                y = _bn(F.conv2d(y, sd[f"{p}.conv2.weight"], padding=1), sd, f"{p}.bn2")
            x = F.relu(y + identity)
        outs.append(x)
    return outs


@pytest.mark.parametrize(
    ("build", "layers", "bottleneck"),
    [(resnet_tiny, (1, 1, 1, 1), False), (_tiny_bottleneck, (1, 2, 1, 1), True)],
)
def test_matches_functional_reference(build, layers, bottleneck) -> None:
    torch.manual_seed(0)
    model = build().eval()
    with torch.no_grad():  # non-trivial BN statistics so a misplaced BN would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours = model.forward_features(images)
        ref = _reference_forward(model.state_dict(), images, layers, bottleneck)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)


def _torchvision_layout(bottleneck: bool, layers: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Key → shape of a torchvision ImageNet ResNet checkpoint, written from its naming rules.

    Old torchvision releases (e.g. resnet50-19c8e357.pth) carry no ``num_batches_tracked``.
    """
    def bn(name: str, c: int) -> dict[str, tuple[int, ...]]:
        return {f"{name}.{k}": (c,) for k in ("weight", "bias", "running_mean", "running_var")}

    expansion = 4 if bottleneck else 1
    shapes: dict[str, tuple[int, ...]] = {"conv1.weight": (64, 3, 7, 7), **bn("bn1", 64)}
    in_c = 64
    for stage, (n, width) in enumerate(zip(layers, (64, 128, 256, 512), strict=True), start=1):
        out_c = width * expansion
        for b in range(n):
            p = f"layer{stage}.{b}"
            if bottleneck:
                shapes |= {f"{p}.conv1.weight": (width, in_c, 1, 1), **bn(f"{p}.bn1", width),
                           f"{p}.conv2.weight": (width, width, 3, 3), **bn(f"{p}.bn2", width),
                           f"{p}.conv3.weight": (out_c, width, 1, 1), **bn(f"{p}.bn3", out_c)}
            else:
                shapes |= {f"{p}.conv1.weight": (width, in_c, 3, 3), **bn(f"{p}.bn1", width),
                           f"{p}.conv2.weight": (width, width, 3, 3), **bn(f"{p}.bn2", width)}
            if b == 0 and (stage > 1 or in_c != out_c):
                shapes |= {f"{p}.downsample.0.weight": (out_c, in_c, 1, 1),
                           **bn(f"{p}.downsample.1", out_c)}
            in_c = out_c
    return shapes | {"fc.weight": (1000, in_c), "fc.bias": (1000,)}


@pytest.mark.parametrize(
    ("build", "bottleneck", "layers"),
    [(resnet18, False, (2, 2, 2, 2)), (resnet50, True, (3, 4, 6, 3))],
    ids=["resnet18", "resnet50"],
)
@pytest.mark.parametrize("prefix", ["", "module."])
def test_torchvision_state_dict_loads_strictly(build, bottleneck, layers, prefix) -> None:
    gen = torch.Generator().manual_seed(0)
    layout = _torchvision_layout(bottleneck, layers)
    foreign = {prefix + k: torch.randn(shape, generator=gen) for k, shape in layout.items()}
    before = dict(foreign)
    remapped = remap_torchvision_resnet(foreign)
    assert foreign.keys() == before.keys()  # input untouched
    assert not any(k.startswith(("fc.", "module.")) for k in remapped)

    model = build()
    result = model.load_state_dict(remapped, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    sd = model.state_dict()
    for key in ("conv1.weight", "layer3.0.downsample.0.weight", "layer4.1.bn2.running_var"):
        torch.testing.assert_close(sd[key], foreign[prefix + key])


def test_zero_init_residual_makes_blocks_start_as_identity() -> None:
    model = resnet18(zero_init_residual=True).eval()
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert all(int(torch.count_nonzero(b.bn2.weight)) == 0 for b in blocks)
    x = torch.relu(torch.randn(1, 64, 8, 8))
    with torch.no_grad():
        torch.testing.assert_close(model.layer1[0](x), x)  # relu(0 + x) = x for x >= 0
    default = resnet_tiny()
    assert all(bool((b.bn2.weight == 1).all()) for b in default.modules()
               if isinstance(b, BasicBlock))


def test_kaiming_fan_out_init() -> None:
    torch.manual_seed(0)
    weight = resnet18().layer4[0].conv2.weight.detach()  # (512, 512, 3, 3), fan_out = 512·9
    assert float(weight.std()) == pytest.approx(math.sqrt(2.0 / (512 * 9)), rel=0.02)
    assert float(weight.mean()) == pytest.approx(0.0, abs=1e-3)


def test_train_mode_updates_running_stats_eval_mode_does_not() -> None:
    model = resnet_tiny()
    images = torch.randn(4, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        model(images)
    torch.testing.assert_close(model.bn1.running_mean, torch.zeros(16))
    model.train()
    with torch.no_grad():
        model(images)
    assert float(model.bn1.running_mean.abs().sum()) > 0
    assert int(model.bn1.num_batches_tracked) == 1


def test_invalid_arguments_raise() -> None:
    with pytest.raises(TypeError, match="block"):
        ResNet(block=torch.nn.Conv2d, layers=(1, 1, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layers"):
        ResNet(block=BasicBlock, layers=(1, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="widths"):
        ResNet(block=BasicBlock, layers=(1, 1, 1, 1), widths=(8, 0, 8, 8))
