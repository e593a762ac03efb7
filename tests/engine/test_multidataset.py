"""Multi-dataset ViTPose: one head per dataset, each trained only by its own dataset's people;
the real MPII and AIC samples load through the same heads as COCO."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from posekit.engine.multidataset import MultiDatasetTask
from posekit.engine.tasks import build_task
from tests.conftest import REAL, tiny_topdown_config

MPII = REAL / "mmpose_mpii" / "test_mpii.json"
AIC = REAL / "mmpose_aic" / "test_aic.json"


def _task(*extra: str) -> MultiDatasetTask:
    return build_task(tiny_topdown_config(
        "model.name=vitpose_tiny", "model.task=topdown_multi",
        "model.kwargs={depth: 1, embed_dim: 32, num_heads: 2, deconv_channels: [16, 16]}",
        f"data.extra_train_anns=[{MPII}, {AIC}]", "data.extra_skeletons=[mpii16, aic14]",
        "augment.flip_prob=0.0", *extra))


@pytest.fixture(scope="module")
def task_and_model():
    torch.manual_seed(0)
    task = _task()
    return task, task.build_model()


def test_real_coco_mpii_aic_load_through_their_heads(task_and_model):
    task, model = task_and_model
    assert model.num_keypoints_per_head == (17, 16, 14)
    data = task.train_dataset()
    seen = {}
    for i in range(len(data)):
        item = data[i]
        assert item["keypoints"].shape == (17, 3)
        seen.setdefault(item["dataset"], item)
    assert sorted(seen) == [0, 1, 2]
    # padded points beyond a dataset's K are invisible
    assert (seen[1]["keypoints"][16:, 2] == 0).all() and (seen[2]["keypoints"][14:, 2] == 0).all()
    images = torch.stack([seen[i]["image"] for i in range(3)])
    with torch.no_grad():
        outs = model.forward_heads(images)
    assert [tuple(o.shape) for o in outs] == [(3, 17, 32, 24), (3, 16, 32, 24), (3, 14, 32, 24)]


def _grad_norms(model):
    return [sum(float(p.grad.abs().sum()) if p.grad is not None else 0.0
                for p in head.parameters()) for head in model.heads]


def test_each_head_gets_only_its_datasets_gradients(task_and_model):
    task, model = task_and_model
    data = task.train_dataset()
    batch = next(iter(DataLoader(data, batch_size=len(data), shuffle=False)))
    for only in range(3):
        sel = batch["dataset"] == only
        sub = {k: v[sel] for k, v in batch.items()}
        model.zero_grad(set_to_none=True)
        task.loss(model, sub, torch.device("cpu"))["loss"].backward()
        norms = _grad_norms(model)
        assert norms[only] > 0
        assert all(n == 0.0 for i, n in enumerate(norms) if i != only), norms
    # a mixed batch: the total is the sum of the per-dataset losses, each on its own head
    model.zero_grad(set_to_none=True)
    losses = task.loss(model, batch, torch.device("cpu"))
    parts = [losses[f"loss_{s.name}"] for s in task.skeletons]
    torch.testing.assert_close(losses["loss"].detach(), sum(parts))
    # recompute head 1's loss by hand on MPII people only
    sel = batch["dataset"] == 1
    images = batch["image"][sel]
    targets = task.codec.encode(batch["keypoints"][sel][:, :16][:, None])
    with torch.no_grad():
        ref = task.loss_fn(model.forward_heads(images)[1], targets.heatmaps, targets.weights)
    torch.testing.assert_close(parts[1], ref)


def test_mismatched_extra_lists_are_rejected():
    with pytest.raises(ValueError, match="extra_skeletons"):
        _task("data.extra_skeletons=[mpii16]")


def test_extra_image_folders_must_match_the_files():
    task = _task(f"data.extra_train_images=[{MPII.parent}]")
    with pytest.raises(ValueError, match="extra_train_images"):
        task.train_dataset()
