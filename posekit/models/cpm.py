"""Convolutional Pose Machines (Wei, Ramakrishna, Kanade and Sheikh, CVPR 2016), in the form of
MMPose's ``CPM`` backbone so that MMPose's ``td-hm_cpm_*`` checkpoints load (talk §5–§7).

Stage 1 predicts belief maps from local image evidence only (a small receptive field: 9×9 convs
on the image, three stride-2 max-pools). Every later stage t > 1 takes the shared image features
x' (a 5×5 conv of a second image branch) concatenated with the previous stage's beliefs b_{t−1}
(the context ψ of talk §6) and grows the receptive field with three stacked 11×11 convolutions,
not with pooling. Each stage outputs P belief maps, P + 1 with ``background=True`` (talk §5).

Output stride 8: images (B, 3, H, W) give a list of ``num_stages`` maps (B, P[+1], ⌈H/8⌉,
⌈W/8⌉), e.g. 256×192 → 32×24; the last entry is the prediction. Train with F = Σ_t f_t
(`posekit.losses.MultiStageLoss`, talk §7).

6 stages, 128 feature channels, 17 maps: 31.30 M params as MMPose's model zoo lists.
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

from posekit.models.simplebaseline import init_heatmap_head_

__all__ = ["CPM", "remap_cpm_state_dict", "cpm_6stage", "cpm_tiny"]


def _conv(in_channels: int, out_channels: int, kernel: int, *, norm: bool = True,
          act: bool = True) -> nn.Sequential:
    """Conv ("same" padding) → BN → ReLU; the conv has a bias only when there is no BN."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=not norm)
    ]
    if norm:
        layers.append(nn.BatchNorm2d(out_channels))
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _pool() -> nn.MaxPool2d:
    """3×3 stride-2 max-pool with padding 1: H → ⌈H / 2⌉."""
    return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)


class CPMStage(nn.Module):
    """One stage t > 1: beliefs b_{t−1} ⊕ reduce(x') → three large-kernel convs → 1×1 head.

    Args:
        num_maps: belief maps in and out (P or P + 1).
        image_channels: channels of the shared image features x' (128 in CPM).
        middle_channels: channels ``reduce`` projects x' to before the concatenation (32).
        feat_channels: channels of the large-kernel convs (128).
        kernel: size of those convs (11).
        depth: how many of them (3).
    """

    def __init__(self, *, num_maps: int, image_channels: int, middle_channels: int,
                 feat_channels: int, kernel: int = 11, depth: int = 3) -> None:
        super().__init__()
        self.reduce = _conv(image_channels, middle_channels, 5)
        convs = []
        in_channels = num_maps + middle_channels
        for _ in range(depth):
            convs.append(_conv(in_channels, feat_channels, kernel))
            in_channels = feat_channels
        self.block = nn.Sequential(*convs)
        self.head = nn.Sequential(
            _conv(feat_channels, feat_channels, 1),
            _conv(feat_channels, num_maps, 1, norm=False, act=False),
        )

    def forward(self, beliefs: Tensor, image_features: Tensor) -> Tensor:
        """(B, P, h, w) previous beliefs and (B, C, h, w) image features → (B, P, h, w)."""
        # ψ_t: the previous beliefs as context for stage t (talk §6); beliefs first, as MMPose
        x = torch.cat([beliefs, self.reduce(image_features)], dim=1)
        return self.head(self.block(x))


