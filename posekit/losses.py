"""Every training loss of posekit, taking tensors: heatmap L2 (masked, multi-stage, online hard
keypoint mining), OpenPose's masked L2 over PAF and confidence-map stages, and RTMO's losses on
matched instances (MLE coordinate classification, varifocal, IoU, OKS, visibility).

Normalisations equal MMPose 1.x (``KeypointMSELoss``, ``KeypointOHKMMSELoss``) so loss values
are comparable with its logs. RTMO's weighted sum and its two phases are
`posekit.models.rtmo_criterion.RTMOCriterion`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.oks import keypoint_oks

__all__ = [
    "KeypointMSELoss",
    "MultiStageLoss",
    "OHKMLoss",
    "box_iou_pairs",
    "iou_loss",
    "masked_l2_loss",
    "mle_coordinate_loss",
    "oks_loss",
    "varifocal_loss",
    "visibility_bce_loss",
]


def _pixel_weights(
    output: Tensor, target: Tensor, target_weights: Tensor | None, mask: Tensor | None,
    use_target_weight: bool, name: str,
) -> Tensor | None:
    """Validate shapes and combine keypoint weights and the pixel mask into one factor that
    broadcasts against (B, C, H, W), or None when nothing is masked."""
    if output.shape != target.shape or output.ndim != 4:
        raise ValueError(
            f"{name}: output and target must be the same (B, C, H, W) shape, got "
            f"{tuple(output.shape)} and {tuple(target.shape)}"
        )
    b, c, h, w = target.shape
    factor = None
    if use_target_weight:
        if target_weights is None:
            raise ValueError(f"{name}: use_target_weight=True needs target_weights (B, K)")
        tw = target_weights.to(target.dtype)
        if tw.ndim == 2 and tw.shape[0] == b and tw.shape[1] == c - 1:
            # HeatmapCodec(background=True): keypoint weights plus the background map, always on
            tw = torch.cat([tw, tw.new_ones(b, 1)], dim=1)  # (B, C)
        if tw.shape == (b, c):
            factor = tw[:, :, None, None]  # (B, C, 1, 1)
        elif tw.shape == (b, c, h, w):
            factor = tw
        else:
            raise ValueError(
                f"{name}: target_weights must be (B, C) = {(b, c)}, (B, C − 1) with a "
                f"background map, or (B, C, H, W), got {tuple(target_weights.shape)}"
            )
    if mask is not None:
        # W(p) of OpenPose (talk §16): 0 where people are unannotated
        if mask.ndim != 4 or mask.shape[0] != b or mask.shape[1] not in (1, c) or (
            mask.shape[2:] != (h, w)
        ):
            raise ValueError(
                f"{name}: mask must be (B, 1 or C, H, W) = ({b}, 1|{c}, {h}, {w}), "
                f"got {tuple(mask.shape)}"
            )
        m = mask.to(target.dtype)
        factor = m if factor is None else factor * m
    return factor


class KeypointMSELoss(nn.Module):
    """Masked L2 between predicted and target heatmaps (CPM's f_t, talk §7; OpenPose's masked
    loss, talk §16).

    loss = loss_weight · mean_{b,k,p} w_{b,k} · W_b(p) · (S_{b,k}(p) − S*_{b,k}(p))², the mean
    taken over all B·C·H·W elements (masked ones count as zeros), as MMPose 1.x's KeypointMSELoss.

    Args:
        use_target_weight: multiply by the per-keypoint weights (0 = unlabelled keypoint).
        loss_weight: scale of the returned loss.
    """

    def __init__(self, use_target_weight: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, output: Tensor, target: Tensor, target_weights: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Args:
            output, target: (B, C, H, W) heatmaps.
            target_weights: (B, C) keypoint weights, (B, C − 1) when the last channel is a
                background map (weight 1), or (B, C, H, W) pixel-wise weights.
            mask: optional (B, 1 or C, H, W) W(p), 0 on pixels that must not be trained.
        Returns:
            scalar loss.
        """
        factor = _pixel_weights(
            output, target, target_weights, mask, self.use_target_weight, "KeypointMSELoss"
        )
        sq = (output - target) ** 2  # (B, C, H, W)
        if factor is not None:
            sq = sq * factor
        return sq.mean() * self.loss_weight


