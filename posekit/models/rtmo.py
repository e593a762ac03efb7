"""RTMO (Lu et al., "RTMO: Towards High-Performance One-Stage Real-Time Multi-Person Pose
Estimation", CVPR 2024): a YOLO-like one-stage network whose keypoints come from the Dynamic
Coordinate Classifier (DCC) — the talk's one-stage part.

Where the rest of RTMO lives: the DCC's parameter-free maths (bins, sine encoding, softmax,
read-out) in `posekit.codecs.dcc`; the training loss — SimOTA assignment and the weighted loss
sum with its two phases — in `posekit.models.rtmo_criterion`; the single losses in
`posekit.losses`; the post-processing of `RTMOInference`'s dense outputs (score filter, box NMS,
back to image pixels) in `posekit.pipelines.onestage.OneStage.decode`.

CSPDarknet P5 (strides 8/16/32) → hybrid encoder (RT-DETR style: one post-norm transformer
layer with a 2-D sine PE on the stride-32 map, then top-down and bottom-up CSP-RepVGG fusion,
keeping strides 16 and 32, then a 1×1 conv+BN projector) → per level a head with a
classification branch and a pose branch → DCC on the pose vectors.

Output contract (``RTMO.forward(images)``, images (B, 3, H, W), H and W multiples of 32, pixel
values 0..255 in BGR or RGB as trained — MMPose's RTMO uses mean 0, std 1, i.e. raw pixels).
Locations of all levels are concatenated: level stride 16 first, then 32, each row-major, so
N = H/16·W/16 + H/32·W/32. It returns the NamedTuple `RTMOOutput` of raw (undecoded) tensors:

- ``cls_logits``   (B, N)       person logit per location (sigmoid → score).
- ``box_deltas``   (B, N, 4)    (dx, dy, log w, log h) in units of the stride; `decode_boxes`.
- ``kpt_offsets``  (B, N, K, 2) proxy keypoint offsets (units of stride) from ``priors``; used by
                                the label assignment only (MMPose's ``out_kpt_reg``).
- ``vis_logits``   (B, N, K)    keypoint visibility logits (sigmoid → keypoint score).
- ``pose_vecs``    (B, N, C)    pose vectors fed to the DCC (C = ``pose_vec_channels``).
- ``priors``       (N, 3)       anchor points (x, y, stride) in input pixels: x = j·s + (s−1)/2
                                (MMPose's centralised ``MlvlPointGenerator``).

Decoding helpers on the model:
- `RTMO.decode_boxes(box_deltas, priors)` → (B, N, 4) xyxy in input pixels; its inverse, the
  training target of the L1 box loss, is `RTMO.encode_boxes(boxes, priors)`.
- `RTMO.dcc(pose_vecs, boxes, grids)` with pose_vecs (M, C), boxes (M, 4) xyxy, grids (M, 2) the
  anchor xy → `DCCOutput(keypoints (M, K, 2) input px, prob_x (M, K, Bx), prob_y (M, K, By),
  sigmas (M, K), bins_x (M, Bx), bins_y (M, By))`. In training mode its BatchNorm1d uses the
  batch statistics of the M rows (as MMPose, which runs it on the positive samples only).
- `RTMO.predict_dense(images)`: every location decoded, no NMS → (scores (B, N), boxes (B, N, 4),
  keypoints (B, N, K, 2), keypoint scores (B, N, K)), all in input pixels / probabilities.
- `RTMOInference(model, score_thresh)`: the test-time module. ``candidates`` (the locations above
  the score threshold) and ``keypoints`` (the DCC on chosen ones) let the pipeline run the DCC
  only on the people left after NMS, as MMPose; ``forward`` (the ONNX-exported graph) runs it on
  every candidate.

Parameters (any input size): RTMO-s 9,868,899; m 22,526,307; l 44,693,315, exactly MMPose 1.3.2's
(9.87 / 22.53 / 44.69 M). ``remap_rtmo_state_dict`` loads MMPose's RTMO checkpoints.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.codecs.dcc import (
    BOX_PADDING,
    bin_softmax,
    box_to_center_scale,
    dcc_bins,
    decode_bins,
    sine_pe_2d,
    sine_pe_parts,
)
from posekit.models.backbones.cspdarknet import ConvBNAct, CSPDarknet

__all__ = [
    "DCC",
    "DCCOutput",
    "RTMO",
    "RTMOCandidates",
    "RTMOInference",
    "RTMOOutput",
    "remap_rtmo_state_dict",
    "rtmo_l",
    "rtmo_m",
    "rtmo_s",
    "rtmo_tiny",
]


class RTMOOutput(NamedTuple):
    """Raw head outputs of all levels, flattened (see the module docstring for shapes)."""

    cls_logits: Tensor
    box_deltas: Tensor
    kpt_offsets: Tensor
    vis_logits: Tensor
    pose_vecs: Tensor
    priors: Tensor


class DCCOutput(NamedTuple):
    """DCC results for M instances: keypoints (M, K, 2), bin probabilities, σ, bin positions."""

    keypoints: Tensor
    prob_x: Tensor
    prob_y: Tensor
    sigmas: Tensor
    bins_x: Tensor
    bins_y: Tensor


# ---------------------------------------------------------------- hybrid encoder blocks


def _neck_conv(in_channels: int, out_channels: int, kernel: int = 1, *, stride: int = 1,
               act: bool = True) -> ConvBNAct:
    """The hybrid encoder's ConvBNAct: PyTorch's default BN (eps 1e-5, momentum 0.1)."""
    return ConvBNAct(in_channels, out_channels, kernel, stride=stride, act=act, bn_eps=1e-5,
                     bn_momentum=0.1)


class RepVGGBlock(nn.Module):
    """SiLU(BN(conv3×3 x) + BN(conv1×1 x)), the training-time form of a RepVGG block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.branch_3x3 = _neck_conv(channels, channels, 3, act=False)
        self.branch_1x1 = _neck_conv(channels, channels, 1, act=False)
        self.act = nn.SiLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.branch_3x3(x) + self.branch_1x1(x))


