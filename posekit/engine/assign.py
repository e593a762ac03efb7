"""Dynamic label assignment for the one-stage family: SimOTA with a pose (OKS) term in the cost.

For one image with N anchor points and G people (RTMO; YOLOX's SimOTA extended with OKS,
REFERENCE.md "SimOTA assignment with OKS in the cost"):

1. candidates: anchors whose centre lies inside a GT box or within ``center_radius`` strides
   of the person's centre (the mean of its labelled keypoints, as MMPose's RTMO with
   ``use_keypoints_for_center``; the box centre when none is labelled); anchors in neither
   never become positive;
2. cost(n, g) = cls_w·(−log score_n) + iou_w·(−log IoU_ng) + oks_w·(−log OKS_ng)
   + 1e5 for anchors not both inside the box and near the centre;
3. each person takes its k lowest-cost anchors with k = max(1, ⌊Σ top-q OKS_ng⌋) (dynamic k,
   indicated by OKS);
4. an anchor claimed by several people keeps only the cheapest.

Everything runs without gradients on detached predictions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from posekit.losses import keypoint_oks

__all__ = ["SimOTAAssigner", "pairwise_iou"]


def pairwise_iou(a: Tensor, b: Tensor, eps: float = 1e-9) -> Tensor:
    """IoU of every xyxy box in a (N, 4) with every box in b (G, 4) → (N, G)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter + eps)


class SimOTAAssigner:
    """SimOTA with OKS. ``assign(...)`` returns (gt index per anchor, −1 = negative; (N,) long)."""

    def __init__(self, sigmas: Tensor, *, center_radius: float = 2.5, candidate_topk: int = 10,
                 cls_weight: float = 1.0, iou_weight: float = 3.0, oks_weight: float = 3.0
                 ) -> None:
        self.sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.cls_weight = cls_weight
        self.iou_weight = iou_weight
        self.oks_weight = oks_weight

    @torch.no_grad()
    def assign(self, priors: Tensor, scores: Tensor, boxes: Tensor, keypoints: Tensor,
               gt_boxes: Tensor, gt_keypoints: Tensor, gt_areas: Tensor) -> Tensor:
        """priors (N, 3) x, y, stride; scores (N,) probabilities; boxes (N, 4) xyxy; keypoints
        (N, K, 2); gt_boxes (G, 4) xyxy; gt_keypoints (G, K, 3) with v; gt_areas (G,)."""
        n, g = priors.shape[0], gt_boxes.shape[0]
        assigned = torch.full((n,), -1, dtype=torch.long, device=priors.device)
        if g == 0 or n == 0:
            return assigned
        xy, stride = priors[:, :2], priors[:, 2:3]
        in_box = ((xy[:, None] > gt_boxes[None, :, :2]) & (xy[:, None] < gt_boxes[None, :, 2:])
                  ).all(-1)  # (N, G)
        labelled = (gt_keypoints[..., 2] > 0).float()  # (G, K)
        count = labelled.sum(1, keepdim=True)  # (G, 1)
        kpt_centre = (gt_keypoints[..., :2] * labelled[..., None]).sum(1) / count.clamp(min=1)
        centre = torch.where(count > 0, kpt_centre, (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2)
        radius = self.center_radius * stride  # (N, 1)
        in_centre = ((xy[:, None] - centre[None]).abs() < radius[:, :, None]).all(-1)  # (N, G)
        candidate = (in_box | in_centre).any(1)  # (N,)
        idx = candidate.nonzero().squeeze(1)
        if idx.numel() == 0:
            return assigned
        m = idx.numel()
        iou = pairwise_iou(boxes[idx], gt_boxes)  # (m, G)
        weight = (gt_keypoints[..., 2] > 0).float()  # (G, K)
        oks = keypoint_oks(
            keypoints[idx][:, None].expand(m, g, -1, -1).reshape(m * g, -1, 2),
            gt_keypoints[None, :, :, :2].expand(m, g, -1, -1).reshape(m * g, -1, 2),
            weight[None].expand(m, g, -1).reshape(m * g, -1),
            gt_areas[None].expand(m, g).reshape(-1), self.sigmas.to(priors.device),
        ).reshape(m, g)
        p = scores[idx].clamp(1e-6, 1 - 1e-6)[:, None]  # (m, 1)
        cls_cost = -p.log()  # BCE with target 1 (MMPose's SimOTA)
        cost = (self.cls_weight * cls_cost - self.iou_weight * torch.log(iou + 1e-8)
                - self.oks_weight * torch.log(oks + 1e-8)
                + 1e5 * (~(in_box[idx] & in_centre[idx])).float())
        # Dynamic k per person from its best OKS values.
        topk = min(self.candidate_topk, m)
        dynamic_k = oks.topk(topk, dim=0).values.sum(0).int().clamp(min=1)  # (G,)
        matching = torch.zeros_like(cost, dtype=torch.bool)
        for j in range(g):
            k = int(min(dynamic_k[j], m))
            matching[cost[:, j].topk(k, largest=False).indices, j] = True
        multiple = matching.sum(1) > 1
        if multiple.any():
            best = cost[multiple].argmin(1)
            matching[multiple] = False
            matching[multiple.nonzero().squeeze(1), best] = True
        pos = matching.any(1)
        assigned[idx[pos]] = matching[pos].float().argmax(1)
        return assigned
