"""Plain Vision Transformer backbone of ViTPose (Xu et al., "ViTPose: Simple Vision Transformer
Baselines for Human Pose Estimation", NeurIPS 2022; talk §13).

Patch embedding is a 16×16 stride-16 conv with padding 2 (the paper's), so a 256×192 crop gives a
16×12 token grid (output stride 16): images (B, 3, H, W) → features (B, C, Hp, Wp) with
Hp = (H + 4 − 16) // 16 + 1. Pre-norm blocks (LayerNorm ε 1e-6 → MHSA → residual, LayerNorm → MLP
ratio 4, GELU → residual) with stochastic depth, then a final LayerNorm.

The absolute position embedding is stored for the configured ``img_size`` grid and resized
bicubically (align_corners False, as MMPretrain's ``resize_pos_embed``) when the input grid
differs, at run time and when a checkpoint with another grid is loaded (a load_state_dict hook).

Attention type is a constructor choice (talk §13, "flexible in attention type"): ``full``;
``window`` (non-overlapping windows, every odd block shifted by half a window, Swin's masking so
no window mixes tokens that the roll wrapped around); ``pooled_window`` (each window also attends
to one average-pooled token per window, a cheap global context). Grids not divisible by the
window are padded; padded tokens never act as keys of real tokens.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ATTENTION_TYPES",
    "VisionTransformer",
    "resize_pos_embed",
    "vit_small",
    "vit_base",
    "vit_large",
    "vit_huge",
    "vit_tiny",
]

ATTENTION_TYPES = ("full", "window", "pooled_window")


def resize_pos_embed(pos: Tensor, src: tuple[int, int], dst: tuple[int, int]) -> Tensor:
    """Bicubic resize of a (1, Hs·Ws, C) position embedding to (1, Hd·Wd, C)."""
    if tuple(src) == tuple(dst):
        return pos
    c = pos.shape[-1]
    grid = pos.reshape(1, src[0], src[1], c).permute(0, 3, 1, 2)  # (1, C, Hs, Ws)
    grid = F.interpolate(grid, size=tuple(dst), mode="bicubic", align_corners=False)
    return grid.flatten(2).transpose(1, 2)  # (1, Hd·Wd, C)


class DropPath(nn.Module):
    """Stochastic depth: zero a sample's residual branch with probability p, rescale the rest."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class PatchEmbed(nn.Module):
    """16×16 conv patchifier with the paper's padding 2: (B, 3, H, W) → (B, C, Hp, Wp)."""

    def __init__(self, in_channels: int = 3, embed_dim: int = 768, patch_size: int = 16,
                 padding: int = 2) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.padding = padding
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size,
                              padding=padding)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """Token grid (Hp, Wp) for an input of height × width."""
        p, pad = self.patch_size, self.padding
        return (height + 2 * pad - p) // p + 1, (width + 2 * pad - p) // p + 1

    def forward(self, images: Tensor) -> Tensor:
        return self.proj(images)


