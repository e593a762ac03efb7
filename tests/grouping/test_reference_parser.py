"""group_people with GroupingConfig.cmu() returns pytorch-openpose's people on the same maps.

Fixture made by make_pytorch_openpose_fixtures.py (outputs of the reference parser only).
"""

from pathlib import Path

import numpy as np
import pytest
from make_pytorch_openpose_fixtures import SCENES, parser_scene

from posekit.grouping import GroupingConfig, assemble_people

FIXTURE = Path(__file__).parents[1] / "fixtures" / "openpose" / "pytorch_openpose_parser.npz"


@pytest.mark.parametrize("name", list(SCENES))
def test_same_peaks_and_people_as_reference_parser(name):
    ref = np.load(FIXTURE)
    hm, paf = parser_scene(*SCENES[name])
    peaks, people = assemble_people(hm, paf, GroupingConfig.cmu())
    cand = ref[f"{name}_candidate"]
    np.testing.assert_array_equal(peaks[:, :2], cand[:, :2])
    np.testing.assert_allclose(peaks[:, 2], cand[:, 2], rtol=0, atol=1e-12)
    subset = ref[f"{name}_subset"]
    assert people.shape == subset.shape
    np.testing.assert_array_equal(people[:, :18], subset[:, :18])  # same parts, same order
    np.testing.assert_allclose(people[:, 18:], subset[:, 18:], rtol=1e-9)
