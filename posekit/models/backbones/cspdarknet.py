"""CSPDarknet (P5), the YOLOX backbone (Ge et al., "YOLOX: Exceeding YOLO Series in 2021") that
RTMO (Lu et al., "RTMO: Towards High-Performance One-Stage Real-Time Multi-Person Pose
Estimation", CVPR 2024) uses, with deepen/widen factors: s 0.33/0.5, m 0.67/0.75, l 1.0/1.0.

Focus stem (space-to-depth ×2 then a 3×3 conv), then four stages, each a stride-2 3×3 conv and a
CSP layer (the last with an SPP block before it). Conv → BN (eps 1e-3, momentum 0.03) → SiLU
everywhere, as MMDetection's ``CSPDarknet`` with ``norm_cfg=dict(type='BN', momentum=0.03,
eps=0.001)``. Module names follow MMDetection's except ``stage{i}`` → ``stages.{i-1}``.

Output strides 2 (stem), 4, 8, 16, 32. For images (B, 3, H, W) with H, W multiples of 32,
``forward_features`` returns the maps of ``out_indices`` (default the last three: strides 8, 16,
32 with ``out_channels`` = (256, 512, 1024) × widen) and ``forward`` the deepest one.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "CSPDarknet",
    "CSPLayer",
    "ConvBNAct",
    "cspdarknet_l",
    "cspdarknet_m",
    "cspdarknet_s",
]

# (in_channels, out_channels, blocks, add_identity, use_spp) before widen/deepen (YOLOX P5).
_P5 = ((64, 128, 3, True, False), (128, 256, 9, True, False), (256, 512, 9, True, False),
       (512, 1024, 3, False, True))


class ConvBNAct(nn.Sequential):
    """Conv (no bias) → BatchNorm → activation; ``act=False`` leaves the activation out."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int = 1,
        *,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.03,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride,
                              padding=kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)
        if act:
            self.act = nn.SiLU(inplace=True)


class Focus(nn.Module):
    """Space-to-depth: (B, C, H, W) → (B, 4C, H/2, W/2), then a 3×3 ConvBNAct."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = ConvBNAct(in_channels * 4, out_channels, 3)

    def forward(self, x: Tensor) -> Tensor:
        # MMDetection's order: top-left, bottom-left, top-right, bottom-right.
        x = torch.cat((x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]),
                      dim=1)  # (B, 4C, H/2, W/2)
        return self.conv(x)


class DarknetBottleneck(nn.Module):
    """1×1 conv → 3×3 conv, plus the input when ``add_identity`` (channels kept)."""

    def __init__(self, channels: int, add_identity: bool) -> None:
        super().__init__()
        self.conv1 = ConvBNAct(channels, channels, 1)
        self.conv2 = ConvBNAct(channels, channels, 3)
        self.add_identity = add_identity

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(self.conv1(x))
        return x + out if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage partial layer: two 1×1 halves, bottlenecks on one, concat, 1×1 fuse."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int,
                 add_identity: bool) -> None:
        super().__init__()
        mid = out_channels // 2
        self.main_conv = ConvBNAct(in_channels, mid, 1)
        self.short_conv = ConvBNAct(in_channels, mid, 1)
        self.final_conv = ConvBNAct(2 * mid, out_channels, 1)
        self.blocks = nn.Sequential(*[DarknetBottleneck(mid, add_identity) for _ in range(blocks)])

    def forward(self, x: Tensor) -> Tensor:
        main = self.blocks(self.main_conv(x))
        return self.final_conv(torch.cat((main, self.short_conv(x)), dim=1))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: 1×1 halve, max-pools 5/9/13 (stride 1) concatenated, 1×1."""

    def __init__(self, in_channels: int, out_channels: int,
                 kernels: tuple[int, ...] = (5, 9, 13)) -> None:
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvBNAct(in_channels, mid, 1)
        self.poolings = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernels)
        self.conv2 = ConvBNAct(mid * (len(kernels) + 1), out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class CSPDarknet(nn.Module):
    """CSPDarknet P5 scaled by ``deepen_factor`` (blocks) and ``widen_factor`` (channels).

    Args:
        deepen_factor: multiplies each stage's bottleneck count (rounded, at least 1).
        widen_factor: multiplies every channel count (truncated to int, as MMDetection).
        out_indices: which of (stem, stage1..stage4) = 0..4 ``forward_features`` returns.
    """

    def __init__(
        self,
        *,
        deepen_factor: float = 1.0,
        widen_factor: float = 1.0,
        out_indices: tuple[int, ...] = (2, 3, 4),
    ) -> None:
        super().__init__()
        if not out_indices or any(i < 0 or i > 4 for i in out_indices):
            raise ValueError(f"out_indices must be within 0..4, got {out_indices}")
        self.out_indices = tuple(out_indices)
        self.stem = Focus(3, int(_P5[0][0] * widen_factor))
        channels = [int(_P5[0][0] * widen_factor)]
        stages = []
        for in_c, out_c, blocks, add_identity, use_spp in _P5:
            in_c, out_c = int(in_c * widen_factor), int(out_c * widen_factor)
            layers: list[nn.Module] = [ConvBNAct(in_c, out_c, 3, stride=2)]
            if use_spp:
                layers.append(SPPBottleneck(out_c, out_c))
            layers.append(CSPLayer(out_c, out_c, max(round(blocks * deepen_factor), 1),
                                   add_identity))
            stages.append(nn.Sequential(*layers))
            channels.append(out_c)
        self.stages = nn.ModuleList(stages)
        self.out_channels = tuple(channels[i] for i in self.out_indices)
        self.strides = tuple(2 ** (i + 1) for i in self.out_indices)

    def forward_features(self, images: Tensor) -> list[Tensor]:
        """(B, 3, H, W) → the maps of ``out_indices``, e.g. strides 8, 16, 32."""
        x = self.stem(images)
        outs = [x] if 0 in self.out_indices else []
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return outs

    def forward(self, images: Tensor) -> Tensor:
        return self.forward_features(images)[-1]


def cspdarknet_s(**kwargs: object) -> CSPDarknet:
    return CSPDarknet(deepen_factor=0.33, widen_factor=0.5, **kwargs)  # type: ignore[arg-type]


def cspdarknet_m(**kwargs: object) -> CSPDarknet:
    return CSPDarknet(deepen_factor=0.67, widen_factor=0.75, **kwargs)  # type: ignore[arg-type]


def cspdarknet_l(**kwargs: object) -> CSPDarknet:
    return CSPDarknet(deepen_factor=1.0, widen_factor=1.0, **kwargs)  # type: ignore[arg-type]
