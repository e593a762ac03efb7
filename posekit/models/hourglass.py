"""Stacked Hourglass Networks (Newell, Yang and Deng, "Stacked Hourglass Networks for Human Pose
Estimation", ECCV 2016; talk §8), laid out as the most-used PyTorch port (bearpaw/pytorch-pose
``hg``: pre-activation bottleneck residual modules with expansion 2).

An hourglass of depth n is recursive: a skip branch (one residual module at full resolution) and a
lower branch (2×2 max-pool, residual module, an hourglass of depth n − 1 — or one more residual
module at the bottom —, residual module, nearest-neighbour upsample back to the skip's size),
added element-wise (talk §8). After every stack a 1×1 conv predicts K heatmaps (intermediate
supervision); for all but the last stack, the features and the prediction are re-injected into the
next stack's input through 1×1 convs: x_{i+1} = x_i + fc'(y_i) + score'(ŷ_i).

Output stride 4 (7×7 stride-2 stem conv and a max-pool): images (B, 3, H, W) give a list of
``num_stacks`` heatmaps (B, K, H/4, W/4); the last entry is the prediction. Any H, W work: the
upsample goes to the skip branch's exact size, so odd sizes at a level are fine.

8 stacks, 256 features, 1 residual module per level, 17 outputs: 25.60 M params, the bearpaw
port's count (the HRNet paper's Table 1 lists 25.1 M).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.simplebaseline import init_heatmap_head_

__all__ = ["Residual", "Hourglass", "StackedHourglass", "hourglass_8stack", "hourglass_tiny"]


class Residual(nn.Module):
    """Pre-activation bottleneck residual module: BN-ReLU-1×1 (C/2) → BN-ReLU-3×3 (C/2) →
    BN-ReLU-1×1 (C), plus the input (through a 1×1 conv when channels differ)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mid = out_channels // 2
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid, 1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, padding=1)
        self.bn3 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, 1)
        self.skip = (nn.Conv2d(in_channels, out_channels, 1)
                     if in_channels != out_channels else nn.Identity())
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        return out + self.skip(x)


def _residuals(in_channels: int, out_channels: int, count: int) -> nn.Sequential:
    return nn.Sequential(*(Residual(in_channels if i == 0 else out_channels, out_channels)
                           for i in range(count)))


class Hourglass(nn.Module):
    """One recursive hourglass of ``depth`` levels on ``channels`` features (shape-preserving).

    Args:
        channels: feature channels at every level (256 in the paper).
        depth: number of 2× down-sampling levels (4 in the paper).
        num_blocks: residual modules per branch (1 in the paper).
    """

    def __init__(self, channels: int, depth: int = 4, num_blocks: int = 1) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"hourglass depth must be >= 1, got {depth}")
        self.skip = _residuals(channels, channels, num_blocks)
        self.down = _residuals(channels, channels, num_blocks)
        self.inner: nn.Module = (Hourglass(channels, depth - 1, num_blocks) if depth > 1
                                 else _residuals(channels, channels, num_blocks))
        self.up = _residuals(channels, channels, num_blocks)

    def forward(self, x: Tensor) -> Tensor:
        skip = self.skip(x)  # the skip branch at this resolution (talk §8)
        low = self.down(F.max_pool2d(x, 2, stride=2))  # max-pool on the way down
        low = self.up(self.inner(low))
        # nearest-neighbour upsample to the skip's exact size (odd sizes included), then add
        return skip + F.interpolate(low, size=skip.shape[-2:], mode="nearest")


