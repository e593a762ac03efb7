"""to_coco writes bbox as x, y, w, h (mutation audit: the old test's box started at
the origin, where xyxy and xywh agree)."""

import torch

from posekit.structures import Keypoints, PoseInstances


def test_to_coco_bbox_is_xywh_for_a_box_away_from_the_origin():
    boxes = torch.tensor([[10.0, 20.0, 50.0, 80.0], [3.5, 4.0, 4.5, 10.0]])  # xyxy
    kpts = Keypoints(torch.zeros(2, 17, 3))
    people = PoseInstances(boxes, kpts, torch.tensor([0.9, 0.5]))
    out = people.to_coco(image_id=3)
    assert [r["bbox"] for r in out] == [[10.0, 20.0, 40.0, 60.0], [3.5, 4.0, 1.0, 6.0]]
    back = PoseInstances.from_coco(out, 17)
    torch.testing.assert_close(back.boxes, boxes)