class CSPRepLayer(nn.Module):
    """Two 1×1 branches, RepVGG blocks on one, summed, then a 1×1 conv (identity if same width)."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int, expansion: float) -> None:
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = _neck_conv(in_channels, hidden)
        self.conv2 = _neck_conv(in_channels, hidden)
        self.bottlenecks = nn.Sequential(*[RepVGGBlock(hidden) for _ in range(blocks)])
        self.conv3 = _neck_conv(hidden, out_channels) if hidden != out_channels else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


class SelfAttention(nn.Module):
    """Multi-head self-attention with the PE added to queries and keys (not values).

    Written with explicit fixed-rank reshapes (no ``nn.MultiheadAttention``) so ONNX export
    never meets a transpose of unknown rank. ``in_proj`` holds the q, k, v weights stacked.
    """

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention dim {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.in_proj = nn.Linear(dim, 3 * dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        b, n, c = x.shape
        w_q, w_k, w_v = self.in_proj.weight.chunk(3, dim=0)
        b_q, b_k, b_v = self.in_proj.bias.chunk(3, dim=0)
        qk_in = x + pos
        d = c // self.heads
        q = F.linear(qk_in, w_q, b_q).reshape(b, n, self.heads, d).permute(0, 2, 1, 3)
        k = F.linear(qk_in, w_k, b_k).reshape(b, n, self.heads, d).permute(0, 2, 3, 1)
        v = F.linear(x, w_v, b_v).reshape(b, n, self.heads, d).permute(0, 2, 1, 3)
        attn = torch.softmax(torch.matmul(q, k) * (d ** -0.5), dim=-1)  # (B, heads, N, N)
        out = torch.matmul(attn, v).permute(0, 2, 1, 3).reshape(b, n, c)  # (B, N, C)
        return self.out_proj(out)


class TransformerEncoderLayer(nn.Module):
    """Post-norm layer: x = LN(x + MHSA(x, pos)); x = LN(x + FFN(x)), FFN with GELU."""

    def __init__(self, dim: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.attn = SelfAttention(dim, heads)
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: Tensor, pos: Tensor) -> Tensor:
        x = self.norm1(x + self.attn(x, pos))
        return self.norm2(x + self.fc2(F.gelu(self.fc1(x))))


class HybridEncoder(nn.Module):
    """RT-DETR's hybrid encoder as RTMO configures it (three inputs, outputs at the last two).

    Args:
        in_channels: channels of the backbone maps at strides 8, 16, 32.
        hidden_dim: width of every map inside the encoder (256 for s/m/l).
        heads, ffn_dim: the transformer layer on the stride-32 map (8, 1024).
        blocks: RepVGG blocks per CSP layer, round(3 × deepen).
        expansion: CSP layers' hidden width / hidden_dim (the widen factor).
        out_channels: the projector's output width (the head's input).
        pe_temperature: temperature of the 2-D sine PE (10000).
    """

    def __init__(self, *, in_channels: tuple[int, int, int], hidden_dim: int, heads: int,
                 ffn_dim: int, blocks: int, expansion: float, out_channels: int,
                 pe_temperature: float = 10000.0) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.pe_temperature = pe_temperature
        self.input_proj = nn.ModuleList(_neck_conv(c, hidden_dim, act=False) for c in in_channels)
        self.transformer = TransformerEncoderLayer(hidden_dim, heads, ffn_dim)
        levels = len(in_channels)
        self.lateral_convs = nn.ModuleList(_neck_conv(hidden_dim, hidden_dim)
                                           for _ in range(levels - 1))
        self.fpn_blocks = nn.ModuleList(CSPRepLayer(2 * hidden_dim, hidden_dim, blocks, expansion)
                                        for _ in range(levels - 1))
        self.downsample_convs = nn.ModuleList(_neck_conv(hidden_dim, hidden_dim, 3, stride=2)
                                              for _ in range(levels - 1))
        self.pan_blocks = nn.ModuleList(CSPRepLayer(2 * hidden_dim, hidden_dim, blocks, expansion)
                                        for _ in range(levels - 1))
        self.projector = nn.ModuleList(_neck_conv(hidden_dim, out_channels, act=False)
                                       for _ in range(levels - 1))

    def forward(self, feats: list[Tensor]) -> list[Tensor]:
        proj = [conv(f) for conv, f in zip(self.input_proj, feats, strict=True)]
        # Transformer layer on the coarsest map with a 2-D sine PE (RT-DETR's "AIFI").
        b, c, h, w = proj[-1].shape
        tokens = proj[-1].flatten(2).permute(0, 2, 1)  # (B, HW, C)
        # computed in float32 (float64 in a float64 model), as MMPose's encoder
        pos = sine_pe_2d(int(h), int(w), int(c), self.pe_temperature, device=tokens.device,
                         dtype=torch.promote_types(tokens.dtype, torch.float32))
        pos = pos.unsqueeze(0)  # (1, HW, C)
        tokens = self.transformer(tokens, pos.to(tokens.dtype))
        proj[-1] = tokens.permute(0, 2, 1).reshape(b, c, h, w)
        # Top-down: from the coarsest map towards stride 8.
        inner = [proj[-1]]
        for i, idx in enumerate(range(len(proj) - 1, 0, -1)):
            high = self.lateral_convs[i](inner[0])
            inner[0] = high
            up = F.interpolate(high, scale_factor=2.0, mode="nearest")
            inner.insert(0, self.fpn_blocks[i](torch.cat((up, proj[idx - 1]), dim=1)))
        # Bottom-up: back to the coarsest map.
        outs = [inner[0]]
        for i in range(len(proj) - 1):
            down = self.downsample_convs[i](outs[-1])
            outs.append(self.pan_blocks[i](torch.cat((down, inner[i + 1]), dim=1)))
        return [conv(f) for conv, f in zip(self.projector, outs[1:], strict=True)]


# ---------------------------------------------------------------- head and DCC


class RTMOHead(nn.Module):
    """Per level: the input's first half → 2 convs → class logit; second half → 4 (grouped)
    convs → box, proxy keypoint offsets, visibility logits and the pose vector (1×1 convs)."""

    def __init__(self, *, in_channels: int, cls_channels: int, pose_channels: int, groups: int,
                 pose_vec_channels: int, num_keypoints: int, levels: int) -> None:
        super().__init__()
        self.cls_convs = nn.ModuleList(
            nn.Sequential(ConvBNAct(in_channels, cls_channels, 3),
                          ConvBNAct(cls_channels, cls_channels, 3))
            for _ in range(levels))
        self.pose_convs = nn.ModuleList(
            nn.Sequential(ConvBNAct(in_channels, pose_channels, 3),
                          *[ConvBNAct(pose_channels, pose_channels, 3, groups=groups)
                            for _ in range(3)])
            for _ in range(levels))
        self.cls_out = nn.ModuleList(nn.Conv2d(cls_channels, 1, 1) for _ in range(levels))
        self.box_out = nn.ModuleList(nn.Conv2d(pose_channels, 4, 1) for _ in range(levels))
        self.kpt_out = nn.ModuleList(nn.Conv2d(pose_channels, 2 * num_keypoints, 1)
                                     for _ in range(levels))
        self.vis_out = nn.ModuleList(nn.Conv2d(pose_channels, num_keypoints, 1)
                                     for _ in range(levels))
        self.pose_out = nn.ModuleList(nn.Conv2d(pose_channels, pose_vec_channels, 1)
                                      for _ in range(levels))
        prior = 0.01  # initial person probability (focal-loss style bias init)
        for conv in self.cls_out:
            nn.init.constant_(conv.bias, -math.log((1 - prior) / prior))

    def forward(self, feats: list[Tensor]) -> list[tuple[Tensor, ...]]:
        """→ per level (cls (B,1,h,w), box (B,4,h,w), kpt (B,2K,h,w), vis (B,K,h,w),
        pose (B,C,h,w))."""
        outs = []
        for i, x in enumerate(feats):
            cls_feat, pose_feat = x.chunk(2, dim=1)
            cls_feat = self.cls_convs[i](cls_feat)
            pose_feat = self.pose_convs[i](pose_feat)
            outs.append((self.cls_out[i](cls_feat), self.box_out[i](pose_feat),
                         self.kpt_out[i](pose_feat), self.vis_out[i](pose_feat),
                         self.pose_out[i](pose_feat)))
        return outs


class ScaleNorm(nn.Module):
    """x / max(‖x‖₂ / √d, eps) · g, written with sum of squares (no norm op in ONNX)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim ** -0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        norm = (x * x).sum(dim=-1, keepdim=True).sqrt() * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class GAU(nn.Module):
    """Gated attention unit (Hua et al., 2022) over the K keypoint tokens, with an additive
    learnable position embedding and a channel-scaled residual (RTMCC's block).

    Args: dim (token width), expansion (e = dim × expansion), s (attention width).
    """

    def __init__(self, dim: int, num_tokens: int, expansion: int = 2, s: int = 128) -> None:
        super().__init__()
        self.e = dim * expansion
        self.s = s
        self.norm = ScaleNorm(dim)
        self.uv = nn.Linear(dim, 2 * self.e + s, bias=False)
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.pos = nn.Parameter(torch.randn(num_tokens, s))
        self.o = nn.Linear(self.e, dim, bias=False)
        self.res_scale = nn.Parameter(torch.ones(dim))
        nn.init.xavier_uniform_(self.uv.weight)

    def forward(self, x: Tensor) -> Tensor:
        """(M, K, dim) → (M, K, dim)."""
        uv = F.silu(self.uv(self.norm(x)))
        u, v, base = torch.split(uv, [self.e, self.e, self.s], dim=-1)
        q = base * self.gamma[0] + self.beta[0] + self.pos  # (M, K, s)
        k = base * self.gamma[1] + self.beta[1] + self.pos
        kernel = torch.square(F.relu(torch.matmul(q, k.transpose(1, 2)) / math.sqrt(self.s)))
        return x * self.res_scale + self.o(u * torch.matmul(kernel, v))


