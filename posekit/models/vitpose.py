"""ViTPose (Xu, Zhang, Zhang and Tao, "ViTPose: Simple Vision Transformer Baselines for Human Pose
Estimation", NeurIPS 2022; talk §13): a plain ViT and a light decoder to K heatmaps.

Output stride 4: the ViT's stride-16 map is upsampled ×4 by either decoder. Images (B, 3, H, W)
give heatmaps (B, K, 4·Hp, 4·Wp) with Hp = (H + 4 − 16) // 16 + 1, e.g. 256×192 → (B, 17, 64, 48).
- classic decoder: 2 × (deconv 4×4 stride 2, 256 ch, BN, ReLU) → 1×1 conv (MMPose ``HeatmapHead``);
- simple decoder: ReLU → bilinear ×4 → 3×3 conv (MMPose's ``FeatureMapProcessor`` + head).

Params at 256×192 with the classic decoder and 17 keypoints: S 24.29 M, B 89.99 M, L 308.54 M,
H 637.21 M, MMPose's counts (tests/models/test_vitpose.py counts them on the meta device).

Multi-dataset training (talk §13, "flexible in task"): ``num_keypoints`` may be a tuple, one
decoder per dataset sharing the backbone; ``forward`` returns the first head's heatmaps and
``forward_heads`` all of them. ``knowledge_tokens`` (T, C) are optional extra tokens appended to
the ViT's (knowledge-token distillation, `posekit.engine.distill`).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.models.backbones.vit import (
    VisionTransformer,
    vit_base,
    vit_huge,
    vit_large,
    vit_small,
)
from posekit.models.simplebaseline import _deconv_layers, init_heatmap_head_

__all__ = [
    "DECODERS",
    "ViTPose",
    "ViTPoseDecoder",
    "remap_vitpose_state_dict",
    "vitpose_small",
    "vitpose_base",
    "vitpose_large",
    "vitpose_huge",
    "vitpose_tiny",
]

DECODERS = ("classic", "simple")


class ViTPoseDecoder(nn.Module):
    """Classic (two deconvs + 1×1) or simple (ReLU, bilinear ×4, 3×3) decoder: (B, C, h, w) →
    (B, K, 4h, 4w)."""

    def __init__(self, in_channels: int, num_keypoints: int, kind: str = "classic",
                 deconv_channels: tuple[int, ...] = (256, 256)) -> None:
        super().__init__()
        if kind not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {kind!r}")
        if num_keypoints < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
        self.kind = kind
        if kind == "classic":
            self.deconv_layers = _deconv_layers(in_channels, tuple(deconv_channels), 4)
            self.final_layer = nn.Conv2d(deconv_channels[-1], num_keypoints, 1)
        else:
            self.final_layer = nn.Conv2d(in_channels, num_keypoints, 3, padding=1)
        init_heatmap_head_(self.modules())  # MMPose's head init

    def forward(self, features: Tensor) -> Tensor:
        if self.kind == "classic":
            return self.final_layer(self.deconv_layers(features))
        x = F.interpolate(F.relu(features), scale_factor=4.0, mode="bilinear",
                          align_corners=False)  # (B, C, 4h, 4w)
        return self.final_layer(x)


class ViTPose(nn.Module):
    """ViT backbone → one decoder per dataset → heatmaps.

    Args:
        backbone: a `VisionTransformer`.
        num_keypoints: K, or a tuple (K₁, K₂, …) for one head per dataset.
        decoder: ``classic`` or ``simple``.
        deconv_channels: channels of the classic decoder's two deconvs.
        num_knowledge_tokens: learnable extra tokens appended to the ViT's (0 = none).
    """

    def __init__(self, *, backbone: VisionTransformer, num_keypoints: int | tuple[int, ...] = 17,
                 decoder: str = "classic", deconv_channels: tuple[int, ...] = (256, 256),
                 num_knowledge_tokens: int = 0) -> None:
        super().__init__()
        ks = (num_keypoints,) if isinstance(num_keypoints, int) else tuple(num_keypoints)
        if not ks:
            raise ValueError("num_keypoints must be an int or a non-empty tuple")
        self.backbone = backbone
        self.num_keypoints = ks[0]
        self.num_keypoints_per_head = ks
        self.output_stride = backbone.strides[-1] // 4
        c = backbone.embed_dim
        self.head = ViTPoseDecoder(c, ks[0], decoder, tuple(deconv_channels))
        self.extra_heads = nn.ModuleList(
            ViTPoseDecoder(c, k, decoder, tuple(deconv_channels)) for k in ks[1:]
        )
        self.knowledge_tokens = (
            nn.Parameter(torch.zeros(num_knowledge_tokens, c)) if num_knowledge_tokens else None
        )
        if self.knowledge_tokens is not None:
            nn.init.trunc_normal_(self.knowledge_tokens, std=0.02)

    @property
    def heads(self) -> list[ViTPoseDecoder]:
        return [self.head, *self.extra_heads]

    def forward_features(self, images: Tensor) -> Tensor:
        """The ViT's map (B, C, Hp, Wp)."""
        return self.backbone(images, self.knowledge_tokens)

    def forward_head(self, features: Tensor, index: int = 0) -> Tensor:
        return self.heads[index](features)

    def forward_heads(self, images: Tensor) -> list[Tensor]:
        """Heatmaps of every head, [(B, K_i, 4·Hp, 4·Wp)]."""
        features = self.forward_features(images)
        return [head(features) for head in self.heads]

    def forward(self, images: Tensor) -> Tensor:
        """First head's heatmaps (B, K, 4·Hp, 4·Wp) for images (B, 3, H, W)."""
        return self.head(self.forward_features(images))

    def param_groups(self, lr: float, weight_decay: float, layer_decay: float = 1.0
                     ) -> list[dict]:
        """AdamW groups with layer-wise LR decay and no decay on norms, biases, embeddings.

        MMPose's ``LayerDecayOptimWrapperConstructor`` rule with L = depth + 2 layers: patch and
        position embedding are layer 0, block i is layer i + 1, everything else (final norm,
        heads, knowledge tokens) is layer L − 1; a layer's LR is lr · decay^(L − 1 − layer).
        """
        depth = len(self.backbone.blocks)
        num_layers = depth + 2
        groups: dict[tuple[int, bool], dict] = {}
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            if name.startswith(("backbone.patch_embed.", "backbone.pos_embed")):
                layer = 0
            elif m := re.match(r"backbone\.blocks\.(\d+)\.", name):
                layer = int(m.group(1)) + 1
            else:
                layer = num_layers - 1
            no_decay = p.ndim <= 1 or name.endswith("pos_embed") or name == "knowledge_tokens"
            key = (layer, no_decay)
            if key not in groups:
                scale = layer_decay ** (num_layers - 1 - layer)
                groups[key] = {"params": [], "lr": lr * scale, "lr_scale": scale,
                               "weight_decay": 0.0 if no_decay else weight_decay,
                               "names": []}
            groups[key]["params"].append(p)
            groups[key]["names"].append(name)
        return [groups[k] for k in sorted(groups)]


