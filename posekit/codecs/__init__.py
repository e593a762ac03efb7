"""Target encoders and their decoders, one class per file."""

from posekit.codecs.heatmap import HeatmapCodec, HeatmapTargets

__all__ = ["HeatmapCodec", "HeatmapTargets"]
