"""The ``silhouette`` style: each person one flat colour (no face, no garment edges),
clothing folds, outlines or none; natural backgrounds, camera and photo effects, the
broad pose prior."""

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


def sample_look(rng: np.random.Generator, height: float) -> VariedLook:
    return sample_varied_look(rng, height, ODDS)


STYLE = Style(
    "silhouette",
    background=natural_background,
    sample_person=sample_person_broad,
    sample_look=sample_look,
    draw_person=draw_person_varied,
    distractor=parts_distractor,
    occluder=occluder,
    finish=photo_finish,
    camera=camera_warp,
)