class DCC(nn.Module):
    """The learnable part of the Dynamic Coordinate Classifier (math in `posekit.codecs.dcc`).

    Pose vector (M, C) → Linear + BN to K × feat_channels → GAU → keypoint features f_k; bins of
    the ×1.25 box get φ(PE(x_i)) with PE relative to the anchor point (translation-invariant), and
    p̂_k(x_i) = softmax_i(f_k · φ(PE(x_i))) (talk § 动态坐标分类器). σ = 0.1·sigmoid(Linear(pose))
    with a learnable 0.1 (MMPose's σ branch, `sigma_fc` + `Scale`).
    """

    def __init__(self, *, in_channels: int, num_keypoints: int = 17, feat_channels: int = 128,
                 num_bins: tuple[int, int] = (192, 256), pe_channels: int = 128,
                 pe_temperature: float = 300.0, gau_s: int = 128, gau_expansion: int = 2,
                 decode: str = "expectation") -> None:
        super().__init__()
        if decode not in ("expectation", "argmax"):
            raise ValueError(f"DCC decode must be 'expectation' or 'argmax', got {decode!r}")
        self.num_keypoints = num_keypoints
        self.feat_channels = feat_channels
        self.pe_channels = pe_channels
        self.pe_temperature = pe_temperature
        self.decode = decode
        self.pose_to_kpts = nn.Sequential(nn.Linear(in_channels, feat_channels * num_keypoints),
                                          nn.BatchNorm1d(feat_channels * num_keypoints))
        self.gau = GAU(feat_channels, num_keypoints, gau_expansion, gau_s)
        self.x_fc = nn.Linear(pe_channels, feat_channels)  # φ for x bins
        self.y_fc = nn.Linear(pe_channels, feat_channels)  # φ for y bins
        self.sigma_fc = nn.Linear(in_channels, num_keypoints)
        self.sigma_scale = nn.Parameter(torch.tensor(0.1))
        self.register_buffer("x_bins", torch.linspace(-0.5, 0.5, num_bins[0]), persistent=False)
        self.register_buffer("y_bins", torch.linspace(-0.5, 0.5, num_bins[1]), persistent=False)

    def _pose_to_kpts(self, pose_vecs: Tensor) -> Tensor:
        """Linear + BatchNorm1d over the M rows; with fewer than 2 rows in training (one positive
        in the batch) there are no batch statistics, so the running ones are used, unchanged."""
        linear, bn = self.pose_to_kpts
        if self.training and pose_vecs.shape[0] < 2:
            return F.batch_norm(linear(pose_vecs), bn.running_mean, bn.running_var, bn.weight,
                                bn.bias, training=False, eps=bn.eps)
        return self.pose_to_kpts(pose_vecs)

    @staticmethod
    def _logits(feats: Tensor, phi: nn.Linear, pe: tuple[Tensor, Tensor]) -> Tensor:
        """feats (M, K, F), φ = Linear(P → F), pe = `sine_pe_parts` (cos, sin), each (M, B, P/2)
        → f_k · φ(pe_i), (M, K, B)."""
        projected = torch.matmul(feats, phi.weight)  # (M, K, P)
        offset = torch.matmul(feats, phi.bias.unsqueeze(-1))  # (M, K, 1)
        half = pe[0].shape[-1]
        return (torch.matmul(projected[..., :half], pe[0].transpose(1, 2))
                + torch.matmul(projected[..., half:], pe[1].transpose(1, 2)) + offset)

    def forward(self, pose_vecs: Tensor, boxes: Tensor, grids: Tensor) -> DCCOutput:
        """pose_vecs (M, C), boxes (M, 4) xyxy and grids (M, 2) anchor xy, in input pixels."""
        sigmas = torch.sigmoid(self.sigma_fc(pose_vecs)) * self.sigma_scale  # (M, K)
        center, scale = box_to_center_scale(boxes, BOX_PADDING)  # (M, 2) each
        bins_x = dcc_bins(self.x_bins, center[:, 0], scale[:, 0])  # (M, Bx)
        bins_y = dcc_bins(self.y_bins, center[:, 1], scale[:, 1])  # (M, By)
        rel = center - grids  # the encoding sees bins relative to the anchor point
        pe_x = sine_pe_parts(dcc_bins(self.x_bins, rel[:, 0], scale[:, 0]), self.pe_channels,
                             self.pe_temperature)  # (M, Bx, P/2) twice
        pe_y = sine_pe_parts(dcc_bins(self.y_bins, rel[:, 1], scale[:, 1]), self.pe_channels,
                             self.pe_temperature)  # (M, By, P/2) twice
        feats = self._pose_to_kpts(pose_vecs).reshape(-1, self.num_keypoints, self.feat_channels)
        feats = self.gau(feats)  # (M, K, F)
        # f_k · φ(PE(x_i)) with φ(e) = W e + b, computed as (Wᵀ f_k) · PE(x_i) + f_k · b: the same
        # number, without applying φ to every bin of every instance (5× fewer multiply-adds), and
        # with the cosine and sine halves of PE multiplied separately (no concatenated copy).
        prob_x = bin_softmax(self._logits(feats, self.x_fc, pe_x))  # (M, K, Bx)
        prob_y = bin_softmax(self._logits(feats, self.y_fc, pe_y))  # (M, K, By)
        keypoints = torch.stack((decode_bins(prob_x, bins_x, self.decode),
                                 decode_bins(prob_y, bins_y, self.decode)), dim=-1)
        return DCCOutput(keypoints, prob_x, prob_y, sigmas, bins_x, bins_y)


