"""OpenPose: confidence maps and Part Affinity Fields from one network pass (talk §14–§21).

Two architectures:

- :class:`OpenPose` — the talk's (Cao et al., "OpenPose: Realtime Multi-Person 2D Pose
  Estimation using Part Affinity Fields", TPAMI 2019): a feature extractor F (VGG-19's first 10
  conv layers plus two adaptation convs, or a light stride-8 CNN for the CPU), then T_P PAF stages
  L^1 = φ^1(F), L^t = φ^t(F, L^{t−1}), then T_C confidence stages S^1 = ρ^1(F, L^{T_P}),
  S^t = ρ^t(F, L^{T_P}, S^{t−1}). A stage is 5 blocks of three 3×3 convs whose outputs are
  concatenated (PReLU), then two 1×1 convs.
- :class:`OpenPoseCMU` — CMU's released COCO body model (Cao et al., CVPR 2017,
  ``pose_iter_440000``; pytorch-openpose's ``body_pose_model.pth``): VGG-19 features, then 6
  stages with two branches each (L1: 38 PAF channels, L2: 19 confidence maps incl. background);
  stages 2–6 take concat(L1, L2, F) = 185 channels and use 7×7 convs.

Both run at output stride 8. Input (B, 3, H, W) with H, W multiples of 8; ``forward`` returns
``(pafs, heatmaps)``: two lists of per-stage outputs, (B, 2·L, H/8, W/8) and (B, K, H/8, W/8),
in CMU's channel order (limb i: x at 2i, y at 2i + 1; parts in OpenPose-18 order, background
last). The masked L2 loss is applied to every element of both lists (talk §19).
The CMU model has no ReLU on its last outputs, as CMU's Caffe model; pytorch-openpose's port
applies one on its last confidence output (see tests/models/test_openpose.py).
"""

from __future__ import annotations

import re

import torch
from torch import Tensor, nn

__all__ = [
    "OpenPose",
    "OpenPoseCMU",
    "openpose_cmu_coco",
    "openpose_vgg19",
    "openpose_light",
    "remap_openpose_cmu_state_dict",
]

# VGG-19's first 10 conv layers (conv1_1 … conv4_2), then CMU's conv4_3_CPM / conv4_4_CPM.
_VGG_NAMES = ("conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
              "conv3_4", "conv4_1", "conv4_2", "conv4_3_CPM", "conv4_4_CPM")
_VGG_WIDTHS = (64, 64, 128, 128, 256, 256, 256, 256, 512, 512, 256, 128)
_VGG_POOL_AFTER = (1, 3, 7)  # max-pool 2×2 after conv1_2, conv2_2, conv3_4 → stride 8


