"""SynthPose: the embedded synthetic multi-person COCO-17 (or MPII-16) dataset, drawn procedurally.

Every image holds articulated people built from human proportions (Drillis &
Contini's segment fractions as tabled by Winter, ±10 % per person, some children) with joint angles
from anatomical ranges, posed in 3-D, turned to a yaw (front, back, profile or three-quarter
view) and projected; how they are drawn (garments, shading, backgrounds, distractors, camera)
is a *style* (:mod:`.styles`): ``classic`` (the default) dresses them in textured shirts and
trousers with a face on the front of the head and hair on the back, in cluttered textured scenes
with limb-like distractors and occluding objects; the randomised styles vary everything that is
not pose, so that a model learns pose and not the renderer.

Left and right are told apart only as in photos, by the way a person faces (face, neckline and
buttons on the front, hair on the back, feet pointing forward, limbs bending their anatomical
way, the far side hidden by the body in profile) and never by colour: both sides of a person share
one material each, and equal-depth overlaps are broken at random.

Drawing is back to front into the BGR image and, in step, into an integer label map that says for
each pixel which person or object owns it, which body part and which material. Visibility, `area`
and `bbox` are read from that map, so they are true to the drawing: a keypoint is v=2 when the
pixel nearest to it (pixel-centre convention of :mod:`posekit.structures`) shows one of its own
body parts (:data:`KEYPOINT_PARTS`) and its surface faces the camera, v=1 when it is inside the
image but covered (by a nearer person or object, by another of the person's parts, or by the
person's own head/body, e.g. the eyes of someone seen from behind), and v=0 outside the image.
Styles that warp the whole image (camera) warp the label map with it, so this still holds.

Crowd levels (:data:`CROWD_LEVELS`): ``sparse`` draws 1–2 people per image, up to the full
image height; ``normal`` 1–5, up to 0.9 of it; ``dense`` 4–12 gathered around one or two centres
so they overlap heavily, up to 0.65 of it. Standing heights run from 24 px (at 256 × 256) up.
:func:`render_scene` draws exactly n people.

:func:`generate_dataset` writes COCO format (``images/{split}/{id:012d}.jpg`` and
``annotations/person_keypoints_{split}.json``), byte-identical for one seed whatever the number of
worker processes, because every image draws from its own generator seeded by
(seed, split, crowd, index[, style]). People with no visible pixel are not annotated; ``area`` is
the count of the person's visible pixels and ``bbox`` their tight box with edges on pixel borders
(x = leftmost pixel − 0.5); v=0 keypoints are written as (0, 0, 0), as COCO does.

Modules: :mod:`.body` (parts, materials, proportions, person parameters), :mod:`.prior` (the
pose prior), :mod:`.figure` (3-D posing and projection into shapes), :mod:`.looks` (colours,
garments, pattern bank), :mod:`.draw` (primitives), :mod:`.styles` (one module per style),
:mod:`.scene` (composition, ground truth), :mod:`.coco` (the dataset writer).
"""

from posekit.data.synthpose.body import (
    EXTRA_KEYPOINTS,
    KEYPOINT_PARTS,
    PROPORTIONS,
    Material,
    Part,
    PersonParams,
    view_of,
)
from posekit.data.synthpose.coco import JPEG_QUALITY, format_summary, generate_dataset
from posekit.data.synthpose.figure import person_keypoints
from posekit.data.synthpose.prior import sample_person
from posekit.data.synthpose.scene import (
    CROWD_LEVELS,
    MIN_HEIGHT,
    CrowdLevel,
    RenderedImage,
    RenderedPerson,
    image_rng,
    render_image,
    render_person,
    render_scene,
)
from posekit.data.synthpose.styles import DEFAULT_STYLE, FAMILIES, STYLES, Style, parse_styles

__all__ = [
    "Part",
    "Material",
    "KEYPOINT_PARTS",
    "EXTRA_KEYPOINTS",
    "CrowdLevel",
    "CROWD_LEVELS",
    "MIN_HEIGHT",
    "PROPORTIONS",
    "PersonParams",
    "RenderedPerson",
    "RenderedImage",
    "view_of",
    "sample_person",
    "person_keypoints",
    "image_rng",
    "render_image",
    "render_scene",
    "render_person",
    "generate_dataset",
    "format_summary",
    "JPEG_QUALITY",
    "Style",
    "STYLES",
    "FAMILIES",
    "DEFAULT_STYLE",
    "parse_styles",
]
