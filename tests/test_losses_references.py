"""The losses of the families without an MMPose 1.x trainer, against their reference code.

Each reference formula is written out below from the lines cited, on small tensors, and compared
with the loss posekit's task computes. Keypoint weights are 0/1 throughout (the references
multiply prediction and target by the weight, so the weight enters squared; posekit's enters
once, as MMPose 1.x's; for 0/1 weights they agree).
"""

from __future__ import annotations

import pytest
import torch

from posekit.config import load_config
from posekit.engine.topdown_task import TopDownTask
from posekit.losses import OHKMLoss, masked_l2_loss
from posekit.models.cpn import opencv_kernel_sigma

torch.manual_seed(0)


def _maps(b: int, k: int, h: int, w: int) -> torch.Tensor:
    return torch.rand(b, k, h, w)


def bearpaw_joints_mse(output, target, target_weight):
    """bearpaw/pytorch-pose pose/losses/jointsmseloss.py lines 15–39 (commit edc7aec):
    (1/K) Σ_k 0.5 · MSE_mean(pred_k · w_k, gt_k · w_k), the mean over batch and pixels."""
    b, k = output.shape[:2]
    pred, gt = output.reshape(b, k, -1), target.reshape(b, k, -1)
    loss = 0.0
    for j in range(k):
        wj = target_weight[:, j]  # (B, 1)
        loss += 0.5 * torch.nn.functional.mse_loss(pred[:, j] * wj, gt[:, j] * wj)
    return loss / k


def test_hourglass_loss_is_bearpaws_sum_over_stacks_times_two():
    """bearpaw example/main.py lines 197–204: ``loss += criterion(o, target, target_weight)`` for
    every stack's output (weight 1 each). posekit's per-stack loss is MMPose 1.x's, without
    JointsMSELoss's ½: twice bearpaw's, a constant. Weight-0 keypoints count as zeros in both."""
    cfg = load_config("hourglass_8stack_coco_256x192")
    task = TopDownTask(cfg)
    outputs = [_maps(2, 17, 8, 6) for _ in range(cfg.model.kwargs["num_stacks"])]
    target = _maps(2, 17, 8, 6)
    weight = (torch.rand(2, 17) > 0.3).float()
    ref = sum(bearpaw_joints_mse(o, target, weight[..., None]) for o in outputs)
    ours = task.loss_fn(outputs, target, weight)
    assert ours.item() == pytest.approx(2 * ref.item(), rel=1e-6)
    # masking: a weight-0 keypoint's prediction does not matter
    changed = [o.clone() for o in outputs]
    off = int((weight[0] == 0).nonzero()[0])
    changed[-1][0, off] += 5.0
    assert task.loss_fn(changed, target, weight).item() == pytest.approx(ours.item(), rel=1e-6)


def tf_cpn_loss(global_outs, labels, refine_out, label_refine, valids):
    """chenyilun95/tf-cpn models/COCO.res50.256x192.CPN/network.py lines 114–138 (commit 48ea10d):
    global = Σ_l mean((out_l − label_l · [v > 1.1])²) / 4 / 2; refine = OHKM top 8 of
    mean_p (refine − label)² · [v > 0.1] (per sample Σ top-8 / 8, then / batch)."""
    n = len(global_outs)
    global_loss = sum(((o - lab * (valids > 1.1).float()[..., None, None]) ** 2).mean() / n
                      for o, lab in zip(global_outs, labels, strict=True)) / 2.0
    per_kpt = ((refine_out - label_refine) ** 2).mean(dim=(2, 3)) * (valids > 0.1).float()
    refine = torch.stack([row.topk(8).values.sum() / 8 for row in per_kpt]).mean()
    return global_loss, refine