class VGGFeatures(nn.Module):
    """F: 3×3 convs with ReLU and three 2×2 max-pools (stride 8)."""

    def __init__(self, widths: tuple[int, ...] = _VGG_WIDTHS,
                 pool_after: tuple[int, ...] = _VGG_POOL_AFTER, in_channels: int = 3) -> None:
        super().__init__()
        self.pool_after = tuple(pool_after)
        convs = []
        c = in_channels
        for w in widths:
            convs.append(nn.Conv2d(c, w, 3, padding=1))
            c = w
        self.convs = nn.ModuleList(convs)
        self.out_channels = c

    def forward(self, x: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            x = torch.relu(conv(x))
            if i in self.pool_after:
                x = nn.functional.max_pool2d(x, 2, 2)
        return x


class CMUBranch(nn.Module):
    """One branch of one CMU stage: convs with ReLU, the last without."""

    def __init__(self, in_channels: int, out_channels: int, first: bool) -> None:
        super().__init__()
        if first:  # stage 1: 3 × (3×3, 128), 1×1 512, 1×1 out
            spec = [(128, 3)] * 3 + [(512, 1), (out_channels, 1)]
        else:  # stages 2–6: 5 × (7×7, 128), 1×1 128, 1×1 out
            spec = [(128, 7)] * 5 + [(128, 1), (out_channels, 1)]
        convs = []
        c = in_channels
        for w, k in spec:
            convs.append(nn.Conv2d(c, w, k, padding=k // 2))
            c = w
        self.convs = nn.ModuleList(convs)

    def forward(self, x: Tensor) -> Tensor:
        for conv in self.convs[:-1]:
            x = torch.relu(conv(x))
        return self.convs[-1](x)


class CMUStage(nn.Module):
    def __init__(self, in_channels: int, num_pafs: int, num_heatmaps: int, first: bool) -> None:
        super().__init__()
        self.paf = CMUBranch(in_channels, num_pafs, first)
        self.heatmap = CMUBranch(in_channels, num_heatmaps, first)


class OpenPoseCMU(nn.Module):
    """CMU's CVPR-2017 two-branch, 6-stage body model (COCO-18 + background, 19 limbs)."""

    def __init__(self, num_heatmaps: int = 19, num_pafs: int = 38, num_stages: int = 6) -> None:
        super().__init__()
        self.backbone = VGGFeatures()
        c = self.backbone.out_channels
        self.stages = nn.ModuleList(
            CMUStage(c if t == 0 else c + num_pafs + num_heatmaps, num_pafs, num_heatmaps, t == 0)
            for t in range(num_stages)
        )

    def forward(self, images: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        feats = self.backbone(images)
        pafs: list[Tensor] = []
        heatmaps: list[Tensor] = []
        x = feats
        for stage in self.stages:
            paf, hm = stage.paf(x), stage.heatmap(x)
            pafs.append(paf)
            heatmaps.append(hm)
            x = torch.cat([paf, hm, feats], dim=1)  # CMU's concat order: L1, L2, F
        return pafs, heatmaps


class DenseConvBlock(nn.Module):
    """Three 3×3 convs in sequence whose outputs are concatenated (TPAMI 2019, Fig. 3)."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels if i == 0 else width, width, 3, padding=1) for i in range(3)
        )
        self.acts = nn.ModuleList(nn.PReLU(width) for _ in range(3))
        self.out_channels = 3 * width

    def forward(self, x: Tensor) -> Tensor:
        outs = []
        for conv, act in zip(self.convs, self.acts, strict=True):
            x = act(conv(x))
            outs.append(x)
        return torch.cat(outs, dim=1)


class TalkStage(nn.Module):
    """φ_t or ρ_t: ``num_blocks`` dense conv blocks, a 1×1 conv with PReLU, a 1×1 output conv."""

    def __init__(self, in_channels: int, out_channels: int, width: int, hidden: int,
                 num_blocks: int = 5) -> None:
        super().__init__()
        blocks = []
        c = in_channels
        for _ in range(num_blocks):
            blocks.append(DenseConvBlock(c, width))
            c = blocks[-1].out_channels
        self.blocks = nn.Sequential(*blocks)
        self.hidden = nn.Conv2d(c, hidden, 1)
        self.act = nn.PReLU(hidden)
        self.out = nn.Conv2d(hidden, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.act(self.hidden(self.blocks(x))))


class OpenPose(nn.Module):
    """The talk's TPAMI-2019 OpenPose: T_P PAF stages, then T_C confidence-map stages.

    Args:
        backbone: "vgg19" (VGG-19 conv1_1…conv4_2 + two adaptation convs to 128 channels) or
            "light" (a small stride-8 CNN for the CPU).
        num_heatmaps: confidence maps (18 parts + background for OpenPose-18).
        num_pafs: PAF channels, 2 × limbs.
        paf_stages, heatmap_stages: T_P and T_C.
        paf_width, heatmap_width: conv width inside the PAF / confidence stages.
        num_blocks: dense conv blocks per stage.
        light_widths: the light backbone's conv widths (pools after the 1st, 2nd and 3rd).
    """

    def __init__(
        self,
        backbone: str = "vgg19",
        num_heatmaps: int = 19,
        num_pafs: int = 38,
        paf_stages: int = 4,
        heatmap_stages: int = 2,
        paf_width: int = 128,
        heatmap_width: int = 96,
        num_blocks: int = 5,
        light_widths: tuple[int, ...] = (16, 32, 64, 64),
    ) -> None:
        super().__init__()
        if backbone == "vgg19":
            self.backbone = VGGFeatures()
        elif backbone == "light":
            widths = tuple(int(w) for w in light_widths)
            if len(widths) < 4:
                raise ValueError(f"light_widths needs ≥ 4 widths (3 pools), got {light_widths}")
            self.backbone = VGGFeatures(widths, pool_after=(0, 1, 2))
        else:
            raise ValueError(f"OpenPose backbone must be 'vgg19' or 'light', got {backbone!r}")
        if paf_stages < 1 or heatmap_stages < 1:
            raise ValueError(f"need ≥ 1 PAF and ≥ 1 confidence stage, got {paf_stages}, "
                             f"{heatmap_stages}")
        c = self.backbone.out_channels
        self.paf_stages = nn.ModuleList(
            TalkStage(c if t == 0 else c + num_pafs, num_pafs, paf_width, 4 * paf_width,
                      num_blocks)
            for t in range(paf_stages)
        )
        self.heatmap_stages = nn.ModuleList(
            TalkStage(c + num_pafs if t == 0 else c + num_pafs + num_heatmaps, num_heatmaps,
                      heatmap_width, 4 * heatmap_width, num_blocks)
            for t in range(heatmap_stages)
        )

    def forward(self, images: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        feats = self.backbone(images)
        pafs: list[Tensor] = []
        x = feats
        for stage in self.paf_stages:  # L^t = φ^t(F, L^{t−1}) (talk §16)
            pafs.append(stage(x))
            x = torch.cat([feats, pafs[-1]], dim=1)
        heatmaps: list[Tensor] = []
        for stage in self.heatmap_stages:  # S^t = ρ^t(F, L^{T_P}, S^{t−1}) (talk §16)
            heatmaps.append(stage(x))
            x = torch.cat([feats, pafs[-1], heatmaps[-1]], dim=1)
        return pafs, heatmaps


_CMU_BRANCH = re.compile(r"^(?:conv5_(\d)_CPM_L([12])|Mconv(\d)_stage(\d)_L([12]))\.(weight|bias)$")


def remap_openpose_cmu_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """pytorch-openpose's ``body_pose_model.pth`` keys → :class:`OpenPoseCMU` keys.

    ``conv1_1.weight`` → ``backbone.convs.0.weight``; ``conv5_3_CPM_L2.bias`` →
    ``stages.0.heatmap.convs.2.bias``; ``Mconv7_stage6_L1.weight`` →
    ``stages.5.paf.convs.6.weight``. A module prefix (``model0.``, ``model1_1.`` …, as in the
    port's own module) is dropped. Unknown keys raise ValueError.
    """
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        name = ".".join(key.split(".")[-2:])
        layer, _, kind = name.partition(".")
        if layer in _VGG_NAMES and kind in ("weight", "bias"):
            out[f"backbone.convs.{_VGG_NAMES.index(layer)}.{kind}"] = value
            continue
        m = _CMU_BRANCH.match(name)
        if m is None:
            raise ValueError(f"remap_openpose_cmu_state_dict: unexpected key {key!r}")
        if m.group(1) is not None:
            stage, conv, branch = 0, int(m.group(1)) - 1, m.group(2)
        else:
            stage, conv, branch = int(m.group(4)) - 1, int(m.group(3)) - 1, m.group(5)
        part = "paf" if branch == "1" else "heatmap"
        out[f"stages.{stage}.{part}.convs.{conv}.{kind}"] = value
    return out


def openpose_cmu_coco(**kwargs) -> OpenPoseCMU:
    """CMU's released COCO body model (pose_iter_440000): 19 maps, 38 PAF channels, 6 stages."""
    return OpenPoseCMU(**kwargs)


def openpose_vgg19(**kwargs) -> OpenPose:
    """The talk's architecture on VGG-19 features (TPAMI 2019 body: 4 PAF + 2 confidence stages)."""
    return OpenPose(backbone="vgg19", **kwargs)


def openpose_light(**kwargs) -> OpenPose:
    """The talk's architecture, CPU-sized: light backbone, narrow stages (SynthPose)."""
    defaults = dict(paf_stages=2, heatmap_stages=1, paf_width=32, heatmap_width=32, num_blocks=2)
    defaults.update(kwargs)
    return OpenPose(backbone="light", **defaults)
