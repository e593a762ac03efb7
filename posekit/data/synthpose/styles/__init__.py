"""Rendering styles: everything about an image that is not pose.

A style is one module in this folder that builds a :class:`Style` (a bundle of hooks the scene
calls in a fixed order) and is listed in :data:`STYLES`. Adding a style is adding one file and
one row. Style *families* (``--style``) are comma-separated lists of style names, or a name in
:data:`FAMILIES`; each image of a family draws one of its styles at random.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Style", "STYLES", "FAMILIES", "DEFAULT_STYLE", "get_style", "parse_styles"]


@dataclass(frozen=True)
class Style:
    """Hooks of one rendering style, called by :mod:`posekit.data.synthpose.scene` in this order:
    background → sample_person / sample_look per person → distractor (behind / between people)
    → occluder → draw_person / draw_object → finish → camera.

    Attributes:
        name: the key in :data:`STYLES`.
        background: (rng, size) -> (S, S, 3) uint8 BGR.
        sample_person: (rng, height, centre) -> PersonParams (the pose prior).
        sample_look: (rng, height) -> the look ``draw_person`` consumes.
        draw_person: (image, label, figure, look, owner, height, rng) -> canvas box or None;
            draws in place into the image and the label map.
        distractor: (rng, size, ref_height) -> (shapes, cloth) of a thing attached to nobody.
        occluder: (rng, target_xy, height) -> shapes of an object in front of a person.
        finish: (rng, image) -> image: photometric changes only (labels unchanged).
        camera: optional (rng, image, label, points) -> (image, label, points): a geometric
            warp applied to the image, the label map (nearest) and every keypoint alike, so the
            visibility read afterwards stays true.
        distractor_scale: multiplies the number of distractors of the crowd level.
    """

    name: str
    background: Callable[[np.random.Generator, int], np.ndarray]
    sample_person: Callable[..., Any]
    sample_look: Callable[[np.random.Generator, float], Any]
    draw_person: Callable[..., Any]
    distractor: Callable[..., Any]
    occluder: Callable[..., Any]
    finish: Callable[[np.random.Generator, np.ndarray], np.ndarray]
    camera: Callable[..., Any] | None = None
    distractor_scale: float = 1.0


def _styles() -> dict[str, Style]:
    """The one table of styles: a new style is a module here and a row below."""
    from posekit.data.synthpose.styles import blocks, capsules, classic, rich, silhouette, tapered

    return {m.STYLE.name: m.STYLE for m in (classic, rich, capsules, tapered, silhouette, blocks)}


STYLES: dict[str, Style] = _styles()
DEFAULT_STYLE = "classic"
# Named families: "random" = every randomised style; the held-out pair for transfer tests.
FAMILIES: dict[str, tuple[str, ...]] = {
    "random": tuple(n for n in STYLES if n != "classic"),
    "mixed": tuple(STYLES),
    "train": tuple(n for n in STYLES if n != "blocks"),  # all but the held-out style
}


def parse_styles(spec: str | Style | tuple[str, ...] | list[str]) -> tuple[Style, ...]:
    """``"classic"``, ``"capsule,silhouette"``, a family name or a sequence → the styles."""
    if isinstance(spec, Style):
        return (spec,)
    if isinstance(spec, str):
        names: list[str] = []
        for part in spec.split(","):
            part = part.strip()
            names.extend(FAMILIES.get(part, (part,)))
    elif isinstance(spec, (tuple, list)):
        names = [str(s) for s in spec]
    else:
        raise TypeError(f"style must be a str or a sequence of str, got {type(spec).__name__}")
    if not names:
        raise ValueError("style must name at least one style")
    unknown = [n for n in names if n not in STYLES]
    if unknown:
        raise ValueError(f"unknown style(s) {unknown}; known styles: {sorted(STYLES)}, "
                         f"families: {sorted(FAMILIES)}")
    return tuple(STYLES[n] for n in names)


def get_style(name: str) -> Style:
    """One style by name."""
    styles = parse_styles(name)
    if len(styles) != 1:
        raise ValueError(f"expected one style, got {name!r}")
    return styles[0]
