"""Cascaded Pyramid Network (Chen, Wang, Peng, Zhang, Yu and Sun, "Cascaded Pyramid Network for
Multi-Person Pose Estimation", CVPR 2018; talk §9–§11), laid out as the authors' PyTorch port.

GlobalNet: ResNet stages C2..C5 into a feature pyramid. Each level has a 1×1 lateral conv (256
channels); going from coarse to fine, the coarser level is upsampled ×2 (bilinear), passed through
a 1×1 conv and added. Every level predicts K heatmaps (1×1 conv, 3×3 conv to K, upsampled to the
finest level) and is supervised with its own Gaussian σ (coarsest widest: OpenCV kernels 23 / 17
/ 13 / 9 → σ 3.8 / 2.9 / 2.3 / 1.7 heatmap px, as the authors' code), on visible keypoints only.

RefineNet: level i's pyramid features go through more bottleneck blocks the deeper the level
(3, 2, 1, 0 from C5 to C2), are upsampled to the finest level and concatenated; one bottleneck and
a 3×3 conv give the final K heatmaps, trained with online hard keypoint mining (top 8 of 17,
`posekit.losses.OHKMLoss`).

Output stride 4: images (B, 3, H, W) give a list of 5 maps (B, K, H/4, W/4): the 4 GlobalNet
levels coarsest first, then RefineNet's (the prediction). H, W multiples of 32.

ResNet-50 at 256×192, 17 keypoints: 27.01 M params (the paper's 27.0 M).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.backbones.resnet import ResNet, resnet50, resnet_tiny

__all__ = ["CPN", "GlobalNet", "RefineNet", "cpn_res50", "cpn_tiny", "opencv_kernel_sigma"]


# γ of the heatmap-producing BatchNorms at init. With γ = 1 the maps start at unit variance,
# 10× a Gaussian target's, and a short schedule spends itself shrinking γ: on 600 SynthPose
# images × 8 epochs, val AP 0.004 (γ = 1), 0.017 (0.1), 0.029 (0.01; SimpleBaseline-tiny 0.025).
OUTPUT_BN_INIT = 0.01


def opencv_kernel_sigma(kernel_size: int) -> float:
    """σ of ``cv2.GaussianBlur(ksize, 0)`` (CPN's targets): 0.3((k − 1)/2 − 1) + 0.8."""
    return 0.3 * ((kernel_size - 1) / 2 - 1) + 0.8


def _conv_bn(in_channels: int, out_channels: int, kernel: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel,
                                         padding=kernel // 2, bias=False),
                               nn.BatchNorm2d(out_channels)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _resize(x: Tensor, size: tuple[int, int] | torch.Size) -> Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class RefineBottleneck(nn.Module):
    """1×1 (``width``) → 3×3 → 1×1 (2·width) bottleneck with BN, a projection shortcut when the
    channels differ, ReLU after the addition (CPN's RefineNet block)."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        out_channels = 2 * width
        self.body = nn.Sequential(
            _conv_bn(in_channels, width, 1, True),
            _conv_bn(width, width, 3, True),
            _conv_bn(width, out_channels, 1, False),
        )
        self.shortcut = (_conv_bn(in_channels, out_channels, 1, False)
                         if in_channels != out_channels else nn.Identity())

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class GlobalNet(nn.Module):
    """Feature pyramid over C2..C5 with a heatmap prediction at every level.

    Args:
        in_channels: channels of C2..C5 (finest first, as the backbone gives them).
        num_keypoints: K.
        channels: pyramid width (256).
    """

    def __init__(self, in_channels: tuple[int, ...], num_keypoints: int,
                 channels: int = 256) -> None:
        super().__init__()
        coarse_first = tuple(reversed(in_channels))
        self.laterals = nn.ModuleList(_conv_bn(c, channels, 1, True) for c in coarse_first)
        self.top_down = nn.ModuleList(_conv_bn(channels, channels, 1, False)
                                      for _ in coarse_first[:-1])
        self.predict = nn.ModuleList(
            nn.Sequential(_conv_bn(channels, channels, 1, True),
                          nn.Conv2d(channels, num_keypoints, 3, padding=1, bias=False))
            for _ in coarse_first
        )
        self.predict_bn = nn.ModuleList(nn.BatchNorm2d(num_keypoints) for _ in coarse_first)

    def forward(self, features: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
        """C2..C5 (finest first) → (pyramid features coarsest first, heatmaps at C2's size)."""
        out_size = features[0].shape[-2:]
        pyramid: list[Tensor] = []
        heatmaps: list[Tensor] = []
        above: Tensor | None = None
        for i, c in enumerate(reversed(features)):
            level = self.laterals[i](c)
            if above is not None:  # upsample + 1×1 + add (the FPN top-down path)
                level = level + self.top_down[i - 1](_resize(above, level.shape[-2:]))
            pyramid.append(level)
            above = level
            heatmaps.append(self.predict_bn[i](_resize(self.predict[i](level), out_size)))
        return pyramid, heatmaps


class RefineNet(nn.Module):
    """Per-level bottlenecks (more at coarser levels) → upsample → concat → bottleneck → K maps.

    Args:
        num_levels: pyramid levels (4).
        num_keypoints: K.
        channels: pyramid width (256); the bottlenecks use ``channels / 2`` inside.
    """

    def __init__(self, num_levels: int, num_keypoints: int, channels: int = 256) -> None:
        super().__init__()
        width = channels // 2
        # level i (0 = coarsest) gets num_levels − 1 − i bottlenecks: 3, 2, 1, 0
        self.cascade = nn.ModuleList(
            nn.Sequential(*(RefineBottleneck(channels, width)
                            for _ in range(num_levels - 1 - i)))
            for i in range(num_levels)
        )
        self.fuse = RefineBottleneck(num_levels * channels, width)
        self.final = _conv_bn(2 * width, num_keypoints, 3, False)

    def forward(self, pyramid: list[Tensor]) -> Tensor:
        out_size = pyramid[-1].shape[-2:]
        refined = [_resize(block(x), out_size) for block, x in zip(self.cascade, pyramid,
                                                                    strict=True)]
        return self.final(self.fuse(torch.cat(refined, dim=1)))


class CPN(nn.Module):
    """ResNet → GlobalNet → RefineNet; returns [global C5, C4, C3, C2, refine] heatmaps.

    Args:
        backbone: a `ResNet` (its ``forward_features`` gives C2..C5).
        num_keypoints: K.
        channels: pyramid width (256).
    """

    def __init__(self, *, backbone: ResNet, num_keypoints: int = 17, channels: int = 256) -> None:
        super().__init__()
        if num_keypoints < 1 or channels < 2 or channels % 2:
            raise ValueError(f"need num_keypoints >= 1 and even channels >= 2, got "
                             f"{num_keypoints}, {channels}")
        self.backbone = backbone
        self.num_keypoints = num_keypoints
        self.output_stride = backbone.strides[0]
        self.global_net = GlobalNet(backbone.out_channels, num_keypoints, channels)
        self.refine_net = RefineNet(len(backbone.out_channels), num_keypoints, channels)
        # The heads end in BatchNorm (pytorch-cpn); γ starts at OUTPUT_BN_INIT, not 1, so the maps
        # start near 0 like MMPose's heatmap heads, not at 10× a Gaussian target's std (≈ 0.1)
        for bn in self.output_norms():
            nn.init.constant_(bn.weight, OUTPUT_BN_INIT)

    def output_norms(self) -> list[nn.BatchNorm2d]:
        """The BatchNorms that produce the heatmaps: 4 GlobalNet levels, then RefineNet's."""
        return [*self.global_net.predict_bn, self.refine_net.final[1]]

    def forward(self, images: Tensor) -> list[Tensor]:
        """4 GlobalNet maps (coarsest level first) and RefineNet's, all (B, K, H/4, W/4)."""
        pyramid, global_maps = self.global_net(self.backbone.forward_features(images))
        return [*global_maps, self.refine_net(pyramid)]


def cpn_res50(*, num_keypoints: int = 17, channels: int = 256) -> CPN:
    """CPN on ResNet-50, the paper's 256×192 COCO model (27.01 M params)."""
    return CPN(backbone=resnet50(), num_keypoints=num_keypoints, channels=channels)


def cpn_tiny(
    *, num_keypoints: int = 17, channels: int = 64,
    backbone_widths: tuple[int, int, int, int] = (16, 32, 64, 128),
    backbone_layers: tuple[int, int, int, int] = (1, 1, 1, 1),
) -> CPN:
    """A CPU-sized CPN on the tiny BasicBlock ResNet of ``simple_baseline_tiny``."""
    backbone = resnet_tiny(widths=tuple(backbone_widths), stem_width=backbone_widths[0],
                           layers=tuple(backbone_layers))
    return CPN(backbone=backbone, num_keypoints=num_keypoints, channels=channels)