def test_cpn_global_and_refine_losses_are_tf_cpns():
    """posekit's CPN task loss on fixed outputs equals tf-cpn's formula on the same targets;
    ``valids`` are COCO v (0 unlabelled, 1 occluded, 2 visible), all inside the crop."""
    cfg = load_config("cpn_res50_coco_256x192")
    task = TopDownTask(cfg)
    kpts = torch.zeros(2, 17, 3)
    kpts[..., 0] = torch.rand(2, 17) * 150 + 20
    kpts[..., 1] = torch.rand(2, 17) * 200 + 20
    kpts[..., 2] = torch.randint(0, 3, (2, 17)).float()
    targets = [c.encode(kpts[:, None]) for c in [*task.level_codecs, task.codec]]
    outputs = [t.heatmaps + 0.1 * torch.randn_like(t.heatmaps) for t in targets]

    class Fixed(torch.nn.Module):
        def forward(self, x):
            return outputs

    ours = task.loss(Fixed(), {"image": torch.zeros(2, 3, 256, 192), "keypoints": kpts},
                     torch.device("cpu"))
    ref_global, ref_refine = tf_cpn_loss(outputs[:-1], [t.heatmaps for t in targets[:-1]],
                                         outputs[-1], targets[-1].heatmaps, kpts[..., 2])
    assert ours["loss_levels"].item() == pytest.approx(ref_global.item(), rel=1e-5)
    assert ours["loss_final"].item() == pytest.approx(ref_refine.item(), rel=1e-5)
    assert isinstance(task.loss_fn.stage_loss, OHKMLoss) and task.loss_fn.stage_loss.topk == 8


def test_cpn_256x192_target_widths_are_tf_cpns_kernels():
    """tf-cpn models/COCO.res50.256x192.CPN/config.py lines 75–78: gk15/11/9/7 = (15, 15),
    (11, 11), (9, 9), (7, 7), blurred by cv2.GaussianBlur(·, k, 0) (dataset.py line 148); the
    refine target is label7 (network.py line 132)."""
    cfg = load_config("cpn_res50_coco_256x192")
    kernels = [15, 11, 9, 7]
    assert list(cfg.codec.level_sigmas) == pytest.approx(
        [round(opencv_kernel_sigma(k), 1) for k in kernels])
    assert cfg.codec.sigma == pytest.approx(round(opencv_kernel_sigma(7), 1))


def cmu_euclidean(pred, label, weight):
    """Caffe's EuclideanLoss as CMU's pose_train_test.prototxt applies it (ZheC/Realtime_Multi-
    Person_Pose_Estimation training/example_proto/pose_train_test.prototxt lines 27–60 and
    804–838, commit de8d698): 1/(2N) Σ (pred · W − label · W)², N the batch, per stage and
    branch, loss_weight 1 each, 6 stages × (L1 PAFs, L2 confidence maps)."""
    return ((pred * weight - label * weight) ** 2).sum() / (2 * pred.shape[0])


def test_openpose_loss_is_cmus_up_to_a_constant():
    """posekit's masked L2 = CMU's loss / (H·W/2) for any PAF / map split: the two branches weigh
    as in CMU's training."""
    b, h, w = 2, 5, 4
    pafs, heatmaps = torch.randn(b, 38, h, w), torch.rand(b, 19, h, w)
    mask = (torch.rand(b, h, w) > 0.2).float()
    paf_stages = [torch.randn(b, 38, h, w) for _ in range(6)]
    hm_stages = [torch.rand(b, 19, h, w) for _ in range(6)]
    ref = sum(cmu_euclidean(p, pafs, mask[:, None]) + cmu_euclidean(s, heatmaps, mask[:, None])
              for p, s in zip(paf_stages, hm_stages, strict=True))
    ours = masked_l2_loss((paf_stages, hm_stages), pafs, heatmaps, mask)
    assert ours.item() == pytest.approx(ref.item() / (h * w / 2), rel=1e-5)
    # a masked pixel's prediction does not matter
    ys, xs = (mask[0] == 0).nonzero()[0]
    paf_stages[0][0, :, ys, xs] += 3.0
    changed = masked_l2_loss((paf_stages, hm_stages), pafs, heatmaps, mask)
    assert changed.item() == pytest.approx(ours.item(), rel=1e-6)
