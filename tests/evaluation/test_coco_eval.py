"""COCO AP/AR: known answers, parity with pycocotools, per-skeleton sigmas, breakdown, CLI."""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.cli import main
from posekit.data.coco import CocoPoseDataset, read_coco_json
from posekit.data.mpii import mpii_to_coco
from posekit.errors import DataWarning
from posekit.evaluation import STAT_NAMES, evaluate_coco, evaluate_files
from posekit.skeletons import AIC14, COCO17, CROWDPOSE14

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
COCO_JSON = REAL / "mmpose_coco" / "test_coco.json"
AIC_JSON = REAL / "mmpose_aic" / "test_aic.json"
MPII_JSON = REAL / "mmpose_mpii" / "test_mpii.json"


def synthetic_gt(people_per_image: list[int], seed: int = 0) -> dict:
    """COCO-17 ground truth with random people: keypoints inside their box, 10 % unlabelled."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for image_id, n in enumerate(people_per_image, start=1):
        images.append({"id": image_id, "file_name": f"{image_id}.jpg", "width": 640,
                       "height": 480})
        for _ in range(n):
            w, h = rng.uniform(60, 200), rng.uniform(120, 300)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            kpts = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17),
                             rng.choice([0, 1, 2], p=[0.1, 0.2, 0.7], size=17)], axis=1)
            kpts[kpts[:, 2] == 0] = 0
            anns.append({"id": len(anns) + 1, "image_id": image_id, "category_id": 1,
                         "keypoints": kpts.reshape(-1).round(2).tolist(),
                         "num_keypoints": int((kpts[:, 2] > 0).sum()),
                         "bbox": [x, y, w, h], "area": w * h * 0.6, "iscrowd": 0})
    category = {"id": 1, "name": "person", "keypoints": list(COCO17.keypoint_names)}
    return {"images": images, "annotations": anns, "categories": [category]}


def as_predictions(gt: dict, noise: float = 0.0, seed: int = 0) -> list[dict]:
    """Each labelled ground-truth person as a result, keypoints jittered by N(0, noise²) px."""
    rng = np.random.default_rng(seed)
    out = []
    for ann in gt["annotations"]:
        if ann.get("num_keypoints", 1) == 0 or ann.get("iscrowd", 0):
            continue
        kpts = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
        kpts[:, :2] += rng.normal(0.0, noise, size=kpts[:, :2].shape) if noise else 0.0
        kpts[:, 2] = 1.0
        out.append({"image_id": ann["image_id"], "category_id": 1,
                    "keypoints": kpts.reshape(-1).tolist(),
                    "score": float(rng.uniform(0.5, 1.0)) if noise else 1.0})
    return out


def direct_pycocotools(gt: COCO, dets: list[dict], sigmas: np.ndarray) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(gt, gt.loadRes(copy.deepcopy(dets)), "keypoints")
        evaluator.params.kpt_oks_sigmas = sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


def test_gt_as_prediction_real_coco_is_perfect():
    gt = json.loads(COCO_JSON.read_text())
    report = evaluate_coco(COCO_JSON, as_predictions(gt))
    assert report.stats == dict.fromkeys(STAT_NAMES, 1.0)
    assert report.pck == {"PCK@0.2": 1.0}
    assert report.format().splitlines()[0] == "AP: 1.000"


def test_dataset_gt_dict_evaluates_like_its_file():
    ds = CocoPoseDataset(AIC_JSON, AIC_JSON.parent)
    dets = as_predictions(json.loads(AIC_JSON.read_text()), noise=4.0, seed=7)
    before = copy.deepcopy(ds.gt_dict)
    report = evaluate_coco(ds.gt_dict, dets, skeleton=ds.skeleton)
    assert report.stats == evaluate_coco(AIC_JSON, dets).stats
    assert ds.gt_dict == before


def test_gt_as_prediction_synthetic_is_perfect():
    gt = synthetic_gt([1, 2, 3, 4, 6, 9])
    report = evaluate_coco(gt, as_predictions(gt))
    assert report.stats["AP"] == 1.0 and report.stats["AR"] == 1.0
    assert report.pck["PCK@0.2"] == 1.0


def test_growing_jitter_lowers_ap_strictly():
    gt = synthetic_gt([1, 2, 3, 4, 5, 6, 7, 8] * 3, seed=1)
    aps = [evaluate_coco(gt, as_predictions(gt, noise=s, seed=2)).stats["AP"]
           for s in (1.0, 3.0, 6.0, 12.0)]
    pcks = [evaluate_coco(gt, as_predictions(gt, noise=s, seed=2)).pck["PCK@0.2"]
            for s in (3.0, 12.0, 30.0)]
    assert all(a > b for a, b in zip(aps, aps[1:], strict=False)), aps
    assert all(a > b for a, b in zip(pcks, pcks[1:], strict=False)), pcks
    assert aps[0] > 0.8 and aps[-1] < 0.6


@pytest.mark.parametrize("with_bbox", [False, True])
def test_equals_direct_pycocotools_call(with_bbox):
    gt = json.loads(COCO_JSON.read_text())
    dets = as_predictions(gt, noise=5.0, seed=3)
    if with_bbox:  # pycocotools then takes the detection area from the box
        for d in dets:
            d["bbox"] = [10.0, 10.0, 100.0, 180.0]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(COCO_JSON))
    expected = direct_pycocotools(coco, dets, COCO17.oks_sigmas())
    report = evaluate_coco(COCO_JSON, dets)
    assert [report.stats[n] for n in STAT_NAMES] == expected
    assert 0.0 < report.stats["AP"] < 1.0


def test_custom_skeleton_sigmas_are_used():
    gt = json.loads(AIC_JSON.read_text())
    dets = as_predictions(gt, noise=4.0, seed=4)
    report = evaluate_coco(AIC_JSON, dets)
    # AIC has no 'area': the validated ground truth fills 0.53 × box area (xtcocotools' rule).
    validated = read_coco_json(AIC_JSON).data
    expected = direct_pycocotools(_coco(validated), dets, AIC14.oks_sigmas())
    assert [report.stats[n] for n in STAT_NAMES] == expected
    other = evaluate_coco(AIC_JSON, dets, sigmas=CROWDPOSE14.sigmas)
    assert other.stats["AP"] > report.stats["AP"]  # CrowdPose's sigmas are ~5× AIC's: laxer
    assert evaluate_coco(AIC_JSON, dets, sigmas=AIC14.sigmas).stats == report.stats


def _coco(data: dict) -> COCO:
    coco = COCO()
    coco.dataset = copy.deepcopy(data)
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def test_unknown_keypoint_set_needs_sigmas():
    gt = synthetic_gt([2, 3])
    names = [f"point_{i}" for i in range(17)]
    gt["categories"][0]["keypoints"] = names
    dets = as_predictions(gt)
    with pytest.raises(ValueError, match="has no OKS sigmas .* pass sigmas="):
        evaluate_coco(gt, dets)
    assert evaluate_coco(gt, dets, sigmas=[0.05] * 17).stats["AP"] == 1.0
    with pytest.raises(ValueError, match="sigmas must be 17 positive numbers"):
        evaluate_coco(gt, dets, sigmas=[0.05] * 16)


def test_empty_results_give_zero_ap(tmp_path):
    report = evaluate_coco(COCO_JSON, [])
    assert report.stats["AP"] == 0.0 and report.stats["AR"] == 0.0
    path = tmp_path / "empty.json"
    path.write_text("[]")
    with pytest.warns(DataWarning, match="holds no results"):  # a file: likely a mistake
        assert evaluate_files(COCO_JSON, path).stats == report.stats
    assert report.pck == {"PCK@0.2": 0.0}


def test_crowd_breakdown_bins():
    # Images with 1, 2, 3, 5, 8 and 0 people, plus a crowd region and an unlabelled person on
    # image 1 that must not move it out of the "1" bin.
    gt = synthetic_gt([1, 2, 3, 5, 8, 0], seed=5)
    extra = copy.deepcopy(gt["annotations"][0])
    gt["annotations"].append(dict(extra, id=1000, iscrowd=1))
    gt["annotations"].append(dict(extra, id=1001, num_keypoints=0, keypoints=[0] * 51))
    dets = [d for d in as_predictions(gt) if d["image_id"] != 5]  # miss the 8-person image
    report = evaluate_coco(gt, dets)
    assert list(report.per_crowd) == ["1", "2-3", "4-6", "7+"]
    counts = {k: (row["images"], row["people"]) for k, row in report.per_crowd.items()}
    assert counts == {"1": (1, 1), "2-3": (2, 5), "4-6": (1, 5), "7+": (1, 8)}
    # pycocotools' precision is tp / (tp + fp + eps): one person scores 1 − 2e-16.
    assert report.per_crowd["1"]["AP"] == pytest.approx(1.0, abs=1e-12)
    assert report.per_crowd["4-6"]["AR"] == 1.0
    assert report.per_crowd["7+"]["AP"] == 0.0 and report.per_crowd["7+"]["AR"] == 0.0
    assert report.stats["AR"] == pytest.approx(11 / 19, abs=1e-9)  # every threshold: 11 of 19

    sparse = evaluate_coco(gt, dets, image_ids=[1, 2])  # only the small bins remain
    assert list(sparse.per_crowd) == ["1", "2-3"]
    assert sparse.stats["AP"] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match=r"image_ids not in annotation dict: \[77\]"):
        evaluate_coco(gt, dets, image_ids=[1, 77])


def test_gt_dict_and_results_are_not_mutated():
    gt = synthetic_gt([2, 2])
    dets = as_predictions(gt, noise=2.0)
    gt_before, dets_before = copy.deepcopy(gt), copy.deepcopy(dets)
    evaluate_coco(gt, dets)
    assert gt == gt_before and dets == dets_before


def test_mpii_pckh_through_the_adapter(tmp_path):
    gt = mpii_to_coco(MPII_JSON)
    perfect = evaluate_coco(gt, as_predictions(gt))
    assert perfect.pck == {"PCK@0.2": 1.0, "PCKh@0.5": 1.0}
    assert perfect.stats["AP"] == 1.0
    noisy = evaluate_coco(gt, as_predictions(gt, noise=40.0, seed=6))
    assert noisy.pck["PCKh@0.5"] < 0.9
    # The CLI path adapts MPII's list json on the fly; ids are the file stems.
    path = tmp_path / "pred.json"
    path.write_text(json.dumps(as_predictions(gt)))
    assert evaluate_files(MPII_JSON, path).pck == perfect.pck


def test_report_json_and_format(tmp_path):
    gt = synthetic_gt([1, 4])
    report = evaluate_coco(gt, as_predictions(gt, noise=3.0))
    lines = report.format().splitlines()
    assert lines[0] == f"AP: {report.stats['AP']:.3f}"
    assert [line.split(":")[0] for line in lines[1:10]] == list(STAT_NAMES[1:])
    assert any(line.startswith("4-6 ") for line in lines)
    out = tmp_path / "sub" / "stats.json"
    report.write_json(out)
    data = json.loads(out.read_text())
    assert {k: data[k] for k in STAT_NAMES} == report.stats
    assert set(data) == set(STAT_NAMES) | {"breakdown", "pck"}
    assert data["breakdown"]["4-6"]["images"] == 1


def test_cli_eval_gt_as_prediction(tmp_path, capsys):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(as_predictions(json.loads(COCO_JSON.read_text()))))
    out = tmp_path / "out.json"
    assert main(["eval", "--gt", str(COCO_JSON), "--pred", str(pred), "--json", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "AP: 1.000"
    data = json.loads(out.read_text())
    assert all(data[k] == 1.0 for k in STAT_NAMES)


def test_cli_eval_bad_results_file(tmp_path, capsys):
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([{"image_id": 785, "keypoints": [0.0] * 51}]))
    assert main(["eval", "--gt", str(COCO_JSON), "--pred", str(pred)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"error: results file {pred}: entry 0 is missing 'score'"
    ]
    pred.write_text(json.dumps([{"image_id": 1, "keypoints": [0.0] * 51, "score": 1}]))
    assert main(["eval", "--gt", str(COCO_JSON), "--pred", str(pred)]) == 2
    assert "image_id 1 is not in the ground truth" in capsys.readouterr().err
    assert main(["eval", "--gt", str(pred), "--pred", str(pred)]) == 2
    assert "are --gt and --pred swapped?" in capsys.readouterr().err
