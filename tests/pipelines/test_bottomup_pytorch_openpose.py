"""The CMU config's bottom-up pipeline returns pytorch-openpose ``Body``'s people on real photos.

Fixture made by make_pytorch_openpose_e2e_fixtures.py (the reference's outputs only); the same
seeded weights, converted with posekit's remap, run through the config's pipeline here.
"""

import cv2
import numpy as np
import pytest
import torch
from make_pytorch_openpose_e2e_fixtures import (
    FIXTURE,
    IMAGE_DIR,
    IMAGES,
    WEIGHTS,
    seeded_state_dict,
)

from posekit.config import load_config
from posekit.engine.tasks import build_task
from posekit.grouping import assemble_people, group_people
from posekit.models import build_model
from posekit.models.openpose import remap_openpose_cmu_state_dict
from posekit.skeletons import COCO17, OPENPOSE18, convert_keypoints


@pytest.fixture(scope="module")
def cmu_pipeline():
    cfg = load_config("configs/openpose/openpose_cmu_coco.yaml")
    task = build_task(cfg)
    model = build_model(cfg.model.name)
    model.load_state_dict(remap_openpose_cmu_state_dict(seeded_state_dict(np.load(WEIGHTS))))
    return task.pipeline(task.inference_model(model))


@pytest.mark.parametrize("index", range(len(IMAGES)))
def test_cmu_config_returns_pytorch_openpose_people(cmu_pipeline, index, one_torch_thread):
    ref = np.load(FIXTURE)
    candidate, subset = ref[f"candidate_{index}"], ref[f"subset_{index}"]
    image = cv2.imread(str(IMAGE_DIR / IMAGES[index]))
    with torch.inference_mode():
        hm, paf = cmu_pipeline.maps(image)
    # Every peak (all 18 parts) at the same pixel with the same score, numbered alike.
    peaks, people = assemble_people(hm, paf, cmu_pipeline.grouping)
    assert peaks.shape == (len(candidate), 3)
    np.testing.assert_allclose(peaks[:, :2], candidate[:, :2], rtol=0, atol=0.01)
    np.testing.assert_allclose(peaks[:, 2], candidate[:, 2], rtol=0, atol=1e-4)
    assert people.shape == subset.shape and len(subset) >= 5
    np.testing.assert_array_equal(people[:, :18], subset[:, :18])  # same parts, same order
    np.testing.assert_allclose(people[:, 18:], subset[:, 18:], rtol=0, atol=1e-4)
    # What the pipeline returns (COCO-17 people) is the reference's subset read from its table.
    found = group_people(hm, paf, cmu_pipeline.grouping)
    ids = subset[:, :18].astype(int)
    want = np.where((ids >= 0)[..., None], candidate[ids, :3], 0.0)
    want = convert_keypoints(want, OPENPOSE18, COCO17)
    np.testing.assert_allclose(found.keypoints.data.numpy(), want, rtol=0, atol=1e-4)
    np.testing.assert_allclose(found.scores.numpy(), subset[:, 18] / subset[:, 19], rtol=0,
                               atol=1e-4)
