"""The ``blocks`` style: boxy limbs (boxes over the joints), skin sometimes any colour, outlines;
natural backgrounds, people-part distractors (more of them), camera and photo effects, the broad
pose prior. Held out of the ``train`` family, for transfer tests."""

from __future__ import annotations

import numpy as np

from posekit.data.synthpose.backgrounds import natural_background
from posekit.data.synthpose.camera import camera_warp, photo_finish
from posekit.data.synthpose.prior import sample_person_broad
from posekit.data.synthpose.styles import Style
from posekit.data.synthpose.styles._varied import (
    LookOdds,
    VariedLook,
    draw_person_varied,
    parts_distractor,
    sample_varied_look,
)
from posekit.data.synthpose.styles.classic import occluder

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


def sample_look(rng: np.random.Generator, height: float) -> VariedLook:
    return sample_varied_look(rng, height, ODDS)


STYLE = Style(
    "blocks",
    background=natural_background,
    sample_person=sample_person_broad,
    sample_look=sample_look,
    draw_person=draw_person_varied,
    distractor=parts_distractor,
    occluder=occluder,
    finish=photo_finish,
    camera=camera_warp,
    distractor_scale=1.5,
)
