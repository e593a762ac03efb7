"""Bottom-up pipeline: exact flip of maps, oracle-network round trip, scales, CMU preprocessing."""

import numpy as np
import pytest
import torch

from posekit.codecs.paf import PafCodec
from posekit.grouping.scenes import random_people, render_maps
from posekit.pipelines.bottomup import BottomUp, flip_maps, paf_flip_table, preprocess_image
from posekit.skeletons import COCO17, OPENPOSE18, convert_keypoints


def _mirror(people: np.ndarray, width: int) -> np.ndarray:
    out = people[:, OPENPOSE18.flip_indices].copy()
    out[..., 0] = np.where(out[..., 2] > 0, width - 1 - out[..., 0], 0)
    return out


def test_flip_maps_undoes_mirroring_exactly():
    size = (96, 80)
    people = random_people(2, size, np.random.default_rng(4))
    hm, paf = render_maps(people, size)
    hm_m, paf_m = render_maps(_mirror(people, size[0]), size)
    fh, fp = flip_maps(torch.from_numpy(hm_m)[None], torch.from_numpy(paf_m)[None], OPENPOSE18)
    np.testing.assert_allclose(fh[0].numpy(), hm, atol=1e-6)
    np.testing.assert_allclose(fp[0].numpy(), paf, atol=1e-6)


def test_paf_flip_table_swaps_mirror_limbs_and_negates_x():
    perm, sign = paf_flip_table(OPENPOSE18)
    order = OPENPOSE18.paf_channel_order
    c_r, c_l = order[0], order[1]  # limbs (neck, r_sho) and (neck, l_sho)
    assert perm[2 * c_r] == 2 * c_l and perm[2 * c_r + 1] == 2 * c_l + 1
    c_nose = order[12]  # (neck, nose) is its own mirror
    assert perm[2 * c_nose] == 2 * c_nose
    assert sign[::2] == [-1.0] * 19 and sign[1::2] == [1.0] * 19


class Oracle:
    """A perfect network for one known image: renders the maps of its people at stride 8."""

    def __init__(self, people: np.ndarray, image_hw: tuple[int, int]) -> None:
        self.people, self.h = people, image_hw[0]
        self.calls = []

    def __call__(self, batch: torch.Tensor):
        _, _, hh, ww = batch.shape
        f = hh / self.h  # tests use heights whose resize needs no padding
        self.calls.append((hh, ww, batch.shape[0]))
        codec = PafCodec((ww // 8, hh // 8), stride=8, sigma=1.0, limb_width=0.7)
        scaled = self.people.copy()
        scaled[..., :2] = (scaled[..., :2] + 0.5) * f - 0.5
        outs = []
        for b in range(batch.shape[0]):
            p = scaled if b == 0 else _mirror(scaled, ww)
            t = codec.encode(p)
            outs.append((t.heatmaps, t.pafs))
        hm = torch.from_numpy(np.stack([o[0] for o in outs]))
        paf = torch.from_numpy(np.stack([o[1] for o in outs]))
        return hm, paf


@pytest.mark.parametrize("flip,scales", [(False, (1.0,)), (True, (1.0,)), (False, (1.0, 0.5))])
def test_oracle_round_trip(flip, scales):
    h, w = 208, 256
    people = random_people(3, (w, 192), np.random.default_rng(7))
    people[..., 1] += 16  # away from the top border, where upsampled maps are clamped
    oracle = Oracle(people, (h, w))
    pipe = BottomUp(oracle, input_height=208, flip_test=flip, scales=scales)
    found = pipe(np.zeros((h, w, 3), np.uint8))
    assert set(pipe.timing) == {"preprocess", "network", "decode", "grouping"}
    assert len(found) == 3
    gt = convert_keypoints(people, OPENPOSE18, COCO17)
    pred = found.keypoints.data.numpy()
    for g in gt:  # every person found: ≥ 12 of its parts, all within 3 px
        best = min(pred, key=lambda p: np.abs(p[:, :2] - g[:, :2]).sum())
        found_parts = best[:, 2] > 0
        assert found_parts.sum() >= 12
        assert np.abs(best[found_parts, :2] - g[found_parts, :2]).max() < 3.0
    if len(scales) == 2:
        assert [c[0] for c in oracle.calls] == [208, 104]
    if flip:
        assert all(c[2] == 2 for c in oracle.calls)  # the batch held image and mirror


def test_resize_and_pad_to_stride_keeps_aspect():
    seen = []

    def net(x):
        seen.append(tuple(x.shape))
        return torch.zeros(x.shape[0], 19, x.shape[2] // 8, x.shape[3] // 8), torch.zeros(
            x.shape[0], 38, x.shape[2] // 8, x.shape[3] // 8)

    pipe = BottomUp(net, input_height=100)
    hm, paf = pipe.maps(np.zeros((50, 130, 3), np.uint8))
    assert seen == [(1, 3, 104, 264)]  # 100 × 260 padded to multiples of 8
    assert hm.shape == (19, 50, 130) and paf.shape == (38, 50, 130)


def test_cmu_preprocessing():
    img = np.full((2, 2, 3), (0, 128, 255), np.uint8)
    x = preprocess_image(img, "cmu")
    assert torch.allclose(x[:, 0, 0], torch.tensor([-0.5, 0.0, 255 / 256 - 0.5]))  # BGR kept
    with pytest.raises(ValueError, match="preprocess"):
        preprocess_image(img, "caffe")


@pytest.mark.parametrize("rh,rw,h,w", [
    (104, 256, 104, 256),  # the input had the image's size: one resize, no padding
    (100, 260, 50, 130),  # padded to 104 × 264, then downscaled to the image
    (100, 260, 150, 390),  # padded, then upscaled
])
def test_maps_to_image_equal_torch_bilinear(rh, rw, h, w):
    """The imagenet preset's OpenCV decode is F.interpolate's bilinear (half-pixel centres):
    ×stride, crop, resize. (The cmu preset's bicubic decode is tested end to end against
    pytorch-openpose in test_bottomup_pytorch_openpose.py.)"""
    maps = torch.rand(1, 5, -(-rh // 8), -(-rw // 8), generator=torch.Generator().manual_seed(0))
    up = torch.nn.functional.interpolate(maps, scale_factor=8, mode="bilinear",
                                         align_corners=False)[..., :rh, :rw]
    want = torch.nn.functional.interpolate(up, size=(h, w), mode="bilinear",
                                           align_corners=False)[0].numpy()
    got = BottomUp(lambda x: x, input_height=rh, preprocess="imagenet")._to_image(
        maps, rh, rw, h, w)
    assert got.shape == (5, h, w) and got.dtype == np.float32
    # float32 source coordinates rounded differently (≤ 2.4e-6 seen at 1.5×); a wrong pixel
    # centre convention, crop or size errs by > 1e-2
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_maps_are_the_mean_over_scales():
    def net(x):  # constant maps: 1 at the full input height, 3 at half of it
        v = 1.0 if x.shape[2] == 104 else 3.0
        hh, ww = x.shape[2] // 8, x.shape[3] // 8
        return torch.full((1, 19, hh, ww), v), torch.full((1, 38, hh, ww), -v)

    hm, paf = BottomUp(net, input_height=104, scales=(1.0, 0.5)).maps(
        np.zeros((52, 128, 3), np.uint8))
    np.testing.assert_allclose(hm, 2.0, rtol=1e-6)
    np.testing.assert_allclose(paf, -2.0, rtol=1e-6)
    hm, _ = BottomUp(net, input_height=104).maps(np.zeros((52, 128, 3), np.uint8))
    np.testing.assert_array_equal(hm, 1.0)
