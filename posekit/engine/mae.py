"""MAE pre-training of a ViTPose backbone on person crops (He et al., "Masked Autoencoders Are
Scalable Vision Learners", CVPR 2022; ViTPose's "flexible in data", talk §13).

The encoder is the model's own `VisionTransformer` and sees a random 25 % of the patch tokens
(mask ratio 0.75, position embedding added before masking); a light transformer decoder (posekit:
width 128, depth 2, 4 heads) fills the masked positions with a learned mask token and predicts
each patch's pixels. Loss: MSE on masked patches against per-patch normalised pixels (MAE's
``norm_pix_loss``). Patches are cut from the image padded by the patch embedding's padding, so
the target grid is the token grid (padding 2: 128×96 → 8×6). Full attention only.

`pretrain` trains it on a config's training crops (``posekit pretrain CONFIG``) and saves a posekit
checkpoint with the backbone's weights under ``backbone.*``; ``model.init_checkpoint`` in a
fine-tuning config loads them (`posekit.engine.checkpoint.load_init_checkpoint`).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

from posekit.config import ExperimentConfig
from posekit.engine.checkpoint import save_checkpoint
from posekit.engine.tasks import build_task
from posekit.models.backbones.vit import Block, VisionTransformer
from posekit.models.vitpose import ViTPose

__all__ = ["MaskedAutoencoder", "patchify", "pretrain"]


def patchify(images: Tensor, patch: int, padding: int) -> Tensor:
    """(B, 3, H, W) → (B, Hp·Wp, patch²·3) pixel patches on the patch embedding's grid."""
    x = F.pad(images, (padding,) * 4)
    cols = F.unfold(x, patch, stride=patch)  # (B, 3·p², Hp·Wp)
    return cols.transpose(1, 2)


class MaskedAutoencoder(nn.Module):
    """MAE around a `VisionTransformer` encoder; ``forward`` returns the masked-patch loss."""

    def __init__(self, encoder: VisionTransformer, *, mask_ratio: float = 0.75,
                 decoder_dim: int = 128, decoder_depth: int = 2, decoder_heads: int = 4) -> None:
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        if any(b.attn.attention != "full" for b in encoder.blocks):
            raise ValueError("MAE pre-training needs a full-attention encoder")
        self.encoder = encoder
        self.mask_ratio = mask_ratio
        c = encoder.embed_dim
        n = encoder.grid[0] * encoder.grid[1]
        p = encoder.patch_embed.patch_size
        self.decoder_embed = nn.Linear(c, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        self.decoder_pos = nn.Parameter(torch.zeros(1, n, decoder_dim))
        self.decoder_blocks = nn.ModuleList(
            Block(decoder_dim, decoder_heads) for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_dim, p * p * 3)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        nn.init.trunc_normal_(self.decoder_pos, std=0.02)

    def forward(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        enc = self.encoder
        x = enc.patch_embed(images)  # (B, C, Hp, Wp)
        grid = (x.shape[2], x.shape[3])
        x = x.flatten(2).transpose(1, 2) + enc.pos_for(grid)  # (B, N, C)
        b, n, c = x.shape
        keep = max(1, int(round(n * (1 - self.mask_ratio))))
        noise = torch.rand(b, n, generator=generator, device=x.device)
        order = noise.argsort(1)  # random permutation per sample
        visible = order[:, :keep]  # (B, keep)
        x = torch.gather(x, 1, visible[..., None].expand(-1, -1, c))
        for block in enc.blocks:
            x = block(x, grid)  # full attention over the visible tokens
        x = self.decoder_embed(enc.norm(x))  # (B, keep, D)
        d = x.shape[-1]
        full = self.mask_token.expand(b, n, d).clone()
        full = full.scatter(1, visible[..., None].expand(-1, -1, d), x)  # back in grid order
        full = full + F.interpolate(
            self.decoder_pos.reshape(1, *enc.grid, d).permute(0, 3, 1, 2), size=grid,
            mode="bicubic", align_corners=False).flatten(2).transpose(1, 2)
        for block in self.decoder_blocks:
            full = block(full, grid)
        pred = self.decoder_pred(self.decoder_norm(full))  # (B, N, p²·3)
        target = patchify(images, enc.patch_embed.patch_size, enc.patch_embed.padding)
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
        target = (target - mean) / (var + 1e-6).sqrt()  # MAE's norm_pix_loss
        masked = torch.ones(b, n, device=x.device)
        masked.scatter_(1, visible, 0.0)  # 1 where the encoder saw nothing
        per_patch = ((pred - target) ** 2).mean(-1)
        return (per_patch * masked).sum() / masked.sum()


def pretrain(cfg: ExperimentConfig, out: str | Path, *, epochs: int = 10,
             mask_ratio: float = 0.75, lr: float = 1.5e-4 * 4, max_minutes: float = 0.0,
             device: str = "cpu", log: bool = True) -> Path:
    """MAE-train the backbone of ``cfg``'s model on its training crops; returns the checkpoint
    path (``out``/mae.pt, weights under ``backbone.*``)."""
    torch.manual_seed(cfg.train.seed)
    task = build_task(cfg)
    model = task.build_model()
    if not isinstance(model, ViTPose):
        raise TypeError(f"MAE pre-training needs a ViTPose model (ViT backbone), got "
                        f"{type(model).__name__}")
    backbone = model.backbone
    mae = MaskedAutoencoder(backbone, mask_ratio=mask_ratio).to(device)
    dataset = task.train_dataset()
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, shuffle=True,
                        num_workers=cfg.data.workers, drop_last=True)
    opt = torch.optim.AdamW(mae.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.05)
    start = time.perf_counter()
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        total, count = 0.0, 0
        for batch in loader:
            loss = mae(batch["image"].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, count = total + loss.item(), count + 1
        if log:
            print(f"mae epoch {epoch}: loss={total / max(1, count):.4f}", flush=True)
        if max_minutes and time.perf_counter() - start > 60 * max_minutes:
            break
    path = Path(out) / "mae.pt"
    state = {f"backbone.{k}": v for k, v in backbone.state_dict().items()}
    save_checkpoint({"model": state, "mae_epochs": epoch + 1, "mask_ratio": mask_ratio}, path)
    return path
