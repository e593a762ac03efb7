"""Target encoders and their decoders, one class per file (see DESIGN.md §3)."""

from posekit.codecs.heatmap import HeatmapCodec, HeatmapTargets

__all__ = ["HeatmapCodec", "HeatmapTargets"]