class StackedHourglass(nn.Module):
    """Stem → ``num_stacks`` hourglasses with intermediate supervision and re-injection.

    Args:
        num_keypoints: K heatmaps per stack.
        num_stacks: 1 to 8 (the paper's 8).
        channels: features through the hourglasses (256).
        depth: levels of each hourglass (4).
        num_blocks: residual modules per branch and after each hourglass (1).
        stem_channels: width of the 7×7 stem conv (64); residual modules then widen it to
            ``channels`` / 2 and, after the max-pool, ``channels``.
    """

    def __init__(
        self,
        *,
        num_keypoints: int = 17,
        num_stacks: int = 8,
        channels: int = 256,
        depth: int = 4,
        num_blocks: int = 1,
        stem_channels: int = 64,
    ) -> None:
        super().__init__()
        if not 1 <= num_stacks <= 8:
            raise ValueError(f"num_stacks must be in 1..8, got {num_stacks}")
        if num_keypoints < 1 or channels < 2 or channels % 2 or num_blocks < 1:
            raise ValueError(
                f"need num_keypoints >= 1, even channels >= 2, num_blocks >= 1; got "
                f"{num_keypoints}, {channels}, {num_blocks}"
            )
        self.num_keypoints = num_keypoints
        self.num_stacks = num_stacks
        self.output_stride = 4
        half = channels // 2
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem_channels, 7, stride=2, padding=3),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(inplace=True),
            Residual(stem_channels, half),
            nn.MaxPool2d(2, stride=2),
            Residual(half, channels),
            Residual(channels, channels),
        )
        self.hourglasses = nn.ModuleList(
            Hourglass(channels, depth, num_blocks) for _ in range(num_stacks))
        self.post = nn.ModuleList(
            nn.Sequential(
                _residuals(channels, channels, num_blocks),
                nn.Conv2d(channels, channels, 1),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            )
            for _ in range(num_stacks)
        )
        self.scores = nn.ModuleList(nn.Conv2d(channels, num_keypoints, 1)
                                    for _ in range(num_stacks))
        # 1×1 re-injection of features and predictions into the next stack (talk §8)
        self.reinject_features = nn.ModuleList(nn.Conv2d(channels, channels, 1)
                                               for _ in range(num_stacks - 1))
        self.reinject_scores = nn.ModuleList(nn.Conv2d(num_keypoints, channels, 1)
                                             for _ in range(num_stacks - 1))
        # Heatmap convs start near 0 (MMPose's head init); PyTorch's default init starts the maps
        # at std ≈ 0.4, 4× a target's (600 SynthPose images, 2 stacks, 8 epochs: AP 0.0004 → 0.085)
        init_heatmap_head_(self.scores.modules())

    def forward(self, images: Tensor) -> list[Tensor]:
        """``num_stacks`` heatmaps (B, K, H', W') with H' = ⌊⌈H/2⌉/2⌋ (H/4 for multiples of 4)."""
        x = self.stem(images)
        outputs: list[Tensor] = []
        for i in range(self.num_stacks):
            y = self.post[i](self.hourglasses[i](x))
            score = self.scores[i](y)
            outputs.append(score)
            if i < self.num_stacks - 1:
                x = x + self.reinject_features[i](y) + self.reinject_scores[i](score)
        return outputs


def hourglass_8stack(
    *, num_keypoints: int = 17, num_stacks: int = 8, channels: int = 256, depth: int = 4,
    num_blocks: int = 1,
) -> StackedHourglass:
    """Newell's 8-stack hourglass, 256 features (25.60 M params at 8 stacks; 1 / 2 / 4 stacks:
    3.59 / 6.73 / 13.02 M, as the bearpaw port)."""
    return StackedHourglass(num_keypoints=num_keypoints, num_stacks=num_stacks,
                            channels=channels, depth=depth, num_blocks=num_blocks)


def hourglass_tiny(
    *, num_keypoints: int = 17, num_stacks: int = 2, channels: int = 64, depth: int = 3,
    num_blocks: int = 1, stem_channels: int = 32,
) -> StackedHourglass:
    """A CPU-sized stacked hourglass (64 features, depth 3; 1 to 8 stacks, default 2)."""
    return StackedHourglass(num_keypoints=num_keypoints, num_stacks=num_stacks,
                            channels=channels, depth=depth, num_blocks=num_blocks,
                            stem_channels=stem_channels)
