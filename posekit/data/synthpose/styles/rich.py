"""The ``rich`` style: classic garments, faces and hair with every randomisation at once:
limb shape, outlines, shading, light, folds, shadows, carried objects, natural backgrounds,
people-part distractors, camera and photo effects, the broad pose prior."""

from __future__ import annotations

from posekit.data.synthpose.styles._varied import LookOdds, varied_style

__all__ = ["STYLE", "ODDS"]

ODDS = LookOdds(
    limb=(0.5, 0.3, 0.2),
    outline=0.3,
    inner_contours=0.6,
    cylinder=0.5,
    light=0.6,
    folds=0.3,
    carry=0.25,
    shadow=0.5,
    skin_any_colour=0.05,
)

STYLE = varied_style("rich", ODDS)
