"""The ``blocks`` style: boxy limbs (boxes over the joints), skin sometimes any colour, outlines;
natural backgrounds, people-part distractors (more of them), camera and photo effects, the broad
pose prior. Held out of the ``train`` family, for transfer tests."""

from __future__ import annotations

from posekit.data.synthpose.styles._varied import LookOdds, varied_style

__all__ = ["STYLE", "ODDS"]

ODDS = LookOdds(
    limb=(0.0, 0.0, 1.0),
    outline=0.5,
    inner_contours=0.3,
    cylinder=0.2,
    light=0.5,
    folds=0.1,
    carry=0.2,
    shadow=0.3,
    skin_any_colour=0.3,
)

STYLE = varied_style("blocks", ODDS, distractor_scale=1.5)
