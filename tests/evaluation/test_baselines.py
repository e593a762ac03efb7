"""MeanPose known answer (mutation audit: fitted in the wrong frame, test accepted AP 0).

Every person has the same pose relative to their box and every box the same aspect ratio, at
different places and sizes: in the crop frame all poses coincide, so the mean pose placed in
each box must reproduce every person exactly (AP 1).
"""

import numpy as np

from posekit.data.coco import CocoPoseDataset
from posekit.evaluation import evaluate_coco
from posekit.evaluation.baselines import MeanPose
from posekit.skeletons import COCO17


def _dataset(tmp_path) -> CocoPoseDataset:
    rng = np.random.default_rng(0)
    template = rng.uniform(0.1, 0.9, size=(17, 2))  # pose in box units
    boxes = [(10, 20, 40, 100), (150, 30, 60, 150), (70, 160, 24, 60), (300, 250, 80, 200)]
    images, anns = [], []
    for i, (x, y, w, h) in enumerate(boxes):
        kp = np.concatenate([template * [w, h] + [x, y], np.full((17, 1), 2.0)], axis=1)
        images.append({"id": i + 1, "file_name": f"{i}.jpg", "width": 640, "height": 480})
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": [x, y, w, h],
                     "keypoints": kp.ravel().tolist(), "area": float(w * h), "iscrowd": 0})
    gt = {"images": images, "annotations": anns,
          "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoint_names)}]}
    return CocoPoseDataset(gt, tmp_path, check_images=False)


def test_mean_pose_in_the_crop_frame_reproduces_identical_poses(tmp_path):
    coco = _dataset(tmp_path)
    baseline = MeanPose((48, 64)).fit(coco)  # input aspect 0.75, boxes 0.4: the aspect fix acts
    results = baseline.predict(coco)
    assert len(results) == 4
    for r in results:
        gt = next(p for p in coco.records if p.image_id == r["image_id"]).people[0]
        np.testing.assert_allclose(np.reshape(r["keypoints"], (17, 3))[:, :2],
                                   gt.keypoints[:, :2], atol=2e-3)
    assert evaluate_coco(coco.gt_dict, results, skeleton=COCO17).stats["AP"] == 1.0