class Attention(nn.Module):
    """Multi-head self-attention over tokens laid out on an (Hp, Wp) grid.

    Args:
        dim: token width C.
        num_heads: heads; C must divide by it.
        attention: one of ATTENTION_TYPES.
        window_size: (h, w) window in tokens (window types only).
        shift: roll the grid by half a window before partitioning (shifted windows).
    """

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool = True,
                 attention: str = "full", window_size: tuple[int, int] = (8, 6),
                 shift: bool = False) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"embed dim {dim} must divide by num_heads {num_heads}")
        if attention not in ATTENTION_TYPES:
            raise ValueError(f"attention must be one of {ATTENTION_TYPES}, got {attention!r}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.attention = attention
        self.window_size = (int(window_size[0]), int(window_size[1]))
        self.shift = shift

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        """softmax(q·kᵀ/√d + mask)·v (Vaswani et al., 2017): q (B, h, Nq, d), k/v (B, h, Nk, d),
        additive mask broadcastable to (B, h, Nq, Nk); PyTorch's fused kernel, as mmpretrain."""
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, h, N, d)
        return q, k, v

    def forward(self, x: Tensor, grid: tuple[int, int], extra: int = 0) -> Tensor:
        """x (B, Hp·Wp + extra, C); ``extra`` trailing tokens (e.g. a knowledge token) take part
        in full attention only."""
        b, n, c = x.shape
        if self.attention == "full" or extra:
            q, k, v = self._split(x)
            out = self._attend(q, k, v, None).transpose(1, 2).reshape(b, n, c)
            return self.proj(out)
        return self.proj(self._windowed(x, grid))

    def _windowed(self, x: Tensor, grid: tuple[int, int]) -> Tensor:
        b, _, c = x.shape
        hp, wp = grid
        wh, ww = min(self.window_size[0], hp), min(self.window_size[1], wp)
        ph, pw = (-hp) % wh, (-wp) % ww
        x = x.reshape(b, hp, wp, c)
        x = F.pad(x, (0, 0, 0, pw, 0, ph))  # (B, Hq, Wq, C), zero tokens at bottom/right
        hq, wq = hp + ph, wp + pw
        # Region id of every grid cell: padding is -1; with a shift, Swin's three bands per axis.
        region = x.new_zeros(hq, wq)
        region[hp:, :] = -1
        region[:, wp:] = -1
        # No shift along an axis one window already covers (Swin's rule).
        sh = wh // 2 if self.shift and wh < hp else 0
        sw = ww // 2 if self.shift and ww < wp else 0
        if sh or sw:
            band = x.new_zeros(hq, wq)
            rows = (slice(0, hq - wh), slice(hq - wh, hq - sh), slice(hq - sh, hq))
            cols = (slice(0, wq - ww), slice(wq - ww, wq - sw), slice(wq - sw, wq))
            for i, hs in enumerate(rows):
                for j, ws in enumerate(cols):
                    band[hs, ws] = 3 * i + j + 1
            x = torch.roll(x, shifts=(-sh, -sw), dims=(1, 2))
            region = torch.roll(region, shifts=(-sh, -sw), dims=(0, 1))
            region = torch.where(region < 0, region, band)
        nh, nw = hq // wh, wq // ww
        # (B, nh, wh, nw, ww, C) → (B·nW, wh·ww, C)
        win = x.reshape(b, nh, wh, nw, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, wh * ww, c)
        rid = region.reshape(nh, wh, nw, ww).permute(0, 2, 1, 3).reshape(-1, wh * ww)  # (nW, T)
        mask = (rid[:, :, None] != rid[:, None, :]).to(x.dtype) * -1e4  # (nW, T, T)
        mask = mask.repeat(b, 1, 1)[:, None]  # (B·nW, 1, T, T)
        q, k, v = self._split(win)
        if self.attention == "pooled_window":
            # One average-pooled token per window joins every window's keys and values.
            pooled = win.reshape(b, nh * nw, wh * ww, c).mean(2)  # (B, nW, C)
            _, pk, pv = self._split(pooled)  # (B, h, nW, d)
            pk = pk.repeat_interleave(nh * nw, dim=0)  # (B·nW, h, nW, d)
            pv = pv.repeat_interleave(nh * nw, dim=0)
            k, v = torch.cat([k, pk], 2), torch.cat([v, pv], 2)
            mask = F.pad(mask, (0, nh * nw))
        out = self._attend(q, k, v, mask).transpose(1, 2).reshape(-1, wh * ww, c)
        out = out.reshape(b, nh, nw, wh, ww, c).permute(0, 1, 3, 2, 4, 5).reshape(b, hq, wq, c)
        if sh or sw:
            out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))
        return out[:, :hp, :wp].reshape(b, hp * wp, c)


