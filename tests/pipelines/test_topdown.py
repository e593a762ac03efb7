import json

import numpy as np
import pytest
import torch
from conftest import REAL, REAL_COCO_JSON
from torch import nn

from posekit.codecs.heatmap import HeatmapCodec
from posekit.data.coco import CocoPoseDataset
from posekit.data.topdown import TopDownDataset
from posekit.data.transforms import TopDownAugment, crop_to_image
from posekit.evaluation import evaluate_coco
from posekit.evaluation.baselines import MeanPose
from posekit.pipelines.detectors import DetectionFile, GroundTruthBoxes, PersonBox, person_boxes
from posekit.pipelines.topdown import CropPrediction, TopDown, assemble_people, flip_heatmaps
from posekit.skeletons import COCO17

INPUT = (96, 128)  # (w, h)
HEATMAP = (24, 32)


@pytest.fixture(scope="module")
def coco():
    return CocoPoseDataset(REAL_COCO_JSON, REAL_COCO_JSON.parent)


@pytest.mark.parametrize("udp", [False, True])
def test_gt_round_trip_through_crop_and_codec(coco, udp):
    """encode GT → decode → back-project recovers visible joints to < 0.5 image px (we get
    < 0.05) wherever the joint's Gaussian lies inside the heatmap (≥ 3σ from its border; nearer
    the border DARK, like MMPose's, falls back to the integer argmax)."""
    sigma = 1.5
    codec = HeatmapCodec(INPUT, HEATMAP, sigma, refine="dark", udp=udp, unbiased_encoding=True)
    dataset = TopDownDataset(coco, INPUT, TopDownAugment(udp=udp), train=False)
    checked = visible = 0
    for i in range(len(dataset)):
        item = dataset[i]
        targets = codec.encode(item["keypoints"][None, None])  # (1, 1, K, 3)
        xy, _ = codec.decode(targets.heatmaps)
        img_xy = crop_to_image(xy[0].numpy(), item["center"].numpy(), item["scale"].numpy(),
                               0.0, INPUT, udp=udp)
        record = coco.records[dataset.items[i].record_index]
        gt = record.people[dataset.items[i].person_index].keypoints
        hm = codec.to_heatmap(item["keypoints"][:, :2]).numpy()
        m = 3 * sigma
        inside = ((hm >= m) & (hm <= np.array(HEATMAP) - 1 - m)).all(axis=1)
        use = (targets.weights[0] > 0).numpy() & (gt[:, 2] > 0) & inside
        err = np.linalg.norm(img_xy[use] - gt[use, :2], axis=1)
        assert err.max() < 0.05, (i, err.max())
        checked += int(use.sum())
        visible += int((gt[:, 2] > 0).sum())
    assert checked > 0.85 * visible


def test_flip_heatmaps_is_exact_with_udp():
    """With UDP the heatmap of a mirrored crop, un-flipped, equals the original's."""
    codec = HeatmapCodec(INPUT, HEATMAP, 1.5, refine="dark", udp=True, unbiased_encoding=True)
    g = torch.Generator().manual_seed(0)
    k = torch.zeros(1, 17, 3)
    k[0, :, 0] = torch.rand(17, generator=g) * 80 + 8
    k[0, :, 1] = torch.rand(17, generator=g) * 110 + 8
    k[0, :, 2] = 2
    mirrored = k.clone()
    mirrored[..., 0] = INPUT[0] - 1 - k[..., 0]
    mirrored = mirrored[:, COCO17.flip_indices]
    a = codec.encode(k).heatmaps
    b = flip_heatmaps(codec.encode(mirrored).heatmaps, COCO17.flip_indices, shift=False)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_assemble_rescoring_and_nms():
    k = np.zeros((17, 3), np.float32)
    k[:, 0], k[:, 1] = np.arange(17) * 3.0, np.arange(17) * 5.0
    k[:, 2] = 0.1
    k[:4, 2] = (0.9, 0.7, 0.5, 0.3)  # four above the 0.2 threshold: mean 0.6
    box = np.array([0, 0, 60, 90], np.float32)
    dup = k.copy()
    dup[:, :2] += 0.5  # the same person found from a second box
    far = k.copy()
    far[:, 0] += 500
    people = assemble_people(
        [CropPrediction(1, k, box, 0.5), CropPrediction(1, dup, box, 0.4),
         CropPrediction(1, far, box + [500, 0, 500, 0], 1.0)], COCO17,
    )
    assert len(people) == 2
    np.testing.assert_allclose(sorted(people.scores.tolist()), [0.5 * 0.6, 1.0 * 0.6], rtol=1e-6)
    no_nms = assemble_people([CropPrediction(1, k, box, 0.5), CropPrediction(1, dup, box, 0.4)],
                             COCO17, nms_thresh=1.0)
    assert len(no_nms) == 2


class _CentrePeak(nn.Module):
    """Ignores the image: every channel is a Gaussian centred on the heatmap's centre."""

    def forward(self, x):
        w, h = HEATMAP
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        g = torch.exp(-((xs - (w - 1) / 2) ** 2 + (ys - (h - 1) / 2) ** 2) / (2 * 1.5**2))
        return g.expand(x.shape[0], 17, h, w).clone()


