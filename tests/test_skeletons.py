import numpy as np
import pytest

from posekit.skeletons import (
    AIC14,
    COCO17,
    CROWDPOSE14,
    MPII16,
    OPENPOSE18,
    POSETRACK18,
    SKELETONS,
    conversion_table,
    convert_keypoints,
    get_skeleton,
)


@pytest.mark.parametrize("skeleton", list(SKELETONS.values()), ids=lambda s: s.name)
def test_flip_pairs_mirror_names(skeleton):
    """Every flip pair is a left/right twin by name, and the flip permutation is an involution."""
    for a, b in skeleton.flip_pairs:
        na, nb = skeleton.keypoint_names[a], skeleton.keypoint_names[b]
        assert na.replace("left", "X").replace("right", "X") == nb.replace("left", "X").replace(
            "right", "X"
        )
        assert {na.split("_")[0], nb.split("_")[0]} == {"left", "right"}
    perm = skeleton.flip_indices
    assert [perm[i] for i in perm] == list(range(skeleton.num_keypoints))
    # Every left_/right_ keypoint is paired.
    sided = [i for i, n in enumerate(skeleton.keypoint_names) if n.startswith(("left_", "right_"))]
    assert sorted(i for p in skeleton.flip_pairs for i in p) == sorted(sided)


def test_coco17_matches_reference():
    assert COCO17.keypoint_names[0] == "nose" and COCO17.keypoint_names[16] == "right_ankle"
    assert COCO17.sigmas[11] == 0.107 and len(COCO17.limbs) == 19
    assert COCO17.flip_pairs[0] == (1, 2)


def test_openpose18_limbs_and_neck():
    assert OPENPOSE18.keypoint_names[1] == "neck" and len(OPENPOSE18.limbs) == 19
    assert OPENPOSE18.limbs[-2:] == ((2, 16), (5, 17))  # redundant shoulder→ear links
    assert OPENPOSE18.num_keypoints == 18
    # CMU's PAF channels are ordered by pytorch-openpose's mapIdx (x channel − 19), not by limb.
    map_idx_x = (31, 39, 33, 35, 41, 43, 19, 21, 23, 25, 27, 29, 47, 49, 53, 51, 55, 37, 45)
    assert OPENPOSE18.paf_channel_order == tuple((m - 19) // 2 for m in map_idx_x)
    assert COCO17.paf_channel_order == tuple(range(19))


@pytest.mark.parametrize(
    "skeleton,k", [(MPII16, 16), (CROWDPOSE14, 14), (AIC14, 14), (POSETRACK18, 17)]
)
def test_sizes_and_sigmas(skeleton, k):
    assert skeleton.num_keypoints == k
    assert skeleton.oks_sigmas().shape == (k,)


def test_get_skeleton_aliases_and_error():
    assert get_skeleton("ochuman") is COCO17
    assert get_skeleton("MPII") is MPII16
    with pytest.raises(ValueError, match="unknown skeleton 'foo'"):
        get_skeleton("foo")


def test_coco_to_openpose_neck_is_shoulder_midpoint():
    k = np.zeros((2, 17, 3), np.float32)
    k[:, 5] = (10, 20, 2)
    k[:, 6] = (30, 40, 1)
    k[1, 6, 2] = 0  # second person: right shoulder unlabelled → no neck
    out = convert_keypoints(k, COCO17, OPENPOSE18)
    np.testing.assert_allclose(out[0, 1], (20, 30, 1))
    np.testing.assert_allclose(out[1, 1], (0, 0, 0))
    # Round trip OpenPose → COCO recovers the COCO points (neck dropped).
    back = convert_keypoints(out, OPENPOSE18, COCO17)
    np.testing.assert_allclose(back, k)


def test_mpii_to_coco_table():
    table = conversion_table(MPII16, COCO17)
    assert table[COCO17.index("right_ankle")] == (MPII16.index("right_ankle"),)
    assert table[COCO17.index("nose")] == ()
    with pytest.raises(ValueError, match=r"\(N, 16, 3\)"):
        convert_keypoints(np.zeros((1, 17, 3)), MPII16, COCO17)
