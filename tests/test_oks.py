"""OKS known answers: numpy against pycocotools, torch by hand, and the two against each other."""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.oks import keypoint_oks, oks_matrix
from posekit.skeletons import COCO17
from tests.conftest import REAL_COCO_JSON as COCO_JSON


def test_oks_known_answer():
    gt = np.array([[[0, 0, 2]]], dtype=float)
    pred = np.array([[[2, 0]], [[0, 0]]], dtype=float)
    # e = d² / (2 · area · (2σ)²) = 4 / (2 · 100 · 0.04) = 0.5
    oks = oks_matrix(pred, gt, np.array([100.0]), np.array([0.1]))
    np.testing.assert_allclose(oks[:, 0], [math.exp(-0.5), 1.0], rtol=1e-12)


def test_oks_equals_pycocotools_on_real_people():
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(COCO_JSON))
    anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=[197388])) if a["num_keypoints"] > 0]
    gt = np.array([a["keypoints"] for a in anns], dtype=float).reshape(-1, 17, 3)
    rng = np.random.default_rng(0)
    pred = gt.copy()
    pred[..., :2] += rng.normal(0, 6, size=pred[..., :2].shape)
    dets = [{"image_id": 197388, "category_id": 1, "score": 1.0 - 0.1 * i,
             "keypoints": p.reshape(-1).tolist()} for i, p in enumerate(pred)]
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco, coco.loadRes(dets), "keypoints")
        evaluator.params.kpt_oks_sigmas = COCO17.oks_sigmas()
        evaluator.params.imgIds = [197388]
        evaluator.evaluate()
    expected = evaluator.ious[(197388, 1)]  # (D, G), detections in descending score order
    gt_order = coco.loadAnns(coco.getAnnIds(imgIds=[197388]))  # COCOeval's column order
    columns = [i for i, a in enumerate(gt_order) if a["num_keypoints"] > 0]
    ours = oks_matrix(pred, gt, np.array([a["area"] for a in anns]), COCO17.oks_sigmas())
    np.testing.assert_allclose(ours, expected[:, columns], rtol=1e-12)
    assert 0.3 < ours.diagonal().min() < 1.0



def test_keypoint_oks_hand_computed_and_masked():
    sigmas = torch.tensor([0.1, 0.2])
    target = torch.zeros(1, 2, 2)
    pred = torch.tensor([[[3.0, 4.0], [100.0, 100.0]]])  # d² = 25 on keypoint 0
    area = torch.tensor([50.0])
    w = torch.tensor([[1.0, 0.0]])  # keypoint 1 unlabelled: ignored
    expect = math.exp(-25 / (2 * 50 * 0.2**2))
    assert keypoint_oks(pred, target, w, area, sigmas).item() == pytest.approx(expect, rel=1e-5)


def test_numpy_and_torch_oks_agree():
    rng = np.random.default_rng(1)
    gt = np.concatenate([rng.uniform(0, 100, (3, 17, 2)), rng.integers(0, 3, (3, 17, 1))], -1)
    pred = gt[..., :2] + rng.normal(0, 5, (3, 17, 2))
    areas = rng.uniform(200, 3000, 3)
    sigmas = COCO17.oks_sigmas()
    paired = keypoint_oks(torch.from_numpy(pred), torch.from_numpy(gt[..., :2]),
                          torch.from_numpy((gt[..., 2] > 0).astype(np.float64)),
                          torch.from_numpy(areas), torch.from_numpy(sigmas))
    np.testing.assert_allclose(paired.numpy(), oks_matrix(pred, gt, areas, sigmas).diagonal(),
                               rtol=1e-6)
