"""The ``capsules`` style: people as capsules in plain or textured clothes, often outlined, rounded
by shading; natural backgrounds, people-part distractors, camera and photo effects, the broad
pose prior."""

from __future__ import annotations

from posekit.data.synthpose.styles._varied import LookOdds, varied_style

__all__ = ["STYLE", "ODDS"]

ODDS = LookOdds(
    limb=(1.0, 0.0, 0.0), outline=0.5, cylinder=0.7, light=0.4, folds=0.2, carry=0.15, shadow=0.3
)

STYLE = varied_style("capsules", ODDS)
