"""RTMO's training loss (Lu et al., CVPR 2024): SimOTA label assignment with an OKS cost, and the
weighted sum of the losses with its two phases. The network is `posekit.models.rtmo`; the single
losses are in `posekit.losses`, the OKS in `posekit.oks`.

Assignment (`SimOTAAssigner`), per image with N anchor points and G people (YOLOX's SimOTA with
an OKS term, as MMPose's RTMO):

1. candidates: anchors whose centre lies inside a GT box or within ``center_radius`` strides
   of the person's centre (the mean of its labelled keypoints, as MMPose's RTMO with
   ``use_keypoints_for_center``; the box centre when none is labelled); anchors in neither
   never become positive;
2. cost(n, g) = cls_w·(−log √score_n) + iou_w·(−log IoU_ng) + oks_w·(−log OKS_ng)
   + 1e5 for anchors not both inside the box and near the centre;
3. each person takes its k lowest-cost anchors with k = max(1, ⌊Σ top-q OKS_ng⌋) (dynamic k,
   indicated by OKS);
4. an anchor claimed by several people keeps only the cheapest.

Everything in the assignment runs without gradients on detached predictions.

Loss (`RTMOCriterion`), with the weights of MMPose's released RTMO configs: varifocal
classification with OKS-aware targets OKS^0.5 (cls 1), IoU (5), OKS on the proxy keypoints (30),
visibility BCE (1), MLE on the DCC (1; mean over instances × K) and, from ``aux_epoch`` on
(MMPose: the last 20 of 600 epochs), L1 on the box deltas (1), the sums normalised by #positives.
The returned terms carry MMPose's names (``loss_bbox`` is the IoU loss, ``loss_bbox_aux`` the L1).
From ``stage2_epoch`` on (MMPose: epoch 280 of 600) the second
phase ("proxy_target_cc") trains the proxy keypoints towards the DCC's where the DCC is closer to
the GT, takes the classification target from the DCC keypoints' OKS, and reweights MLE 5 / OKS 10.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from posekit.losses import (
    box_iou_pairs,
    iou_loss,
    mle_coordinate_loss,
    oks_loss,
    varifocal_loss,
    visibility_bce_loss,
)
from posekit.models.rtmo import RTMO, RTMOOutput
from posekit.oks import keypoint_oks

__all__ = ["LOSS_NAMES", "MMPOSE_NAMES", "RTMOCriterion", "SimOTAAssigner", "unlabelled_weight"]

LOSS_NAMES = ("cls", "iou", "oks", "vis", "mle", "l1")
# The name of each term in the returned dict (and the logs): MMPose's RTMOHead.loss keys.
MMPOSE_NAMES = {"cls": "loss_cls", "iou": "loss_bbox", "oks": "loss_oks", "vis": "loss_vis",
                "mle": "loss_mle", "l1": "loss_bbox_aux"}


class SimOTAAssigner:
    """SimOTA with OKS. ``assign(...)`` returns (gt index per anchor, −1 = negative; (N,) long)."""

    def __init__(self, sigmas: Tensor, *, center_radius: float = 2.5, candidate_topk: int = 10,
                 cls_weight: float = 1.0, iou_weight: float = 3.0, oks_weight: float = 3.0,
                 keypoints_for_center: bool = True) -> None:
        self.sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
        self.keypoints_for_center = keypoints_for_center  # False: box centres (RTMO-m/l)
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
        box_centre = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
        use_kpts = (count > 0) & self.keypoints_for_center
        centre = torch.where(use_kpts, kpt_centre, box_centre)
        radius = self.center_radius * stride  # (N, 1)
        in_centre = ((xy[:, None] - centre[None]).abs() < radius[:, :, None]).all(-1)  # (N, G)
        candidate = (in_box | in_centre).any(1)  # (N,)
        idx = candidate.nonzero().squeeze(1)
        if idx.numel() == 0:
            return assigned
        m = idx.numel()
        iou = box_iou_pairs(boxes[idx][:, None], gt_boxes[None])  # (m, G), every pair
        oks = keypoint_oks(
            keypoints[idx][:, None].expand(m, g, -1, -1).reshape(m * g, -1, 2),
            gt_keypoints[None, :, :, :2].expand(m, g, -1, -1).reshape(m * g, -1, 2),
            labelled[None].expand(m, g, -1).reshape(m * g, -1),
            gt_areas[None].expand(m, g).reshape(-1), self.sigmas.to(priors.device),
        ).reshape(m, g)
        # BCE with target 1, its log clamped at −100 as torch's (MMPose's SimOTA)
        cls_cost = -scores[idx].log().clamp(min=-100)[:, None]  # (m, 1)
        cost = (self.cls_weight * cls_cost - self.iou_weight * torch.log(iou + 1e-7)
                - self.oks_weight * torch.log(oks + 1e-7)
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


def unlabelled_weight(invalid: Tensor, keypoints: Tensor, vis_logits: Tensor) -> Tensor:
    """(N,) classification weights of one image: 1 − the ``invalid`` (H, W) mask, bilinearly
    sampled at each location's mean proxy keypoint over the keypoints it sees (σ(vis) > 0.3).

    MMPose's YOLOXPoseHead._get_targets_single, to the letter: it maps pixels to the sampling
    grid with the width, (x / (W − 1)) · 2 − 1, under ``grid_sample``'s default
    align_corners=False. All ones when the mask is empty.
    """
    if not bool((invalid != 0).any()):
        return keypoints.new_ones(keypoints.shape[0])
    seen = (vis_logits.clamp(-1e4, 1e4).sigmoid() > 0.3).float()[..., None]  # (N, K, 1)
    mean = (keypoints * seen).sum(1) / seen.sum(1).clamp(min=1e-8)  # (N, 2)
    grid = (mean / (invalid.shape[-1] - 1) * 2 - 1).reshape(1, -1, 1, 2)
    sampled = F.grid_sample(invalid[None, None].to(mean.dtype), grid, mode="bilinear",
                            padding_mode="zeros", align_corners=False)
    return 1 - sampled.reshape(-1)


class RTMOCriterion:
    """Assigns anchors to people and returns the weighted RTMO loss of one batch.

    Args:
        sigmas: (K,) OKS sigmas of the skeleton (assignment cost, OKS loss, cls targets).
        loss_weights: weight of each of `LOSS_NAMES` in the first phase.
        stage2_loss_weights: weights that replace those from ``stage2_epoch`` on.
        stage2_epoch: first epoch of the second (proxy_target_cc) phase; negative = never.
        overlaps_power: a positive's classification target is OKS ** power.
        stage2_overlaps_power: the power from ``stage2_epoch`` on; negative = ``overlaps_power``
            (MMPose's RTMO-m/l switch to 1.0).
        keypoints_for_center: SimOTA's centre prior at the labelled keypoints' mean (RTMO-s)
            or at the box centre (RTMO-m/l).
        aux_epoch: first epoch of the L1 box-delta loss; negative = never.
    """

    def __init__(self, sigmas: Tensor, *, loss_weights: Mapping[str, float],
                 stage2_loss_weights: Mapping[str, float] | None = None, stage2_epoch: int = -1,
                 overlaps_power: float = 0.5, stage2_overlaps_power: float = -1.0,
                 keypoints_for_center: bool = True, aux_epoch: int = -1) -> None:
        stage2_loss_weights = dict(stage2_loss_weights or {})
        for name, weights in (("loss_weights", loss_weights),
                              ("stage2_loss_weights", stage2_loss_weights)):
            unknown = set(weights) - set(LOSS_NAMES)
            if unknown:
                raise ValueError(f"{name}: unknown loss {sorted(unknown)}; "
                                 f"known: {', '.join(LOSS_NAMES)}")
        missing = set(LOSS_NAMES) - set(loss_weights)
        if missing:
            raise ValueError(f"loss_weights: missing {sorted(missing)}")
        self.sigmas = torch.as_tensor(sigmas, dtype=torch.float32)
        self.assigner = SimOTAAssigner(self.sigmas, keypoints_for_center=keypoints_for_center)
        self.stage1_weights = dict(loss_weights)
        self.stage2_weights = {**loss_weights, **stage2_loss_weights}
        self.stage2_epoch = stage2_epoch
        self.stage1_power = overlaps_power
        self.stage2_power = overlaps_power if stage2_overlaps_power < 0 else stage2_overlaps_power
        self.aux_epoch = aux_epoch
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Select the loss phase: the second (proxy_target_cc) from ``stage2_epoch``."""
        self.stage2 = 0 <= self.stage2_epoch <= epoch
        self.loss_weights = self.stage2_weights if self.stage2 else self.stage1_weights
        self.overlaps_power = self.stage2_power if self.stage2 else self.stage1_power
        self.aux = 0 <= self.aux_epoch <= epoch

    def __call__(self, model: RTMO, out: RTMOOutput, keypoints: Sequence[Tensor],
                 boxes: Sequence[Tensor], areas: Sequence[Tensor],
                 invalid: Tensor | None = None) -> dict[str, Tensor]:
        """Loss of ``out = model(images)`` against each image's people: keypoints (P, K, 3),
        boxes (P, 4) xyxy and areas (P,) in input pixels, on the output's device. ``invalid``
        (B, H, W) marks the input pixels of unlabelled people (crowds, people without
        keypoints); locations whose proxy keypoints point there get no classification loss.

        Returns ``{"loss": weighted sum, "loss_<name>": each weighted term, detached}`` under
        MMPose's names (`MMPOSE_NAMES`) and with its values (MMPose's loss modules apply their
        weights), so the terms add up to the loss.
        """
        priors = out.priors
        pred_boxes = model.decode_boxes(out.box_deltas, priors)  # (B, N, 4)
        proxy = model.decode_kpt_offsets(out.kpt_offsets, priors)  # (B, N, K, 2)
        # The assigner sees √(σ(cls) · σ(objectness)), RTMO's objectness fixed at σ(1e4) = 1
        # (MMPose's YOLOXPoseHead._get_targets_single).
        scores = out.cls_logits.sigmoid().sqrt()
        sigmas = self.sigmas.to(priors.device)
        cls_targets = torch.zeros_like(out.cls_logits)
        pos_b, pos_n, gt_k, gt_b, gt_a = [], [], [], [], []
        for b, (gk, gb, ga) in enumerate(zip(keypoints, boxes, areas, strict=True)):
            assigned = self.assigner.assign(priors, scores[b].detach(), pred_boxes[b].detach(),
                                            proxy[b].detach(), gb, gk, ga)
            pos = (assigned >= 0).nonzero().squeeze(1)
            pos_b.append(torch.full_like(pos, b))
            pos_n.append(pos)
            gt_k.append(gk[assigned[pos]])
            gt_b.append(gb[assigned[pos]])
            gt_a.append(ga[assigned[pos]])
        pb, pn = torch.cat(pos_b), torch.cat(pos_n)
        tk, tb, ta = torch.cat(gt_k), torch.cat(gt_b), torch.cat(gt_a)
        num_pos = max(int(pn.numel()), 1)
        weight = (tk[..., 2] > 0).float()
        p_kpts = proxy[pb, pn]
        pos_boxes = pred_boxes[pb, pn]
        box_targets = model.encode_boxes(tb, priors[pn])
        losses = {
            "iou": iou_loss(pos_boxes, tb) / num_pos,
            "vis": visibility_bce_loss(out.vis_logits[pb, pn], weight),
        }
        if self.aux:
            losses["l1"] = (out.box_deltas[pb, pn] - box_targets).abs().sum() / num_pos
        if pn.numel():
            # The DCC on the predicted (not detached) boxes, as MMPose: MLE also trains the box.
            dcc = model.dcc(out.pose_vecs[pb, pn], pos_boxes, priors[pn, :2])
            losses["mle"] = mle_coordinate_loss(dcc.prob_x, dcc.prob_y, dcc.bins_x, dcc.bins_y,
                                                dcc.sigmas, tk[..., :2], weight, ta)
        else:
            dcc = None
            losses["mle"] = out.pose_vecs.sum() * 0
        if self.stage2 and dcc is not None:
            # proxy_target_cc: proxies regress the DCC keypoints where those are closer to the GT,
            # and the classification target is the OKS of the DCC keypoints.
            cc = dcc.keypoints.detach()
            closer = ((p_kpts.detach() - tk[..., :2]).norm(dim=-1)
                      > (cc - tk[..., :2]).norm(dim=-1)).float()
            losses["oks"] = oks_loss(p_kpts, cc, weight * closer, ta, sigmas) / num_pos
            oks = keypoint_oks(cc, tk[..., :2], weight, ta, sigmas)
        else:
            losses["oks"] = oks_loss(p_kpts, tk[..., :2], weight, ta, sigmas) / num_pos
            oks = keypoint_oks(p_kpts.detach(), tk[..., :2], weight, ta, sigmas)
        # OKS-aware classification target OKS^power (MMPose's overlaps_power 0.5).
        cls_targets[pb, pn] = oks.pow(self.overlaps_power)
        obj_weight = None if invalid is None else torch.stack([
            unlabelled_weight(invalid[b], proxy[b].detach(), out.vis_logits[b].detach())
            for b in range(len(keypoints))])  # (B, N)
        losses["cls"] = varifocal_loss(out.cls_logits, cls_targets, weight=obj_weight) / num_pos
        total = sum(self.loss_weights[k] * v for k, v in losses.items())
        result = {"loss": total}
        result.update({MMPOSE_NAMES[k]: (self.loss_weights[k] * v).detach()
                       for k, v in losses.items()})
        return result
