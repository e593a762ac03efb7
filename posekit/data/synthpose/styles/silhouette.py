"""The ``silhouette`` style: each person one flat colour (no face, no garment edges),
clothing folds, outlines or none; natural backgrounds, camera and photo effects, the
broad pose prior."""

from __future__ import annotations

from posekit.data.synthpose.styles._varied import LookOdds, varied_style

__all__ = ["STYLE", "ODDS"]

ODDS = LookOdds(
    limb=(0.6, 0.3, 0.1),
    outline=0.4,
    inner_contours=0.2,
    cylinder=0.3,
    light=0.3,
    flat=1.0,
    folds=0.8,
    carry=0.2,
    shadow=0.5,
)

STYLE = varied_style("silhouette", ODDS)