class OHKMLoss(nn.Module):
    """Online hard keypoint mining (CPN, Chen et al. 2018; talk §9–11): the mean of the ``topk``
    largest per-keypoint L2 losses of each sample, averaged over the batch.

    Per-keypoint loss = mean_p (w_k · (S_k(p) − S*_k(p)))² (the weight enters squared, as in
    MMPose's KeypointOHKMMSELoss, whose normalisation this equals).

    Args:
        topk: keypoints kept per sample (8 of 17 in CPN).
        use_target_weight: multiply prediction and target by the keypoint weights.
        loss_weight: scale of the returned loss.
    """

    def __init__(self, topk: int = 8, use_target_weight: bool = True,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if not isinstance(topk, int) or topk < 1:
            raise ValueError(f"topk must be a positive integer, got {topk!r}")
        self.topk = topk
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, output: Tensor, target: Tensor, target_weights: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Args:
            output, target: (B, K, H, W) heatmaps, K ≥ topk.
            target_weights: (B, K) keypoint weights (required when use_target_weight).
            mask: optional (B, 1 or K, H, W) pixel mask W(p).
        Returns:
            scalar loss.
        """
        if output.ndim == 4 and output.shape[1] < self.topk:
            raise ValueError(
                f"OHKMLoss: topk ({self.topk}) exceeds the number of keypoints "
                f"({output.shape[1]}) in output {tuple(output.shape)}"
            )
        weights = None
        if self.use_target_weight:
            weights = _pixel_weights(output, target, target_weights, None, True, "OHKMLoss")
        masked = _pixel_weights(output, target, None, mask, False, "OHKMLoss")
        diff = output - target
        if weights is not None:
            diff = diff * weights
        sq = diff**2 if masked is None else diff**2 * masked  # (B, K, H, W)
        per_keypoint = sq.mean(dim=(2, 3))  # (B, K)
        hardest = per_keypoint.topk(self.topk, dim=1).values  # (B, topk)
        return hardest.mean(dim=1).mean() * self.loss_weight


class MultiStageLoss(nn.Module):
    """Intermediate supervision: F = Σ_t λ_t f_t over the stages' outputs against the same
    targets (CPM, talk §7; stacked hourglass, talk §8; OpenPose eq. 6, talk §16).

    Args:
        stage_loss: the per-stage loss f, called as ``stage_loss(output_t, *args, **kwargs)``.
        weights: optional λ_t per stage (default 1 each); its length must match the stages.
    """

    def __init__(self, stage_loss: nn.Module, weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.stage_loss = stage_loss
        self.weights = None if weights is None else [float(v) for v in weights]

    def forward(self, outputs: Tensor | Sequence[Tensor], *args: Tensor | None,
                **kwargs: Tensor | None) -> Tensor:
        """Args:
            outputs: one (B, C, H, W) tensor or a list of them, one per stage.
            args, kwargs: the targets, weights and mask passed to every stage's loss.
        Returns:
            scalar sum of the weighted stage losses.
        """
        stages = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        if not stages:
            raise ValueError("MultiStageLoss: outputs is an empty sequence")
        weights = self.weights if self.weights is not None else [1.0] * len(stages)
        if len(weights) != len(stages):
            raise ValueError(
                f"MultiStageLoss: {len(weights)} stage weights for {len(stages)} stage outputs"
            )
        total = stages[0].new_zeros(())
        for lam, out in zip(weights, stages, strict=True):
            total = total + lam * self.stage_loss(out, *args, **kwargs)
        return total


def masked_l2_loss(outputs: tuple[list[Tensor], list[Tensor]], pafs: Tensor, heatmaps: Tensor,
                   mask: Tensor) -> Tensor:
    """OpenPose's f = Σ_t f_L^t + Σ_t f_S^t, each Σ_p W(p)·‖pred(p) − target(p)‖² (talk §19):
    the squared norm sums over channels, then the mean over batch and pixels. That is CMU's
    Caffe EuclideanLoss per stage and branch divided by the constant H·W/2, so the PAF branch
    (2L channels) weighs against the confidence maps (J channels) as in CMU's training.

    Args:
        outputs: (PAF stages, confidence-map stages), each a list of (B, C, H, W) tensors.
        pafs, heatmaps: (B, 2L, H, W) and (B, J, H, W) targets.
        mask: (B, H, W) W(p), 0 where people are unannotated.
    """
    paf_stages, hm_stages = outputs
    w = mask[:, None]
    loss = heatmaps.new_zeros(())
    for pred in paf_stages:
        loss = loss + (w * (pred - pafs) ** 2).sum(1).mean()  # Σ over channels, mean (B, H, W)
    for pred in hm_stages:
        loss = loss + (w * (pred - heatmaps) ** 2).sum(1).mean()
    return loss


# ---------------------------------------------------------------------------- one-stage (RTMO)
# Functional losses on matched (positive) instances; `posekit.models.rtmo_criterion` sums them
# with the weights of MMPose's released RTMO configs.


def mle_coordinate_loss(
    prob_x: Tensor, prob_y: Tensor, bins_x: Tensor, bins_y: Tensor, sigmas: Tensor,
    target_xy: Tensor, target_weight: Tensor, areas: Tensor,
) -> Tensor:
    """RTMO's maximum-likelihood coordinate-classification loss, averaged over instances × K.

    Per keypoint and axis the target is a Laplace density at the GT μ with predicted σ and the
    instance size s = √area: t(x_i) = (1/σ)·exp(−|x_i − μ| / (2σ s)); the loss is
    −log(Σ_i p̂(x_i) t(x_i) · Σ_j p̂(y_j) t(y_j) + 1e-4) (talk § 基于最大似然估计的坐标分类),
    with area ≥ 1 and σ ≥ 1e-3, weighted by ``target_weight`` (visibility).

    Args:
        prob_x, prob_y: (M, K, Bx), (M, K, By) bin probabilities p̂.
        bins_x, bins_y: (M, Bx), (M, By) bin positions in input pixels.
        sigmas: (M, K) predicted σ.
        target_xy: (M, K, 2) GT keypoints μ in input pixels.
        target_weight: (M, K) keypoint weights (1 labelled, 0 not).
        areas: (M,) instance areas in input pixels².
    """
    s = areas.clamp(min=1.0).sqrt()[:, None, None]  # (M, 1, 1)
    sig = sigmas.clamp(min=1e-3).unsqueeze(-1)  # (M, K, 1)
    tx = torch.exp(-(bins_x[:, None, :] - target_xy[..., 0:1]).abs() / (2 * sig * s)) / sig
    ty = torch.exp(-(bins_y[:, None, :] - target_xy[..., 1:2]).abs() / (2 * sig * s)) / sig
    likelihood = (prob_x * tx).sum(-1) * (prob_y * ty).sum(-1)  # (M, K)
    loss = -torch.log(likelihood + 1e-4) * target_weight
    return loss.sum() / max(loss.numel(), 1)


def varifocal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.75,
                   gamma: float = 2.0) -> Tensor:
    """Varifocal loss (Zhang et al., VarifocalNet), summed: BCE(logit, q) weighted by q for
    positives (q > 0, the OKS-aware target) and by α·|σ(logit) − q|^γ for negatives."""
    p = logits.sigmoid()
    weight = torch.where(targets > 0, targets, alpha * (p - targets).abs().pow(gamma)).detach()
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    return (bce * weight).sum()


def box_iou_pairs(a: Tensor, b: Tensor, eps: float = 1e-9) -> Tensor:
    """IoU of paired xyxy boxes (..., 4) and (..., 4) → (...)."""
    lt = torch.maximum(a[..., :2], b[..., :2])
    rb = torch.minimum(a[..., 2:], b[..., 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(-1)
    return inter / (area_a + area_b - inter + eps)


def iou_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Σ (1 − IoU²) over paired xyxy boxes (MMPose's ``IoULoss(mode='square')`` for RTMO)."""
    return (1 - box_iou_pairs(pred, target).pow(2)).sum()


def oks_loss(pred: Tensor, target: Tensor, weight: Tensor, areas: Tensor,
             sigmas: Tensor) -> Tensor:
    """Σ over instances of (1 − OKS) (RTMO's OKS loss, summed; the criterion divides by
    #positives); OKS is `posekit.oks.keypoint_oks`."""
    return (1 - keypoint_oks(pred, target, weight, areas, sigmas)).sum()


def visibility_bce_loss(logits: Tensor, visible: Tensor) -> Tensor:
    """Mean BCE between visibility logits (M, K) and 0/1 targets (M, K)."""
    if logits.numel() == 0:
        return logits.sum()
    return F.binary_cross_entropy_with_logits(logits, visible.float())
