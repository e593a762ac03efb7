import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posekit.draw import (
    contact_sheet,
    draw_heatmaps,
    draw_pafs,
    draw_people,
    keypoint_colors,
    limb_colors,
    resolve_skeleton,
    save_image,
)
from posekit.skeletons import COCO17, CROWDPOSE14, MPII16, OPENPOSE18
from posekit.structures import Keypoints, PoseInstances
from posekit.viz import show_dataset

COCO_DIR = Path(__file__).parent / "fixtures" / "real" / "mmpose_coco"
BLACK = (0, 0, 0)


def _person(points: dict[int, tuple[float, float, float]], k: int = 17, box=None) -> PoseInstances:
    """One person with the given keypoints (index → x, y, v/conf); the rest unlabelled."""
    kpts = torch.zeros(1, k, 3)
    for j, p in points.items():
        kpts[0, j] = torch.tensor(p)
    box = torch.tensor([box]) if box is not None else torch.zeros(1, 4)
    return PoseInstances(box, Keypoints(kpts), torch.ones(1))


def _seg_dist(px: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of (M, 2) points to segment ab."""
    d = b - a
    t = np.clip(((px - a) @ d) / max(float(d @ d), 1e-9), 0.0, 1.0)
    return np.linalg.norm(px - (a + t[:, None] * d), axis=1)


def _lit(img: np.ndarray) -> np.ndarray:
    return img.max(axis=2) > 0


# -- draw_people -------------------------------------------------------------------------------


def test_draw_people_returns_new_image_and_keeps_input():
    img = np.full((64, 80, 3), 7, dtype=np.uint8)
    before = img.copy()
    p = _person({5: (20, 20, 2), 7: (40, 30, 2)}, box=[10, 10, 50, 50])
    out = draw_people(img, p)
    assert out is not img and out.dtype == np.uint8 and out.shape == img.shape
    np.testing.assert_array_equal(img, before)
    assert (out != img).any()


def test_gt_styles_and_limbs_exact_pixels():
    r, t = 4, 2
    img = np.zeros((120, 160, 3), dtype=np.uint8)
    # left shoulder (5) – left elbow (7) – left wrist (9): v=2, v=2, v=1; right hip (12) v=0.
    pts = {5: (30, 30, 2), 7: (80, 30, 2), 9: (80, 90, 1), 12: (130, 100, 0)}
    out = draw_people(img, _person(pts), draw_boxes=False, radius=r, thickness=t)
    kc, lc = keypoint_colors(COCO17), limb_colors(COCO17)
    # v=2: filled dot in the keypoint's colour at its centre.
    assert tuple(out[30, 30]) == kc[5] and tuple(out[30, 80]) == kc[7]
    # v=1: hollow ring — centre untouched (the limb stops at the ring), ring itself drawn.
    assert tuple(out[90, 80]) == BLACK
    assert tuple(out[90, 80 + r]) != BLACK and tuple(out[90, 80 - r]) != BLACK
    # v=0: nothing anywhere near it.
    assert not _lit(out[95:106, 125:136]).any()
    # Limb 5–7 is drawn in its colour midway; limb 7–9 (to the ring) too.
    assert tuple(out[30, 55]) == lc[COCO17.limbs.index((5, 7))]
    assert tuple(out[60, 80]) == lc[COCO17.limbs.index((7, 9))]
    # Every changed pixel lies within radius + thickness of a drawn point or limb.
    ys, xs = np.nonzero(_lit(out))
    px = np.stack([xs, ys], 1).astype(float)
    a, b, c = np.array([30.0, 30]), np.array([80.0, 30]), np.array([80.0, 90])
    near = np.minimum(_seg_dist(px, a, b), _seg_dist(px, b, c))
    assert near.max() <= r + t


def test_pred_style_respects_threshold():
    img = np.zeros((100, 100, 3), dtype=np.uint8)
    pts = {5: (20, 20, 0.9), 7: (60, 20, 0.25), 9: (60, 70, 0.5)}
    out = draw_people(img, _person(pts), draw_boxes=False, radius=3, thickness=1)
    assert tuple(out[20, 20]) != BLACK and tuple(out[70, 60]) != BLACK
    assert tuple(out[20, 60]) == BLACK  # 0.25 < 0.3
    assert tuple(out[20, 40]) == BLACK and tuple(out[45, 60]) == BLACK  # limbs need both ends
    low = draw_people(img, _person(pts), draw_boxes=False, radius=3, thickness=1, kpt_thresh=0.2)
    assert tuple(low[20, 60]) != BLACK and tuple(low[20, 40]) != BLACK
    # pred points are always filled, even at confidence 1.
    one = draw_people(img, _person({5: (50, 50, 1.0)}), style="pred", draw_boxes=False, radius=4)
    assert tuple(one[50, 50]) != BLACK


def test_auto_style_detection():
    img = np.zeros((60, 60, 3), dtype=np.uint8)
    gt_like = _person({5: (30, 30, 1)})
    pred_like = _person({5: (30, 30, 1), 6: (10, 10, 0.7)})
    kw = dict(draw_boxes=False, radius=4, thickness=1)
    assert tuple(draw_people(img, gt_like, **kw)[30, 30]) == BLACK  # ring
    assert tuple(draw_people(img, pred_like, **kw)[30, 30]) != BLACK  # dot
    assert tuple(draw_people(img, gt_like, style="pred", **kw)[30, 30]) != BLACK


def test_boxes_and_scores():
    img = np.zeros((100, 100, 3), dtype=np.uint8)
    p = _person({5: (50, 50, 2)}, box=[20, 30, 80, 90])
    with_box = draw_people(img, p, thickness=1, radius=2)
    assert tuple(with_box[60, 20]) != BLACK and tuple(with_box[30, 50]) != BLACK
    assert tuple(with_box[60, 50]) == BLACK  # inside the box, away from the point
    no_box = draw_people(img, p, draw_boxes=False, thickness=1, radius=2)
    assert not _lit(no_box[:, :40]).any()
    scored = draw_people(img, p, draw_boxes=False, draw_scores=True, thickness=1, radius=2)
    assert _lit(scored[:30, 15:60]).sum() > 20  # a score tag above the box's top-left corner



def test_track_ids_give_a_tag_and_a_colour_per_id():
    img = np.zeros((100, 200, 3), dtype=np.uint8)
    a, b = [20, 40, 80, 95], [120, 40, 180, 95]
    two = PoseInstances(torch.tensor([a, b], dtype=torch.float32), Keypoints(torch.zeros(2, 17, 3)),
                        torch.ones(2))
    plain = draw_people(img, two, thickness=1)
    tagged = draw_people(img, two, thickness=1, track_ids=[5, 2])
    assert not _lit(plain[:38]).any() and _lit(tagged[:38, 20:60]).sum() > 20  # "id 5" tag
    # Without ids a box's colour follows its index; with ids it follows the id.
    order = torch.tensor([1, 0])
    assert tuple(draw_people(img, two[order], thickness=1)[70, 20]) != tuple(plain[70, 20])
    swapped = draw_people(img, two[order], thickness=1, track_ids=[2, 5])
    assert tuple(swapped[70, 20]) == tuple(tagged[70, 20])
    assert np.array_equal(two.plot(img, thickness=1, track_ids=[5, 2]), tagged)
    tracked = PoseInstances(two.boxes, two.keypoints, two.scores, [5, 2])
    assert np.array_equal(tracked.plot(img, thickness=1), tagged)
    with pytest.raises(ValueError, match="1 track_ids for 2 people"):
        draw_people(img, two, track_ids=[1])

def test_left_right_limbs_differ_in_colour():
    lc = limb_colors(COCO17)
    left, right = lc[COCO17.limbs.index((15, 13))], lc[COCO17.limbs.index((16, 14))]
    assert left != right
    assert len(set(lc)) == len(lc) and len(lc) == len(COCO17.limbs)
    # Left limbs are greenish, right limbs reddish (BGR).
    assert left[1] > left[2] and right[2] > right[1]
    assert len(keypoint_colors(MPII16)) == MPII16.num_keypoints


def test_sizes_scale_with_person_and_image():
    def dot_area(size: int, spread: float) -> int:
        img = np.zeros((size, size, 3), dtype=np.uint8)
        c = size / 2
        p = _person({0: (c, c, 2), 15: (c + spread, c + spread, 2)})  # no limb between 0 and 15
        return int(_lit(draw_people(img, p, draw_boxes=False)[int(c) - 20 : int(c) + 20,
                                                               int(c) - 20 : int(c) + 20]).sum())

    assert dot_area(1280, 600) > dot_area(256, 100) > 0  # bigger image, bigger person
    assert dot_area(1280, 600) > dot_area(1280, 40)  # same image, small person → small dots


def test_skeleton_resolution():
    assert resolve_skeleton(None, 17) is COCO17
    assert resolve_skeleton(None, 16) is MPII16
    assert resolve_skeleton(None, 18) is OPENPOSE18
    assert resolve_skeleton("crowdpose", 14) is CROWDPOSE14
    with pytest.raises(ValueError, match="ambiguous"):
        resolve_skeleton(None, 14)
    with pytest.raises(ValueError, match="no skeleton with 5"):
        resolve_skeleton(None, 5)
    with pytest.raises(ValueError, match="mpii16 has 16 keypoints, people have 17"):
        resolve_skeleton("mpii", 17)


def test_draw_people_other_skeleton_and_plot():
    img = np.zeros((80, 80, 3), dtype=np.uint8)
    p = _person({12: (20, 20, 2), 13: (60, 60, 2)}, k=14)  # crowdpose head_top – neck
    out = draw_people(img, p, "crowdpose", draw_boxes=False, radius=3, thickness=2)
    assert tuple(out[40, 40]) == limb_colors(CROWDPOSE14)[CROWDPOSE14.limbs.index((12, 13))]
    np.testing.assert_array_equal(
        p.plot(img, skeleton="crowdpose", draw_boxes=False, radius=3, thickness=2), out
    )


def test_draw_people_edge_cases():
    img = np.full((40, 50), 9, dtype=np.uint8)  # grayscale is accepted
    out = draw_people(img, PoseInstances.empty(17))
    assert out.shape == (40, 50, 3) and (out == 9).all()
    # Non-finite and far-away points are skipped / clipped without errors.
    p = _person({0: (float("nan"), 5, 2), 5: (1e12, 10, 2), 6: (-1e9, -1e9, 2)})
    draw_people(np.zeros((40, 50, 3), np.uint8), p)
    nobox = PoseInstances(torch.full((1, 4), float("nan")), Keypoints(torch.zeros(1, 17, 3)), [1.0])
    draw_people(np.zeros((40, 50, 3), np.uint8), nobox, draw_scores=True)
    with pytest.raises(ValueError, match="uint8"):
        draw_people(np.zeros((8, 8, 3), np.float32), p)
    with pytest.raises(ValueError, match="style"):
        draw_people(np.zeros((8, 8, 3), np.uint8), p, style="truth")
    with pytest.raises(TypeError, match="PoseInstances"):
        draw_people(np.zeros((8, 8, 3), np.uint8), np.zeros((1, 17, 3)))


# -- heatmaps and PAFs -------------------------------------------------------------------------


def test_heatmap_overlay_peaks_at_heatmap_peak():
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    hm = np.zeros((3, 16, 16), dtype=np.float32)
    yy, xx = np.mgrid[:16, :16]
    hm[1] = np.exp(-((xx - 11) ** 2 + (yy - 4) ** 2) / 8.0)  # peak at cell (x 11, y 4)
    hm[2] = 0.4 * np.exp(-((xx - 3) ** 2 + (yy - 12) ** 2) / 8.0)
    before = hm.copy()
    out = draw_heatmaps(img, hm, alpha=0.5)
    np.testing.assert_array_equal(hm, before)
    # Read the value back by the nearest colour of the (half-weight) JET table.
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[None], cv2.COLORMAP_JET)[0] * 0.5
    value = np.linalg.norm(out[:, :, None].astype(float) - lut, axis=-1).argmin(-1)  # (H, W)
    y, x = np.unravel_index(np.argmax(value), value.shape)
    # Cell (11, 4) is centred on image pixel (45.5, 17.5) at stride 4 (pixel-centre convention).
    assert abs(x - 45.5) <= 1 and abs(y - 17.5) <= 1 and value.max() >= 240
    assert value[0, 0] == 0 and 0.3 * 255 < value[49, 13] < 0.45 * 255  # weaker blob, weaker
    np.testing.assert_allclose(out[0, 0], lut[0], atol=1)
    # alpha = 0 leaves the image; a grey image stays grey where the heat is zero, scaled by 1-a.
    np.testing.assert_array_equal(draw_heatmaps(img + 100, hm, alpha=0.0), img + 100)


def _paf(h=16, w=16, limbs=2, vec=(1.0, 0.0), region=(slice(6, 10), slice(4, 12))):
    paf = np.zeros((limbs, 2, h, w), dtype=np.float32)
    paf[0, 0][region], paf[0, 1][region] = vec
    return paf


def test_paf_arrows_only_in_field_region():
    img = np.zeros((128, 128, 3), dtype=np.uint8)
    paf = _paf()  # limb 0 points +x on cells y 6..9, x 4..11; stride 8
    out = draw_pafs(img, paf, step=2)
    lit = _lit(out)
    ys, xs = np.nonzero(lit)
    assert len(ys) > 50
    # Region in image pixels: x 32..96, y 48..80; arrows are centred on cells, 0.9·step·stride long.
    assert xs.min() >= 32 - 8 and xs.max() <= 96 + 8 and ys.min() >= 48 - 4 and ys.max() <= 80 + 4
    # Coloured as limb 0 (first rainbow hue is pure red in BGR).
    assert (out[lit][:, 2] >= out[lit][:, :2].max(axis=1)).all()
    # (2L, h, w) channel pairs are the same field.
    np.testing.assert_array_equal(draw_pafs(img, paf.reshape(4, 16, 16), step=2), out)
    # Below the magnitude threshold nothing is drawn.
    assert not _lit(draw_pafs(img, paf * 0.05, step=2)).any()


def test_paf_arrow_direction_and_length():
    img = np.zeros((64, 64, 3), dtype=np.uint8)
    full = _paf(8, 8, 1, region=(slice(None), slice(None)))
    out = draw_pafs(img, full, step=8)  # a single arrow at cell (4, 4), centre pixel (35.5, 35.5)
    cols = _lit(out).sum(axis=0)
    xs = np.flatnonzero(cols)
    assert xs.min() >= 35.5 - 0.45 * 64 - 2 and xs.max() <= 35.5 + 0.45 * 64 + 2
    # The head (wider) is at the +x end.
    assert cols[xs.max() - 3 : xs.max() + 1].max() > cols[xs.min() : xs.min() + 4].max()
    half = draw_pafs(img, full * 0.5, step=8)
    assert np.ptp(np.flatnonzero(_lit(half).sum(axis=0))) < np.ptp(xs)


def test_paf_hue_overlay():
    img = np.zeros((128, 128, 3), dtype=np.uint8)
    out = draw_pafs(img, _paf(), mode="hue", alpha=1.0)
    # +x is hue 0 (red); outside the field the image is untouched.
    np.testing.assert_array_equal(out[64, 64], [0, 0, 255])
    assert not _lit(out[:40]).any() and not _lit(out[90:]).any()
    down = draw_pafs(img, _paf(vec=(0.0, 1.0)), mode="hue", alpha=1.0)
    hue = cv2.cvtColor(down[64:65, 64:65], cv2.COLOR_BGR2HSV)[0, 0, 0]
    assert abs(int(hue) - 45) <= 1  # +y (down) is 90°, OpenCV hue 45
    both = draw_pafs(img, _paf(), mode="both", step=2)
    assert _lit(both).sum() > _lit(out).sum() * 0.9


def test_paf_errors():
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"\(2L, h, w\)"):
        draw_pafs(img, np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="19 limbs, pafs have 2"):
        draw_pafs(img, _paf(8, 8), skeleton="openpose")
    with pytest.raises(ValueError, match="mode"):
        draw_pafs(img, _paf(8, 8), mode="quiver")


# -- contact sheet and files -------------------------------------------------------------------


@pytest.mark.parametrize(("n", "ncols", "shape"), [(5, 2, (3, 2)), (5, None, (2, 3)),
                                                   (1, None, (1, 1)), (4, 4, (1, 4))])
def test_contact_sheet_size(n, ncols, shape):
    imgs = [np.full((30 + i, 50, 3), 200, np.uint8) for i in range(n)]
    sheet = contact_sheet(imgs, ncols=ncols, cell=40)
    assert sheet.shape == (shape[0] * 40, shape[1] * 40, 3) and sheet.dtype == np.uint8


def test_contact_sheet_letterbox_and_labels():
    wide = np.full((100, 200, 3), 255, np.uint8)
    sheet = contact_sheet([wide, wide], ncols=2, cell=64)
    white = (sheet[:, :64] == 255).all(axis=2)
    ys, xs = np.nonzero(white)
    # 60×60 usable area (2-pixel margin): the 2:1 image becomes 60×30, centred.
    assert np.ptp(xs) + 1 == 60 and np.ptp(ys) + 1 == 30 and abs(ys.mean() - 31.5) <= 1
    labelled = contact_sheet([wide, wide], ncols=2, cell=64, labels=["a", "a very long label"])
    assert (labelled[:20] != sheet[:20]).any() and (labelled[40:] == sheet[40:]).all()
    with pytest.raises(ValueError, match="1 labels for 2 images"):
        contact_sheet([wide, wide], labels=["x"])
    with pytest.raises(ValueError, match="at least one image"):
        contact_sheet([])


def test_save_image_round_trip(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    path = save_image(tmp_path / "a" / "b" / "x.png", img)
    assert path.exists()
    np.testing.assert_array_equal(cv2.imread(str(path)), img)
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError, match="could not write image"):
        save_image(tmp_path / "file" / "x.png", img)
    with pytest.raises(ValueError, match="suffix"):
        save_image(tmp_path / "noext", img)


# -- show_dataset ------------------------------------------------------------------------------


@pytest.fixture
def coco_layout(tmp_path):
    """The real COCO sample arranged as images/val/*.jpg + annotations/person_keypoints_val.json."""
    (tmp_path / "images" / "val").mkdir(parents=True)
    (tmp_path / "annotations").mkdir()
    for jpg in COCO_DIR.glob("*.jpg"):
        shutil.copy(jpg, tmp_path / "images" / "val" / jpg.name)
    shutil.copy(COCO_DIR / "test_coco.json", tmp_path / "annotations" / "person_keypoints_val.json")
    return tmp_path


def test_show_dataset_ground_truth(coco_layout, tmp_path):
    out = show_dataset(coco_layout, split="val", out=tmp_path / "s" / "sheet.png", num=3, seed=1)
    sheet = cv2.imread(str(out))
    assert sheet.shape == (2 * 320, 2 * 320, 3)  # 3 images → 2 × 2 cells
    assert not (sheet[320:, 320:] != 24).any()  # the fourth cell is empty
    again = show_dataset(coco_layout, out=tmp_path / "again.png", num=3, seed=1)
    np.testing.assert_array_equal(cv2.imread(str(again)), sheet)
    other = show_dataset(coco_layout, out=tmp_path / "other.png", num=3, seed=5)
    assert cv2.imread(str(other)).shape == sheet.shape


def test_show_dataset_with_predictions(coco_layout, tmp_path):
    gt = json.loads((coco_layout / "annotations" / "person_keypoints_val.json").read_text())
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"],
         "score": 0.9, "bbox": a["bbox"]}
        for a in gt["annotations"] if a["num_keypoints"] > 0
    ]  # fmt: skip
    pred = tmp_path / "results.json"
    pred.write_text(json.dumps(results))
    out = show_dataset(coco_layout, out=tmp_path / "pred.png", pred=pred, num=16, cell=128)
    sheet = cv2.imread(str(out))
    assert sheet.shape == (2 * 128, 4 * 128, 3)  # 4 images × (gt, pred), pairs in one row
    # Ground truth and a prediction equal to it draw the same people: cells look alike.
    gt_cell, pred_cell = sheet[20:128, :128].astype(int), sheet[20:128, 128:256].astype(int)
    assert np.abs(gt_cell - pred_cell).mean() < 10
    # A results file for other images is refused with the entry named.
    pred.write_text(json.dumps([dict(results[0], image_id=123456789)]))
    with pytest.raises(ValueError, match="image_id 123456789"):
        show_dataset(coco_layout, out=tmp_path / "bad.png", pred=pred)
