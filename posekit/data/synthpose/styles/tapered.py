"""The ``tapered`` style: tapered limbs, textured garments, directional light and ground shadows,
hats, hair and carried objects; natural backgrounds, camera and photo effects, the broad
pose prior."""

from __future__ import annotations

from posekit.data.synthpose.styles._varied import LookOdds, varied_style

__all__ = ["STYLE", "ODDS"]

ODDS = LookOdds(
    limb=(0.0, 1.0, 0.0), outline=0.2, cylinder=0.5, light=0.8, folds=0.4, carry=0.35, shadow=0.6
)

STYLE = varied_style("tapered", ODDS)