# ---------------------------------------------------------------- model


class RTMO(nn.Module):
    """CSPDarknet → hybrid encoder → RTMO head (+ DCC). See the module docstring for outputs.

    Args:
        deepen_factor, widen_factor: CSPDarknet and encoder scaling (s 0.33/0.5, m 0.67/0.75,
            l 1.0/1.0).
        hidden_dim, heads, ffn_dim: hybrid encoder width and its transformer layer.
        neck_out_channels: projector output, split in half between the head's two branches.
        cls_channels: classification branch width before widening (256).
        channels_per_group, groups: pose branch width = groups × int(cpg × widen) (8 × 36).
        pose_vec_channels: pose vector width C (DCC input).
        num_keypoints: K.
        dcc_feat_channels, num_bins, pe_channels, pe_temperature, gau_s: the DCC.
        dcc_decode: ``expectation`` or ``argmax`` over bins.
        strides: the head's strides (16, 32).
    """

    def __init__(
        self,
        *,
        deepen_factor: float = 0.33,
        widen_factor: float = 0.5,
        hidden_dim: int = 256,
        heads: int = 8,
        ffn_dim: int = 1024,
        neck_out_channels: int = 256,
        cls_channels: int = 256,
        channels_per_group: int = 36,
        groups: int = 8,
        pose_vec_channels: int = 256,
        num_keypoints: int = 17,
        dcc_feat_channels: int = 128,
        num_bins: tuple[int, int] = (192, 256),
        pe_channels: int = 128,
        pe_temperature: float = 300.0,
        gau_s: int = 128,
        dcc_decode: str = "expectation",
        strides: tuple[int, int] = (16, 32),
    ) -> None:
        super().__init__()
        if neck_out_channels % 2:
            raise ValueError(f"neck_out_channels must be even, got {neck_out_channels}")
        if tuple(strides) != (16, 32):
            raise ValueError(f"RTMO's encoder gives strides (16, 32), got {strides}")
        self.num_keypoints = num_keypoints
        self.strides = tuple(strides)
        self.backbone = CSPDarknet(deepen_factor=deepen_factor, widen_factor=widen_factor)
        in_channels = self.backbone.out_channels
        self.neck = HybridEncoder(in_channels=in_channels,  # type: ignore[arg-type]
                                  hidden_dim=hidden_dim, heads=heads, ffn_dim=ffn_dim,
                                  blocks=round(3 * deepen_factor), expansion=widen_factor,
                                  out_channels=neck_out_channels)
        self.head = RTMOHead(in_channels=neck_out_channels // 2,
                             cls_channels=int(cls_channels * widen_factor),
                             pose_channels=groups * int(channels_per_group * widen_factor),
                             groups=groups, pose_vec_channels=pose_vec_channels,
                             num_keypoints=num_keypoints, levels=len(strides))
        self.dcc = DCC(in_channels=pose_vec_channels, num_keypoints=num_keypoints,
                       feat_channels=dcc_feat_channels, num_bins=num_bins,
                       pe_channels=pe_channels, pe_temperature=pe_temperature, gau_s=gau_s,
                       decode=dcc_decode)

    def forward_features(self, images: Tensor) -> list[Tensor]:
        """(B, 3, H, W) → encoder maps at strides 16 and 32."""
        return self.neck(self.backbone.forward_features(images))

    def priors(self, sizes: list[tuple[int, int]], device: torch.device) -> Tensor:
        """Anchor points of levels with map sizes [(h, w), ...] → (N, 3) = (x, y, stride)."""
        rows = []
        for (h, w), s in zip(sizes, self.strides, strict=True):
            xs = torch.arange(w, dtype=torch.float32, device=device) * s + (s - 1) / 2
            ys = torch.arange(h, dtype=torch.float32, device=device) * s + (s - 1) / 2
            grid_x = xs.view(1, w).expand(h, w).reshape(-1)
            grid_y = ys.view(h, 1).expand(h, w).reshape(-1)
            rows.append(torch.stack((grid_x, grid_y, torch.full_like(grid_x, float(s))), dim=-1))
        return torch.cat(rows, dim=0)

    def forward_head(self, feats: list[Tensor]) -> RTMOOutput:
        levels = self.head(feats)
        k = self.num_keypoints

        def flat(t: Tensor) -> Tensor:  # (B, C, h, w) → (B, hw, C)
            return t.flatten(2).permute(0, 2, 1)

        cls = torch.cat([flat(lv[0]) for lv in levels], dim=1)[..., 0]  # (B, N)
        box = torch.cat([flat(lv[1]) for lv in levels], dim=1)  # (B, N, 4)
        kpt = torch.cat([flat(lv[2]) for lv in levels], dim=1)  # (B, N, 2K)
        vis = torch.cat([flat(lv[3]) for lv in levels], dim=1)  # (B, N, K)
        pose = torch.cat([flat(lv[4]) for lv in levels], dim=1)  # (B, N, C)
        sizes = [(int(f.shape[2]), int(f.shape[3])) for f in feats]
        priors = self.priors(sizes, feats[0].device)
        return RTMOOutput(cls, box, kpt.reshape(kpt.shape[0], kpt.shape[1], k, 2), vis, pose,
                          priors)

    def forward(self, images: Tensor) -> RTMOOutput:
        return self.forward_head(self.forward_features(images))

    # Box deltas (YOLOX's): centre = prior xy + (dx, dy)·stride, size = exp(log w, log h)·stride.

    @staticmethod
    def decode_boxes(box_deltas: Tensor, priors: Tensor) -> Tensor:
        """(B, N, 4) deltas + (N, 3) priors → (B, N, 4) xyxy boxes in input pixels."""
        stride = priors[:, 2:3]
        xy = box_deltas[..., :2] * stride + priors[:, :2]
        half = box_deltas[..., 2:].exp() * stride * 0.5
        return torch.cat((xy - half, xy + half), dim=-1)

    @staticmethod
    def encode_boxes(boxes: Tensor, priors: Tensor) -> Tensor:
        """Inverse of `decode_boxes` for paired xyxy boxes (M, 4) and priors (M, 3) → (M, 4)
        deltas; sizes clamped to ≥ 1e-3 px so the log stays finite."""
        s = priors[:, 2:3]
        centre = (boxes[:, :2] + boxes[:, 2:]) / 2
        size = (boxes[:, 2:] - boxes[:, :2]).clamp(min=1e-3)
        return torch.cat(((centre - priors[:, :2]) / s, torch.log(size / s)), dim=1)

    @staticmethod
    def decode_kpt_offsets(kpt_offsets: Tensor, priors: Tensor) -> Tensor:
        """(B, N, K, 2) proxy offsets → (B, N, K, 2) keypoints in input pixels."""
        return kpt_offsets * priors[:, None, 2:3] + priors[:, None, :2]

    def predict_dense(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Decode every location (no NMS): scores (B, N), boxes (B, N, 4) xyxy, keypoints
        (B, N, K, 2) and keypoint scores (B, N, K), in input pixels."""
        out = self(images)
        b, n = out.cls_logits.shape
        boxes = self.decode_boxes(out.box_deltas, out.priors)
        grids = out.priors[:, :2].unsqueeze(0).expand(b, n, 2)
        dcc = self.dcc(out.pose_vecs.reshape(b * n, -1), boxes.reshape(b * n, 4),
                       grids.reshape(b * n, 2))
        keypoints = dcc.keypoints.reshape(b, n, self.num_keypoints, 2)
        return out.cls_logits.sigmoid(), boxes, keypoints, out.vis_logits.sigmoid()


class RTMOCandidates(NamedTuple):
    """The M locations of a batch whose person score passes the threshold, in score order per
    image: scores (M,), boxes (M, 4) xyxy input px, keypoint scores (M, K), pose vectors (M, C),
    anchor xy (M, 2) input px, and the image of each (M,) in the batch."""

    scores: Tensor
    boxes: Tensor
    keypoint_scores: Tensor
    pose_vecs: Tensor
    grids: Tensor
    batch_index: Tensor


class RTMOInference(nn.Module):
    """RTMO at test time: the network, the score threshold and the DCC on what passes it.

    MMPose (``RTMOHead.predict``) runs the DCC only on the people left after box NMS; the eager
    pipeline does the same with :meth:`candidates` → NMS → :meth:`keypoints`. ``forward`` (what
    ONNX export exports: NMS is not an exportable torch op here) runs the DCC on every candidate
    above ``score_thresh`` instead, and returns (scores (M,), boxes (M, 4), keypoints (M, K, 2),
    keypoint scores (M, K), batch index (M,)), the pipeline's NMS then picks the same people.
    """

    def __init__(self, model: RTMO, score_thresh: float = 0.1) -> None:
        super().__init__()
        self.model = model
        self.score_thresh = float(score_thresh)

    def candidates(self, images: Tensor) -> RTMOCandidates:
        """(B, 3, H, W) raw pixels → the locations with sigmoid(cls) > ``score_thresh``."""
        out = self.model(images)
        scores = out.cls_logits.sigmoid()  # (B, N)
        # Each image's candidates in descending score order, as MMPose's filter_scores_and_topk.
        sorted_scores, order = scores.sort(dim=1, descending=True)  # (B, N)
        keep = torch.nonzero(sorted_scores > self.score_thresh)  # (M, 2): image, rank
        if torch.compiler.is_exporting():
            torch._check(keep.shape[0] != 0)  # the graph still runs with none; export needs it
        bi = keep[:, 0]
        ni = order[bi, keep[:, 1]]
        boxes = self.model.decode_boxes(out.box_deltas[bi, ni], out.priors[ni])  # (M, 4)
        return RTMOCandidates(scores[bi, ni], boxes, out.vis_logits[bi, ni].sigmoid(),
                              out.pose_vecs[bi, ni], out.priors[ni, :2], bi)

    def keypoints(self, pose_vecs: Tensor, boxes: Tensor, grids: Tensor) -> Tensor:
        """DCC keypoints (M, K, 2) in input pixels of M candidates (rows of `RTMOCandidates`)."""
        return self.model.dcc(pose_vecs, boxes, grids).keypoints

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        c = self.candidates(images)
        return (c.scores, c.boxes, self.keypoints(c.pose_vecs, c.boxes, c.grids),
                c.keypoint_scores, c.batch_index)


# ---------------------------------------------------------------- foreign checkpoints

# MMPose keys that hold no weights of this network: constants recomputed here (sine-PE
# frequencies, the unit bins) and the OKS loss's sigmas. They are checked, then dropped.
_CONSTANT_KEYS = ("neck.sincos_pos_enc.dim_t", "head.dcc.spe.dim_t", "head.dcc.x_bins",
                  "head.dcc.y_bins", "head.loss_oks.sigmas")

_RULES: tuple[tuple[str, str], ...] = (
    (r"^backbone\.stage(\d)\.", "stage"),  # handled in code: stage{i} → stages.{i-1}
    (r"^neck\.encoder\.0\.layers\.0\.self_attn\.attn\.in_proj_", "neck.transformer.attn.in_proj."),
    (r"^neck\.encoder\.0\.layers\.0\.self_attn\.attn\.out_proj\.",
     "neck.transformer.attn.out_proj."),
    (r"^neck\.encoder\.0\.layers\.0\.ffn\.layers\.0\.0\.", "neck.transformer.fc1."),
    (r"^neck\.encoder\.0\.layers\.0\.ffn\.layers\.1\.", "neck.transformer.fc2."),
    (r"^neck\.encoder\.0\.layers\.0\.norms\.0\.", "neck.transformer.norm1."),
    (r"^neck\.encoder\.0\.layers\.0\.norms\.1\.", "neck.transformer.norm2."),
    (r"^neck\.projector\.convs\.", "neck.projector."),
    (r"^head\.head_module\.conv_cls\.", "head.cls_convs."),
    (r"^head\.head_module\.conv_pose\.", "head.pose_convs."),
    (r"^head\.head_module\.out_cls\.", "head.cls_out."),
    (r"^head\.head_module\.out_bbox\.", "head.box_out."),
    (r"^head\.head_module\.out_kpt_reg\.", "head.kpt_out."),
    (r"^head\.head_module\.out_kpt_vis\.", "head.vis_out."),
    (r"^head\.head_module\.out_pose\.", "head.pose_out."),
    (r"^head\.dcc\.pos_enc$", "dcc.gau.pos"),
    (r"^head\.dcc\.gau\.ln\.g$", "dcc.gau.norm.g"),
    (r"^head\.dcc\.gau\.res_scale\.scale$", "dcc.gau.res_scale"),
    (r"^head\.dcc\.sigma_fc\.0\.", "dcc.sigma_fc."),
    (r"^head\.dcc\.sigma_fc\.2\.scale$", "dcc.sigma_scale"),
    (r"^head\.dcc\.", "dcc."),
)


def remap_rtmo_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """MMPose RTMO checkpoint (``state_dict`` of ``rtmo-{s,m,l}_*.pth``) → `RTMO` keys.

    Every source key is either mapped or one of the constants in ``_CONSTANT_KEYS``; anything
    else raises ValueError naming it. A checkpoint wrapped as ``{"state_dict": ...}`` is accepted.
    """
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    out: dict[str, Tensor] = {}
    for key, value in state_dict.items():
        if key in _CONSTANT_KEYS:
            continue
        new = None
        m = re.match(r"^backbone\.stage(\d)\.(.*)$", key)
        if m:
            new = f"backbone.stages.{int(m.group(1)) - 1}.{m.group(2)}"
        elif key.startswith("backbone.stem.") or re.match(
                r"^neck\.(input_proj|lateral_convs|fpn_blocks|downsample_convs|pan_blocks)\.",
                key):
            new = key
        else:
            for pattern, repl in _RULES[1:]:
                if re.match(pattern, key):
                    new = re.sub(pattern, repl, key)
                    break
        if new is None:
            raise ValueError(f"RTMO checkpoint key {key!r} has no posekit counterpart")
        out[new] = value
    return out


# ---------------------------------------------------------------- variants


def rtmo_s(**kwargs: object) -> RTMO:
    """RTMO-s: CSPDarknet 0.33/0.5, pose vectors 256 (9.87 M params)."""
    cfg: dict[str, object] = dict(deepen_factor=0.33, widen_factor=0.5, neck_out_channels=256,
                                  pose_vec_channels=256)
    return RTMO(**{**cfg, **kwargs})  # type: ignore[arg-type]


def rtmo_m(**kwargs: object) -> RTMO:
    """RTMO-m: CSPDarknet 0.67/0.75, pose vectors 384 (22.53 M params)."""
    cfg: dict[str, object] = dict(deepen_factor=0.67, widen_factor=0.75, neck_out_channels=384,
                                  pose_vec_channels=384)
    return RTMO(**{**cfg, **kwargs})  # type: ignore[arg-type]


def rtmo_l(**kwargs: object) -> RTMO:
    """RTMO-l: CSPDarknet 1.0/1.0, pose vectors 512 (44.69 M params)."""
    cfg: dict[str, object] = dict(deepen_factor=1.0, widen_factor=1.0, neck_out_channels=512,
                                  pose_vec_channels=512)
    return RTMO(**{**cfg, **kwargs})  # type: ignore[arg-type]


def rtmo_tiny(**kwargs: object) -> RTMO:
    """A CPU-sized RTMO for SynthPose: widen 0.125, encoder width 64, 64 × 64 bins."""
    cfg: dict[str, object] = dict(
        deepen_factor=0.33, widen_factor=0.125, hidden_dim=64, heads=4, ffn_dim=128,
        neck_out_channels=64, cls_channels=256, channels_per_group=36, groups=4,
        pose_vec_channels=64, dcc_feat_channels=32, num_bins=(64, 64), pe_channels=32,
        gau_s=32)
    return RTMO(**{**cfg, **kwargs})  # type: ignore[arg-type]
