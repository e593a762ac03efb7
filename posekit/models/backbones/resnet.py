"""ResNet backbone (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016).

The stride of a down-sampling Bottleneck sits on its 3×3 conv ("ResNet v1.5"), as in torchvision
and in MMPose's ResNet with its default ``style='pytorch'``, which is what SimpleBaseline and CPN
are trained with. Module names follow torchvision (``conv1``, ``bn1``, ``layer1.0.downsample.0``)
so ImageNet checkpoints load after dropping the classifier (`remap_torchvision_resnet`).

Output strides: C2..C5 at 4, 8, 16, 32. For images (B, 3, H, W), ``forward_features`` returns
[(B, C2, H/4, W/4), (B, C3, H/8, W/8), (B, C4, H/16, W/16), (B, C5, H/32, W/32)] with channels
``out_channels`` (64, 128, 256, 512 for ResNet-18/34; 256, 512, 1024, 2048 for ResNet-50/101/152),
and ``forward`` returns C5 alone. There is no classifier: this is a dense-prediction backbone.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "remap_torchvision_resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet_tiny",
]


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """Projection shortcut (1×1 conv + BN, option B of the paper) when the shape changes."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class BasicBlock(nn.Module):
    """Two 3×3 convs with an identity (or projection) shortcut; used by ResNet-18/34."""

    expansion = 1

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, out_channels, stride)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The BN before the residual sum (zeroed by ``zero_init_residual``)."""
        return self.bn2

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (carries the stride: v1.5), 1×1 expand ×4; used by ResNet-50/101/152."""

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_channels, out_channels, stride)

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        """The BN before the residual sum (zeroed by ``zero_init_residual``)."""
        return self.bn3

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet trunk: 7×7/2 conv stem, 3×3/2 max-pool, four residual stages (strides 1, 2, 2, 2).

    Args:
        block: `BasicBlock` or `Bottleneck`.
        layers: number of blocks in each of the four stages, e.g. (3, 4, 6, 3) for ResNet-50.
        widths: inner width of each stage; a stage outputs ``width * block.expansion`` channels.
        stem_width: output channels of the stem conv.
        in_chans: channels of the input image.
        zero_init_residual: start every residual branch at zero (its last BN's gamma = 0) so each
            block begins as the identity (Goyal et al. 2017). Off by default, as in torchvision;
            MMPose turns it on, but it only matters when training from scratch.
    """

    def __init__(
        self,
        *,
        block: type[BasicBlock] | type[Bottleneck],
        layers: tuple[int, int, int, int],
        widths: tuple[int, int, int, int] = (64, 128, 256, 512),
        stem_width: int = 64,
        in_chans: int = 3,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if block not in (BasicBlock, Bottleneck):
            raise TypeError(f"block must be BasicBlock or Bottleneck, got {block!r}")
        if len(layers) != 4 or any(int(n) < 1 for n in layers):
            raise ValueError(f"layers must be four positive block counts, got {layers}")
        if len(widths) != 4 or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must be four positive channel counts, got {widths}")
        if stem_width < 1 or in_chans < 1:
            raise ValueError(
                f"stem_width and in_chans must be positive, got {stem_width} and {in_chans}"
            )

        self.conv1 = nn.Conv2d(in_chans, stem_width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        in_channels = stem_width
        stages: list[nn.Sequential] = []
        for i, (num_blocks, width) in enumerate(zip(layers, widths, strict=True)):
            stride = 1 if i == 0 else 2  # the stem already reduced by 4 before stage 1
            blocks = [block(in_channels, width, stride)]
            in_channels = width * block.expansion
            blocks += [block(in_channels, width) for _ in range(num_blocks - 1)]
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages

        self.out_channels: tuple[int, ...] = tuple(w * block.expansion for w in widths)
        self.strides: tuple[int, ...] = (4, 8, 16, 32)
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """Kaiming-normal convs (fan-out, ReLU gain) and unit BN, as torchvision and MMPose do."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock | Bottleneck):
                    nn.init.zeros_(m.last_bn.weight)

    def forward_features(self, x: Tensor) -> list[Tensor]:
        """Return the stage outputs C2..C5 (strides 4, 8, 16, 32) for CPN/FPN-style necks.

        Args:
            x: images (B, in_chans, H, W).
        Returns:
            four maps (B, out_channels[i], H / strides[i], W / strides[i]) (sizes rounded up).
        """
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        c5 = self.layer4(c4)
        return [c2, c3, c4, c5]

    def forward_head(self, features: list[Tensor]) -> Tensor:
        """Select C5, the map single-input heads (SimpleBaseline) consume."""
        return features[-1]

    def forward(self, x: Tensor) -> Tensor:
        """Return C5, (B, out_channels[-1], H/32, W/32)."""
        return self.forward_head(self.forward_features(x))


def remap_torchvision_resnet(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map a torchvision (or timm / MMPose-pretrain) ImageNet ResNet state dict onto `ResNet`.

    Module names already agree; this drops the ImageNet classifier (``fc.*``) and the ``module.``
    prefix that DataParallel/DDP checkpoints carry. Returns a new dict; the input is untouched.
    Old torchvision releases lack BN ``num_batches_tracked``; ``load_state_dict`` fills those in.
    """
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        name = key.removeprefix("module.")
        if name.startswith("fc."):
            continue
        out[name] = value
    return out


def resnet18(**kwargs: Any) -> ResNet:
    """ResNet-18: BasicBlock × (2, 2, 2, 2); 11.18 M params (torchvision's 11.69 M less fc)."""
    return ResNet(block=BasicBlock, layers=(2, 2, 2, 2), **kwargs)


def resnet34(**kwargs: Any) -> ResNet:
    """ResNet-34: BasicBlock × (3, 4, 6, 3); 21.28 M params."""
    return ResNet(block=BasicBlock, layers=(3, 4, 6, 3), **kwargs)


def resnet50(**kwargs: Any) -> ResNet:
    """ResNet-50: Bottleneck × (3, 4, 6, 3); 23.51 M params (torchvision's 25.56 M less fc)."""
    return ResNet(block=Bottleneck, layers=(3, 4, 6, 3), **kwargs)


def resnet101(**kwargs: Any) -> ResNet:
    """ResNet-101: Bottleneck × (3, 4, 23, 3); 42.50 M params."""
    return ResNet(block=Bottleneck, layers=(3, 4, 23, 3), **kwargs)


def resnet152(**kwargs: Any) -> ResNet:
    """ResNet-152: Bottleneck × (3, 8, 36, 3); 58.14 M params."""
    return ResNet(block=Bottleneck, layers=(3, 8, 36, 3), **kwargs)


def resnet_tiny(**kwargs: Any) -> ResNet:
    """A 0.31 M-param ResNet (BasicBlock × 1 per stage, widths 16..128) for CPU tests and demos."""
    kwargs = {"widths": (16, 32, 64, 128), "stem_width": 16, "layers": (1, 1, 1, 1), **kwargs}
    return ResNet(block=BasicBlock, **kwargs)
