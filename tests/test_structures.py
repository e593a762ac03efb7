import numpy as np
import pytest
import torch

from posekit.structures import Keypoints, PoseInstances, keypoints_to_boxes


def _people(n=3, k=17):
    g = torch.Generator().manual_seed(0)
    kpts = torch.rand(n, k, 3, generator=g) * 100
    kpts[..., 2] = 2
    boxes = torch.tensor([[0, 0, 10, 20]] * n, dtype=torch.float32)
    return PoseInstances(boxes, Keypoints(kpts), torch.linspace(0.5, 1, n))


def test_keypoints_shape_error():
    with pytest.raises(ValueError, match=r"\(N, K, 3\), got \(4, 2\)"):
        Keypoints(torch.zeros(4, 2))


def test_length_mismatch_error():
    with pytest.raises(ValueError, match="differ in length"):
        PoseInstances(torch.zeros(2, 4), Keypoints(torch.zeros(3, 17, 3)), torch.zeros(3))


def test_indexing_selects_all_fields():
    p = _people()
    sub = p[torch.tensor([True, False, True])]
    assert len(sub) == 2
    assert torch.equal(sub.keypoints.data[1], p.keypoints.data[2])
    assert sub.scores[1] == p.scores[2]
    assert len(p[0]) == 1 and len(p[-1]) == 1


def test_coco_round_trip():
    p = _people()
    dicts = p.to_coco(image_id=7)
    assert dicts[0]["bbox"] == [0, 0, 10, 20] and dicts[0]["image_id"] == 7
    q = PoseInstances.from_coco(dicts, 17)
    np.testing.assert_allclose(q.keypoints.data, p.keypoints.data, atol=1e-3)
    np.testing.assert_allclose(q.boxes, p.boxes)
    np.testing.assert_allclose(q.scores, p.scores, atol=1e-6)


def test_keypoints_to_boxes_ignores_unlabelled():
    k = torch.tensor([[[1.0, 2.0, 2.0], [5.0, 9.0, 1.0], [100.0, 100.0, 0.0]]])
    assert keypoints_to_boxes(k).tolist() == [[1.0, 2.0, 5.0, 9.0]]
    assert keypoints_to_boxes(torch.zeros(1, 3, 3)).tolist() == [[0.0, 0.0, 0.0, 0.0]]


def test_cat_and_empty():
    e = PoseInstances.empty(17)
    p = PoseInstances.cat([e, _people(2)])
    assert len(p) == 2 and p.num_keypoints == 17


def test_to_coco_of_no_people_is_an_empty_list():
    """An image where nothing was found (bottom-up, one-stage) must give [] , not a crash."""
    assert PoseInstances.empty(17).to_coco(3) == []


def test_track_ids_follow_indexing_cat_and_coco():
    p = PoseInstances(_people().boxes, _people().keypoints, _people().scores, [7, 3, 9])
    assert p.track_ids.dtype == torch.int64
    assert p[torch.tensor([False, True, True])].track_ids.tolist() == [3, 9]
    assert p[-1].track_ids.tolist() == [9]
    moved = p.to(torch.float16)  # a dtype change leaves the ids exact int64
    assert moved.track_ids.dtype == torch.int64 and moved.track_ids.tolist() == [7, 3, 9]
    assert PoseInstances.cat([p, p[0]]).track_ids.tolist() == [7, 3, 9, 7]
    dicts = p.to_coco(image_id=1)
    assert [d["track_id"] for d in dicts] == [7, 3, 9]
    assert PoseInstances.from_coco(dicts, 17).track_ids.tolist() == [7, 3, 9]
    assert "track_id" not in _people().to_coco(1)[0]  # untracked people: no key
    with pytest.raises(ValueError, match="3 people but 2 track_ids"):
        PoseInstances(p.boxes, p.keypoints, p.scores, [1, 2])
    with pytest.raises(ValueError, match="some items have track_ids"):
        PoseInstances.cat([p, _people()])