@pytest.mark.parametrize("flip_test", [False, True])
def test_call_maps_crop_centre_to_box_centre(flip_test):
    """A model that always predicts the crop centre yields the box centre in image pixels."""
    codec = HeatmapCodec(INPUT, HEATMAP, 1.5, refine="dark", udp=True, unbiased_encoding=True)
    pipe = TopDown(_CentrePeak(), codec, COCO17, flip_test=flip_test, nms_thresh=1.0)
    image = np.zeros((300, 400, 3), np.uint8)
    boxes = [PersonBox((50.0, 40.0, 130.0, 240.0), 0.9), PersonBox((250.0, 10, 310, 100), 0.8)]
    people = pipe(image, boxes=boxes)
    assert len(people) == 2
    centres = {(round((b.box[0] + b.box[2]) / 2, 3), round((b.box[1] + b.box[3]) / 2, 3))
               for b in boxes}
    for xy in people.keypoints.xy:
        assert torch.allclose(xy, xy[0].expand_as(xy))
        x, y = xy[0].tolist()
        assert min(np.hypot(x - cx, y - cy) for cx, cy in centres) < 0.05
    # The peak sits between pixels (centre 11.5, 15.5): sampled maximum exp(-0.5 / (2·1.5²)).
    peak = np.exp(-0.5 / (2 * 1.5**2))
    np.testing.assert_allclose(sorted(people.scores.tolist()), [0.8 * peak, 0.9 * peak], atol=1e-4)
    with pytest.raises(ValueError, match="needs person boxes"):
        pipe(image)


def test_ground_truth_and_detection_file_boxes(coco, tmp_path):
    gt = GroundTruthBoxes(coco)
    assert sum(len(gt(None, r.image_id)) for r in coco.records) == 12  # people with keypoints
    dets = DetectionFile(REAL / "mmpose_coco" / "test_coco_det_AP_H_56.json", coco)
    items = person_boxes(coco, dets)
    raw = json.loads((REAL / "mmpose_coco" / "test_coco_det_AP_H_56.json").read_text())
    wanted = [d for d in raw if d["category_id"] == 1 and d["bbox"][2] > 1 and d["bbox"][3] > 1
              and d["image_id"] in {r.image_id for r in coco.records}]
    assert len(items) == len(wanted) > 0
    by_image = sorted((d["image_id"], round(d["score"], 5)) for d in wanted)
    assert sorted((coco.records[i.record_index].image_id, round(i.score, 5))
                  for i in items) == by_image
    bad = tmp_path / "dets.json"
    bad.write_text('[{"image_id": 785, "bbox": [1, 2, 3], "score": 0.9}]')
    with pytest.raises(ValueError, match=r"dets.json: detection 0 bbox must be 4 finite numbers"):
        DetectionFile(bad)
    bad.write_text('{"image_id": 1}')
    with pytest.raises(ValueError, match="expected a list of detections"):
        DetectionFile(bad)


def test_mean_pose_baseline_is_a_weak_but_real_floor(coco):
    baseline = MeanPose(INPUT).fit(coco)
    assert baseline.mean_xy[COCO17.index("nose"), 1] < baseline.mean_xy[
        COCO17.index("left_ankle"), 1]  # head above feet in the crop
    results = baseline.predict(coco)
    assert len(results) == 12
    ap = evaluate_coco(coco.gt_dict, results, skeleton=COCO17).stats["AP"]
    assert 0.0 <= ap < 0.5


class _OffCentrePeak(nn.Module):
    """Every channel peaks at heatmap pixel (x 18, y 5): right of and above the crop centre."""

    def forward(self, x):
        w, h = HEATMAP
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        g = torch.exp(-((xs - 18) ** 2 + (ys - 5) ** 2) / (2 * 1.5**2))
        return g.expand(x.shape[0], 17, h, w).clone()


@pytest.mark.parametrize("udp, want", [
    # box (100, 50)-(160, 130) has the input's aspect 3:4; padded ×1.25 the crop spans x
    # 92.5…167.5 (75 px) and y 40…140 (100 px). Heatmap pixel (18, 5) lies at
    # corner + (18, 5) · (75, 100) / (24, 32) (pixel corners), and with UDP (pixel centres)
    # at corner + (18, 5) · (75, 100) / (23, 31).
    (False, (92.5 + 18 * 75 / 24, 40 + 5 * 100 / 32)),
    (True, (92.5 + 18 * 75 / 23, 40 + 5 * 100 / 31)),
])
def test_back_projection_keeps_x_and_y_apart(udp, want):
    """A non-square image, box, input and heatmap, and a peak off the crop's diagonal: any
    swap of x and y, or of width and height, moves the answer by tens of pixels."""
    codec = HeatmapCodec(INPUT, HEATMAP, 1.5, refine="dark", udp=udp)
    pipe = TopDown(_OffCentrePeak(), codec, COCO17, flip_test=False, nms_thresh=1.0)
    people = pipe(np.zeros((200, 300, 3), np.uint8), boxes=[PersonBox((100, 50, 160, 130), 0.9)])
    np.testing.assert_allclose(people.keypoints.xy[0].numpy(),
                               np.broadcast_to(want, (17, 2)), atol=1e-3)