class CPM(nn.Module):
    """Convolutional Pose Machine: a list of belief maps, one per stage.

    Args:
        num_keypoints: P, the number of body parts (17 for COCO).
        background: add the background belief map (P + 1 outputs, talk §5); pair it with
            ``HeatmapCodec(background=True)`` (``codec.background`` in configs).
        num_stages: T ≥ 1 (6 in CPM and MMPose).
        feat_channels: channels of the stages' large-kernel convs (128).
        middle_channels: channels of the image features fed to each stage t > 1 (32).
        width: channels of the image branches' 9×9 convs (128).
        stage1_channels: channels of stage 1's wide 9×9 and 1×1 convs (512).
        stage_kernel: kernel of the stages' convs (11).
    """

    output_stride = 8

    def __init__(
        self,
        *,
        num_keypoints: int = 17,
        background: bool = False,
        num_stages: int = 6,
        feat_channels: int = 128,
        middle_channels: int = 32,
        width: int = 128,
        stage1_channels: int = 512,
        stage_kernel: int = 11,
    ) -> None:
        super().__init__()
        if num_keypoints < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
        if num_stages < 1:
            raise ValueError(f"num_stages must be >= 1, got {num_stages}")
        if stage_kernel < 1 or stage_kernel % 2 == 0:
            raise ValueError(f"stage_kernel must be a positive odd size, got {stage_kernel}")
        self.num_keypoints = num_keypoints
        self.background = bool(background)
        self.num_stages = num_stages
        num_maps = num_keypoints + int(self.background)
        self.num_maps = num_maps
        # stage 1: local evidence only (talk §6), indices as MMPose's ``stem``
        self.stage1 = nn.Sequential(
            _conv(3, width, 9), _pool(),
            _conv(width, width, 9), _pool(),
            _conv(width, width, 9), _pool(),
            _conv(width, 32, 5),
            _conv(32, stage1_channels, 9),
            _conv(stage1_channels, stage1_channels, 1),
            _conv(stage1_channels, num_maps, 1, norm=False, act=False),
        )
        # the shared image features x' of stages t > 1 (MMPose's ``middle``)
        self.features = nn.Sequential(
            _conv(3, width, 9), _pool(),
            _conv(width, width, 9), _pool(),
            _conv(width, width, 9), _pool(),
        )
        self.stages = nn.ModuleList(
            CPMStage(num_maps=num_maps, image_channels=width, middle_channels=middle_channels,
                     feat_channels=feat_channels, kernel=stage_kernel)
            for _ in range(num_stages - 1)
        )
        self._init_weights()

    def _init_weights(self) -> None:
        """MMPose's CPM init: convs N(0, 0.001²) with zero bias, BN weight 1 and bias 0."""
        init_heatmap_head_(self.modules())

    def forward_stages(self, images: Tensor, first_beliefs: Tensor | None = None) -> list[Tensor]:
        """All stages' beliefs; ``first_beliefs`` replaces stage 1's output (tests, analysis)."""
        beliefs = self.stage1(images) if first_beliefs is None else first_beliefs
        outputs = [beliefs]
        if self.stages:
            image_features = self.features(images)
            for stage in self.stages:
                beliefs = stage(beliefs, image_features)
                outputs.append(beliefs)
        return outputs

    def forward(self, images: Tensor) -> list[Tensor]:
        """``num_stages`` belief maps (B, P[+1], ⌈H/8⌉, ⌈W/8⌉) for images (B, 3, H, W)."""
        return self.forward_stages(images)


# MMPose ConvModule's sub-layers → the index inside posekit's _conv Sequential
_CONV_MODULE = {"conv": "0", "bn": "1"}
_REMAP_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^stem\.(\d+)\.(conv|bn)\.(.+)$"), r"stage1.\1.{}.\3"),
    (re.compile(r"^middle\.(\d+)\.(conv|bn)\.(.+)$"), r"features.\1.{}.\3"),
    (re.compile(r"^middle_conv\.(\d+)\.0\.(conv|bn)\.(.+)$"), r"stages.\1.reduce.{}.\3"),
    (re.compile(r"^cpm_stages\.(\d+)\.model\.(\d+)\.(conv|bn)\.(.+)$"),
     r"stages.\1.block.\2.{}.\4"),
    (re.compile(r"^out_convs\.(\d+)\.(\d+)\.(conv|bn)\.(.+)$"), r"stages.\1.head.\2.{}.\4"),
)


def remap_cpm_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map an MMPose 1.x / 0.x CPM checkpoint (``backbone.stem``, ``backbone.middle``,
    ``backbone.middle_conv``, ``backbone.cpm_stages``, ``backbone.out_convs``; the head is an
    identity without parameters) onto `CPM`'s key names, with or without DataParallel's
    ``module.`` prefix. Unknown keys pass through so a strict load reports them."""
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        name = key.removeprefix("module.").removeprefix("backbone.")
        for pattern, template in _REMAP_RULES:
            match = pattern.match(name)
            if match:
                layer = next(g for g in match.groups() if g in _CONV_MODULE)
                name = pattern.sub(template.format(_CONV_MODULE[layer]), name)
                break
        out[name] = value
    return out


def cpm_6stage(
    *,
    num_keypoints: int = 17,
    background: bool = False,
    num_stages: int = 6,
    feat_channels: int = 128,
    middle_channels: int = 32,
) -> CPM:
    """MMPose's COCO CPM: 6 stages, 128 features, no background map (31.30 M params)."""
    return CPM(num_keypoints=num_keypoints, background=background, num_stages=num_stages,
               feat_channels=feat_channels, middle_channels=middle_channels)


def cpm_tiny(
    *,
    num_keypoints: int = 17,
    background: bool = True,
    num_stages: int = 3,
    feat_channels: int = 32,
    middle_channels: int = 16,
    width: int = 16,
    stage1_channels: int = 64,
    stage_kernel: int = 7,
) -> CPM:
    """A CPU-sized CPM with the same stage structure (default 3 stages, background map; 0.60 M
    params, 0.70 GFLOPs at 128×96 — its full-resolution 9×9 image convs make it ~10× the FLOPs of
    ``simple_baseline_tiny``)."""
    return CPM(num_keypoints=num_keypoints, background=background, num_stages=num_stages,
               feat_channels=feat_channels, middle_channels=middle_channels, width=width,
               stage1_channels=stage1_channels, stage_kernel=stage_kernel)
