"""MAE pre-training: patch grid, masked-only loss, loss falls on a tiny set, checkpoint initialises
a fine-tuning model through model.init_checkpoint, CLI."""

from __future__ import annotations

import pytest
import torch

from posekit.cli import main
from posekit.engine.mae import MaskedAutoencoder, patchify, pretrain
from posekit.engine.tasks import build_task
from posekit.models.vitpose import vitpose_tiny
from tests.conftest import tiny_topdown_config

KW = "model.kwargs={depth: 1, embed_dim: 32, num_heads: 2, deconv_channels: [16, 16]}"


def test_patchify_matches_the_token_grid_and_pixels():
    images = torch.arange(2 * 3 * 128 * 96, dtype=torch.float32).reshape(2, 3, 128, 96)
    patches = patchify(images, 16, 2)
    assert patches.shape == (2, 8 * 6, 3 * 16 * 16)
    # patch (0, 0) starts 2 pixels above/left of the image (zero padding), channel-major
    first = patches[0, 0].reshape(3, 16, 16)
    assert torch.equal(first[:, :2], torch.zeros(3, 2, 16))
    assert torch.equal(first[:, 2:, 2:], images[0, :, :14, :14])


def test_loss_counts_only_masked_patches():
    torch.manual_seed(0)
    mae = MaskedAutoencoder(vitpose_tiny(depth=1, embed_dim=32, num_heads=2).backbone,
                            mask_ratio=0.75)
    images = torch.randn(2, 3, 128, 96)
    loss = mae(images, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert mae.encoder.pos_embed.grad is not None
    with pytest.raises(ValueError, match="full-attention"):
        MaskedAutoencoder(vitpose_tiny(depth=2, attention="window").backbone)


def test_pretrain_lowers_loss_and_initialises_finetuning(tmp_path, capsys):
    cfg = tiny_topdown_config("model.name=vitpose_tiny", KW, "augment.flip_prob=0.0")
    path = pretrain(cfg, tmp_path, epochs=6, lr=2e-3)
    losses = [float(line.split("loss=")[1]) for line in capsys.readouterr().out.splitlines()
              if line.startswith("mae epoch")]
    assert len(losses) == 6 and losses[-1] < losses[0]
    ft = build_task(tiny_topdown_config("model.name=vitpose_tiny", KW,
                                        f"model.init_checkpoint={path}"))
    model = ft.build_model()
    saved = torch.load(path, weights_only=True)["model"]
    assert torch.equal(model.backbone.blocks[0].attn.qkv.weight,
                       saved["backbone.blocks.0.attn.qkv.weight"])
    scratch = build_task(tiny_topdown_config("model.name=vitpose_tiny", KW)).build_model()
    assert not torch.equal(scratch.backbone.pos_embed, model.backbone.pos_embed)


def test_pretrain_cli(tmp_path, capsys):
    from tests.conftest import REAL_COCO_JSON

    rc = main(["pretrain", "configs/vitpose/vitpose_tiny_synthpose_128x96.yaml",
               f"data.train_ann={REAL_COCO_JSON}", "data.workers=0", "data.batch_size=4",
               "--out", str(tmp_path), "--epochs", "1"])
    assert rc == 0 and (tmp_path / "mae.pt").is_file()
    assert "model.init_checkpoint=" in capsys.readouterr().out