# MMPose 1.x (MMPretrain VisionTransformer) names → posekit's.
_MMPOSE1_RULES = [
    (re.compile(r"^backbone\.patch_embed\.projection\."), "backbone.patch_embed.proj."),
    (re.compile(r"^backbone\.layers\.(\d+)\.ln1\."), r"backbone.blocks.\1.norm1."),
    (re.compile(r"^backbone\.layers\.(\d+)\.ln2\."), r"backbone.blocks.\1.norm2."),
    (re.compile(r"^backbone\.layers\.(\d+)\.attn\."), r"backbone.blocks.\1.attn."),
    (re.compile(r"^backbone\.layers\.(\d+)\.ffn\.layers\.0\.0\."), r"backbone.blocks.\1.mlp.fc1."),
    (re.compile(r"^backbone\.layers\.(\d+)\.ffn\.layers\.1\."), r"backbone.blocks.\1.mlp.fc2."),
    (re.compile(r"^backbone\.ln1\."), "backbone.norm."),
]
# The official ViTPose repository (MMPose 0.x) names → posekit's.
_OFFICIAL_RULES = [
    (re.compile(r"^backbone\.last_norm\."), "backbone.norm."),
    (re.compile(r"^keypoint_head\."), "head."),
]


def remap_vitpose_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map a released ViTPose checkpoint's state dict onto `ViTPose` key names.

    Accepts MMPose 1.x (``backbone.layers.N.ln1`` / ``ffn.layers.0.0`` / ``backbone.ln1``,
    ``head.*``) and the official ViTPose repository's MMPose 0.x layout (``backbone.blocks.N``,
    ``backbone.last_norm``, ``keypoint_head.*``), with or without a ``module.`` prefix. The official
    position embedding carries a class-token slot that its forward adds to every patch
    (``pos[:, 1:] + pos[:, :1]``); it is folded in here, which gives the same output. A grid other
    than the model's is resized on load. Unknown keys pass through so a strict load reports them.
    """
    keys = [k.removeprefix("module.") for k in state_dict]
    official = any(k.startswith(("keypoint_head.", "backbone.last_norm.")) for k in keys)
    rules = _OFFICIAL_RULES if official else _MMPOSE1_RULES
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        name = key.removeprefix("module.")
        for pattern, repl in rules:
            if pattern.match(name):
                name = pattern.sub(repl, name, count=1)
                break
        if official and name == "backbone.pos_embed":
            value = value[:, 1:] + value[:, :1]  # (1, 1 + N, C) → (1, N, C)
        out[name] = value
    return out


def _vitpose(backbone: VisionTransformer, num_keypoints: int | tuple[int, ...], decoder: str,
             deconv_channels: tuple[int, ...], num_knowledge_tokens: int) -> ViTPose:
    return ViTPose(backbone=backbone, num_keypoints=num_keypoints, decoder=decoder,
                   deconv_channels=tuple(deconv_channels),
                   num_knowledge_tokens=num_knowledge_tokens)


def vitpose_small(*, num_keypoints: int | tuple[int, ...] = 17, decoder: str = "classic",
                  img_size: tuple[int, int] = (256, 192), drop_path_rate: float = 0.1,
                  attention: str = "full", window_size: tuple[int, int] = (8, 6),
                  deconv_channels: tuple[int, ...] = (256, 256),
                  num_knowledge_tokens: int = 0) -> ViTPose:
    """ViTPose-S (24.29 M params, classic decoder, 17 keypoints); paper drop path 0.1."""
    bb = vit_small(img_size=tuple(img_size), drop_path_rate=drop_path_rate, attention=attention,
                   window_size=tuple(window_size))
    return _vitpose(bb, num_keypoints, decoder, deconv_channels, num_knowledge_tokens)


def vitpose_base(*, num_keypoints: int | tuple[int, ...] = 17, decoder: str = "classic",
                 img_size: tuple[int, int] = (256, 192), drop_path_rate: float = 0.3,
                 attention: str = "full", window_size: tuple[int, int] = (8, 6),
                 deconv_channels: tuple[int, ...] = (256, 256),
                 num_knowledge_tokens: int = 0) -> ViTPose:
    """ViTPose-B (89.99 M params); paper drop path 0.3."""
    bb = vit_base(img_size=tuple(img_size), drop_path_rate=drop_path_rate, attention=attention,
                  window_size=tuple(window_size))
    return _vitpose(bb, num_keypoints, decoder, deconv_channels, num_knowledge_tokens)


def vitpose_large(*, num_keypoints: int | tuple[int, ...] = 17, decoder: str = "classic",
                  img_size: tuple[int, int] = (256, 192), drop_path_rate: float = 0.5,
                  attention: str = "full", window_size: tuple[int, int] = (8, 6),
                  deconv_channels: tuple[int, ...] = (256, 256),
                  num_knowledge_tokens: int = 0) -> ViTPose:
    """ViTPose-L (308.54 M params); paper drop path 0.5."""
    bb = vit_large(img_size=tuple(img_size), drop_path_rate=drop_path_rate, attention=attention,
                   window_size=tuple(window_size))
    return _vitpose(bb, num_keypoints, decoder, deconv_channels, num_knowledge_tokens)


def vitpose_huge(*, num_keypoints: int | tuple[int, ...] = 17, decoder: str = "classic",
                 img_size: tuple[int, int] = (256, 192), drop_path_rate: float = 0.55,
                 attention: str = "full", window_size: tuple[int, int] = (8, 6),
                 deconv_channels: tuple[int, ...] = (256, 256),
                 num_knowledge_tokens: int = 0) -> ViTPose:
    """ViTPose-H (637.21 M params); paper drop path 0.55."""
    bb = vit_huge(img_size=tuple(img_size), drop_path_rate=drop_path_rate, attention=attention,
                  window_size=tuple(window_size))
    return _vitpose(bb, num_keypoints, decoder, deconv_channels, num_knowledge_tokens)


def vitpose_tiny(*, num_keypoints: int | tuple[int, ...] = 17, decoder: str = "classic",
                 img_size: tuple[int, int] = (128, 96), drop_path_rate: float = 0.0,
                 attention: str = "full", window_size: tuple[int, int] = (4, 3),
                 embed_dim: int = 192, depth: int = 6, num_heads: int = 3,
                 deconv_channels: tuple[int, ...] = (64, 64),
                 num_knowledge_tokens: int = 0) -> ViTPose:
    """A CPU-sized ViTPose (embed 192, depth 6, 3 heads, 64-channel deconvs; posekit's)."""
    bb = VisionTransformer(img_size=tuple(img_size), embed_dim=embed_dim, depth=depth,
                           num_heads=num_heads, drop_path_rate=drop_path_rate,
                           attention=attention, window_size=tuple(window_size))
    return _vitpose(bb, num_keypoints, decoder, deconv_channels, num_knowledge_tokens)