class Mlp(nn.Module):
    """Linear → GELU → Linear (ratio 4 in ViTPose)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + DP(MHSA(LN(x))), then x + DP(MLP(LN(x)))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 qkv_bias: bool = True, attention: str = "full",
                 window_size: tuple[int, int] = (8, 6), shift: bool = False) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, attention=attention,
                              window_size=window_size, shift=shift)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor, grid: tuple[int, int], extra: int = 0) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), grid, extra))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """Plain ViT returning a single stride-16 feature map (B, C, Hp, Wp).

    Args:
        img_size: (H, W) the position embedding is stored for (256×192 in ViTPose).
        patch_size, patch_padding: 16 and 2, the paper's patch embedding.
        embed_dim, depth, num_heads, mlp_ratio: the transformer's size.
        drop_path_rate: stochastic-depth rate, rising linearly from 0 to this over the blocks.
        attention: full | window | pooled_window (see the module docstring).
        window_size: (h, w) attention window in tokens for the window types.
    """

    def __init__(
        self,
        *,
        img_size: tuple[int, int] = (256, 192),
        patch_size: int = 16,
        patch_padding: int = 2,
        in_channels: int = 3,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path_rate: float = 0.0,
        attention: str = "full",
        window_size: tuple[int, int] = (8, 6),
    ) -> None:
        super().__init__()
        if len(img_size) != 2:
            raise ValueError(f"img_size must be (H, W), got {img_size!r}")
        self.patch_embed = PatchEmbed(in_channels, embed_dim, patch_size, patch_padding)
        self.img_size = (int(img_size[0]), int(img_size[1]))
        self.grid = self.patch_embed.grid(*self.img_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1], embed_dim))
        rates = [drop_path_rate * i / max(1, depth - 1) for i in range(depth)]  # linear 0 → rate
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, rates[i], qkv_bias, attention,
                  tuple(window_size), shift=attention == "window" and i % 2 == 1)
            for i in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.embed_dim = embed_dim
        self.out_channels: tuple[int, ...] = (embed_dim,)
        self.strides: tuple[int, ...] = (patch_size,)
        self._init_weights()
        self._register_load_state_dict_pre_hook(self._resize_pos_on_load)

    def _init_weights(self) -> None:
        """Truncated-normal (σ 0.02) linears and position embedding, unit LayerNorm (as ViTPose)."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _resize_pos_on_load(self, state_dict: dict, prefix: str, *args: object) -> None:
        """A checkpoint's position embedding for another grid is resized bicubically on load."""
        key = prefix + "pos_embed"
        pos = state_dict.get(key)
        if pos is None or pos.shape == self.pos_embed.shape:
            return
        n = pos.shape[1]
        src = _guess_grid(n, self.grid)
        if src is None:
            raise ValueError(
                f"{key}: cannot infer the token grid of a {tuple(pos.shape)} position embedding "
                f"(model grid {self.grid})"
            )
        state_dict[key] = resize_pos_embed(pos, src, self.grid)

    def pos_for(self, grid: tuple[int, int]) -> Tensor:
        """Position embedding for a token grid (bicubic resize if it is not the stored one)."""
        return resize_pos_embed(self.pos_embed, self.grid, grid)

    def forward_tokens(self, images: Tensor, extra_tokens: Tensor | None = None
                       ) -> tuple[Tensor, tuple[int, int]]:
        """Tokens after the final norm, (B, Hp·Wp, C), and the grid (Hp, Wp).

        ``extra_tokens`` (T, C) are appended after the position embedding, take part in every
        block (full attention) and are dropped from the output (ViTPose's knowledge tokens).
        """
        x = self.patch_embed(images)  # (B, C, Hp, Wp)
        grid = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2) + self.pos_for(grid)  # (B, Hp·Wp, C)
        extra = 0
        if extra_tokens is not None:
            extra = extra_tokens.shape[0]
            x = torch.cat([x, extra_tokens[None].expand(x.shape[0], -1, -1)], 1)
        for block in self.blocks:
            x = block(x, grid, extra)
        x = self.norm(x)
        return x[:, : grid[0] * grid[1]], grid

    def forward(self, images: Tensor, extra_tokens: Tensor | None = None) -> Tensor:
        """Feature map (B, C, Hp, Wp) for images (B, 3, H, W)."""
        x, (hp, wp) = self.forward_tokens(images, extra_tokens)
        return x.transpose(1, 2).reshape(x.shape[0], self.embed_dim, hp, wp)


def _guess_grid(n: int, ref: tuple[int, int]) -> tuple[int, int] | None:
    """The (h, w) with h·w = n whose aspect ratio is closest to ``ref``'s."""
    best = None
    for h in range(1, n + 1):
        if n % h == 0:
            w = n // h
            err = abs(math.log(h / w) - math.log(ref[0] / ref[1]))
            if best is None or err < best[0]:
                best = (err, (h, w))
    return None if best is None else best[1]


def vit_small(**kwargs: object) -> VisionTransformer:
    """ViT-S: embed 384, depth 12, 12 heads."""
    return VisionTransformer(embed_dim=384, depth=12, num_heads=12, **kwargs)


def vit_base(**kwargs: object) -> VisionTransformer:
    """ViT-B: embed 768, depth 12, 12 heads."""
    return VisionTransformer(embed_dim=768, depth=12, num_heads=12, **kwargs)


def vit_large(**kwargs: object) -> VisionTransformer:
    """ViT-L: embed 1024, depth 24, 16 heads."""
    return VisionTransformer(embed_dim=1024, depth=24, num_heads=16, **kwargs)


def vit_huge(**kwargs: object) -> VisionTransformer:
    """ViT-H: embed 1280, depth 32, 16 heads."""
    return VisionTransformer(embed_dim=1280, depth=32, num_heads=16, **kwargs)


def vit_tiny(**kwargs: object) -> VisionTransformer:
    """A CPU-sized ViT: embed 192, depth 6, 3 heads (posekit's, not the paper's)."""
    return VisionTransformer(embed_dim=192, depth=6, num_heads=3, **kwargs)
