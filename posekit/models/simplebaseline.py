"""SimpleBaseline (Xiao, Wu and Wei, "Simple Baselines for Human Pose Estimation and Tracking",
ECCV 2018): a ResNet followed by three stride-2 transposed convs and a 1×1 conv to K heatmaps.

The top-down heatmap model of the talk's §3 taxonomy, and the head MMPose calls ``HeatmapHead``.
Output stride 4 (three ×2 deconvs bring the backbone's 32 back to 4): images (B, 3, H, W) give
heatmaps (B, K, H/4, W/4), e.g. 256×192 crops → (B, 17, 64, 48); H and W should be multiples of 32.

ResNet-50 at 256×192: 34.00 M params, as MMPose's model zoo lists, and 5.43 G multiply-adds
(`posekit.models.complexity`). The paper's "8.9 GFLOPs" is the authors' counter, which charges a
deconv at its output resolution (4× its true cost) and divides by 1024³; that rule gives 8.99 here.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import Tensor, nn

from posekit.models.backbones.resnet import (
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnet_tiny,
)

__all__ = [
    "SimpleBaseline",
    "remap_simple_baseline_state_dict",
    "simple_baseline_res18",
    "simple_baseline_res34",
    "simple_baseline_res50",
    "simple_baseline_res101",
    "simple_baseline_res152",
    "simple_baseline_tiny",
]

# ConvTranspose2d (padding, output_padding) that make a stride-2 deconv exactly double H and W:
# H_out = 2 (H - 1) - 2 padding + kernel + output_padding = 2 H. Same table as MMPose's head.
_DECONV_PADDING: dict[int, tuple[int, int]] = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def init_heatmap_head_(modules: Iterable[nn.Module]) -> None:
    """MMPose's heatmap-head init (also the SimpleBaseline authors'): (de)convs N(0, 0.001²) with
    zero bias, BatchNorm weight 1 and bias 0; other modules are left alone."""
    for m in modules:
        if isinstance(m, nn.ConvTranspose2d | nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def _deconv_layers(in_channels: int, channels: tuple[int, ...], kernel: int) -> nn.Sequential:
    """``len(channels)`` × (ConvTranspose2d stride 2 without bias → BN → ReLU), each ×2 in size."""
    padding, output_padding = _DECONV_PADDING[kernel]
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [
            nn.ConvTranspose2d(
                in_channels, out_channels, kernel, stride=2, padding=padding,
                output_padding=output_padding, bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        in_channels = out_channels
    return nn.Sequential(*layers)


class SimpleBaseline(nn.Module):
    """Backbone → deconvolution head → K heatmaps, one per keypoint.

    Args:
        backbone: a module whose ``forward`` returns its deepest map and that declares
            ``out_channels`` and ``strides`` tuples (as `ResNet` does); its last entries are used.
        num_keypoints: K, the number of heatmaps (17 for COCO).
        deconv_channels: output channels of each stride-2 deconv; each one halves the output
            stride. Empty means no upsampling (heatmaps at the backbone's stride).
        deconv_kernel: deconv kernel size, 4 (the paper's), 3 or 2.
        final_kernel: odd kernel size of the last conv ("same" padding); the paper uses 1.
    """

    def __init__(
        self,
        *,
        backbone: nn.Module,
        num_keypoints: int = 17,
        deconv_channels: tuple[int, ...] = (256, 256, 256),
        deconv_kernel: int = 4,
        final_kernel: int = 1,
    ) -> None:
        super().__init__()
        backbone_channels = getattr(backbone, "out_channels", None)
        backbone_strides = getattr(backbone, "strides", None)
        if not isinstance(backbone_channels, tuple) or not isinstance(backbone_strides, tuple):
            raise TypeError(
                "backbone must declare out_channels and strides tuples (as ResNet does), got "
                f"{type(backbone).__name__} with out_channels={backbone_channels!r}, "
                f"strides={backbone_strides!r}"
            )
        if num_keypoints < 1:
            raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
        if any(c < 1 for c in deconv_channels):
            raise ValueError(f"deconv_channels must be positive, got {deconv_channels}")
        if deconv_kernel not in _DECONV_PADDING:
            raise ValueError(
                f"deconv_kernel must be one of {sorted(_DECONV_PADDING)}, got {deconv_kernel}"
            )
        if final_kernel < 1 or final_kernel % 2 == 0:
            raise ValueError(f"final_kernel must be a positive odd size, got {final_kernel}")
        if backbone_strides[-1] % 2 ** len(deconv_channels) != 0:
            raise ValueError(
                f"{len(deconv_channels)} stride-2 deconvs cannot undo a backbone stride of "
                f"{backbone_strides[-1]}"
            )

        self.backbone = backbone
        self.num_keypoints = num_keypoints
        self.output_stride: int = backbone_strides[-1] // 2 ** len(deconv_channels)
        self.deconv_layers = _deconv_layers(
            backbone_channels[-1], tuple(deconv_channels), deconv_kernel
        )
        head_channels = deconv_channels[-1] if deconv_channels else backbone_channels[-1]
        self.final_layer = nn.Conv2d(
            head_channels, num_keypoints, final_kernel, padding=final_kernel // 2
        )
        self._init_head()

    def _init_head(self) -> None:
        """Head init of the paper's code and MMPose; the backbone keeps its own (Kaiming or
        ImageNet) initialisation."""
        init_heatmap_head_([*self.deconv_layers.modules(), self.final_layer])

    def forward_features(self, images: Tensor) -> Tensor:
        """Backbone's deepest map, (B, C, H / s, W / s) with s the backbone's last stride."""
        return self.backbone(images)

    def forward_head(self, features: Tensor) -> Tensor:
        """Deconvolve and project to heatmaps: (B, C, h, w) → (B, K, h·2ⁿ, w·2ⁿ), n deconvs."""
        return self.final_layer(self.deconv_layers(features))

    def forward(self, images: Tensor) -> Tensor:
        """Heatmaps (B, K, H / output_stride, W / output_stride) for images (B, 3, H, W)."""
        return self.forward_head(self.forward_features(images))


_BACKBONE_ROOTS = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")
_HEAD_PREFIXES = ("head.", "keypoint_head.")


def remap_simple_baseline_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map a foreign SimpleBaseline checkpoint's state dict onto `SimpleBaseline` key names.

    Accepts MMPose 1.x (``backbone.*``, ``head.deconv_layers.*``, ``head.final_layer.*``),
    MMPose 0.x (``keypoint_head.*``) and the authors' ``PoseResNet`` (bare ``conv1.*``,
    ``layer1.*``, ``deconv_layers.*``, ``final_layer.*``), with or without DataParallel's
    ``module.`` prefix. Unknown keys pass through so a strict load reports them. Returns a new dict.
    """
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        name = key.removeprefix("module.")
        for prefix in _HEAD_PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        if name.startswith(_BACKBONE_ROOTS):
            name = "backbone." + name
        out[name] = value
    return out


def simple_baseline_res18(
    *,
    num_keypoints: int = 17,
    deconv_channels: tuple[int, ...] = (256, 256, 256),
    deconv_kernel: int = 4,
    final_kernel: int = 1,
) -> SimpleBaseline:
    """SimpleBaseline on ResNet-18 (15.38 M params with 17 keypoints)."""
    return SimpleBaseline(
        backbone=resnet18(), num_keypoints=num_keypoints, deconv_channels=deconv_channels,
        deconv_kernel=deconv_kernel, final_kernel=final_kernel,
    )


def simple_baseline_res34(
    *,
    num_keypoints: int = 17,
    deconv_channels: tuple[int, ...] = (256, 256, 256),
    deconv_kernel: int = 4,
    final_kernel: int = 1,
) -> SimpleBaseline:
    """SimpleBaseline on ResNet-34 (25.48 M params with 17 keypoints)."""
    return SimpleBaseline(
        backbone=resnet34(), num_keypoints=num_keypoints, deconv_channels=deconv_channels,
        deconv_kernel=deconv_kernel, final_kernel=final_kernel,
    )


def simple_baseline_res50(
    *,
    num_keypoints: int = 17,
    deconv_channels: tuple[int, ...] = (256, 256, 256),
    deconv_kernel: int = 4,
    final_kernel: int = 1,
) -> SimpleBaseline:
    """SimpleBaseline on ResNet-50, the paper's 256×192 COCO model (34.00 M params)."""
    return SimpleBaseline(
        backbone=resnet50(), num_keypoints=num_keypoints, deconv_channels=deconv_channels,
        deconv_kernel=deconv_kernel, final_kernel=final_kernel,
    )


def simple_baseline_res101(
    *,
    num_keypoints: int = 17,
    deconv_channels: tuple[int, ...] = (256, 256, 256),
    deconv_kernel: int = 4,
    final_kernel: int = 1,
) -> SimpleBaseline:
    """SimpleBaseline on ResNet-101 (52.99 M params with 17 keypoints)."""
    return SimpleBaseline(
        backbone=resnet101(), num_keypoints=num_keypoints, deconv_channels=deconv_channels,
        deconv_kernel=deconv_kernel, final_kernel=final_kernel,
    )


def simple_baseline_res152(
    *,
    num_keypoints: int = 17,
    deconv_channels: tuple[int, ...] = (256, 256, 256),
    deconv_kernel: int = 4,
    final_kernel: int = 1,
) -> SimpleBaseline:
    """SimpleBaseline on ResNet-152 (68.64 M params with 17 keypoints)."""
    return SimpleBaseline(
        backbone=resnet152(), num_keypoints=num_keypoints, deconv_channels=deconv_channels,
        deconv_kernel=deconv_kernel, final_kernel=final_kernel,
    )


def simple_baseline_tiny(
    *,
    num_keypoints: int = 17,
    deconv_channels: tuple[int, ...] = (64, 64, 64),
    deconv_kernel: int = 4,
    final_kernel: int = 1,
    backbone_widths: tuple[int, int, int, int] = (16, 32, 64, 128),
    backbone_layers: tuple[int, int, int, int] = (1, 1, 1, 1),
) -> SimpleBaseline:
    """A CPU-sized SimpleBaseline: a BasicBlock ResNet of the given widths/depths (default
    `resnet_tiny`, 0.57 M params in all) and three 64-channel deconvs."""
    backbone = resnet_tiny(widths=tuple(backbone_widths), stem_width=backbone_widths[0],
                           layers=tuple(backbone_layers))
    return SimpleBaseline(
        backbone=backbone, num_keypoints=num_keypoints, deconv_channels=tuple(deconv_channels),
        deconv_kernel=deconv_kernel, final_kernel=final_kernel,
    )
