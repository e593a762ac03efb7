"""Backbones: feature extractors that declare ``out_channels`` and ``strides`` for their heads."""

from posekit.models.backbones.cspdarknet import (
    CSPDarknet,
    cspdarknet_l,
    cspdarknet_m,
    cspdarknet_s,
)
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

__all__ = [
    "CSPDarknet",
    "cspdarknet_l",
    "cspdarknet_m",
    "cspdarknet_s",
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
