"""ViTPose: sizes, patch/position shapes, position interpolation, attention types, layer decay,
MMPose parity (MMPose 1.x and the official 0.x layout) and ONNX export."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.models import build_model
from posekit.models.backbones.vit import Attention, VisionTransformer, resize_pos_embed
from posekit.models.vitpose import ViTPose, remap_vitpose_state_dict, vitpose_tiny

GOLDEN = Path(__file__).parent / "fixtures" / "mmpose_vitpose_golden.npz"
_spec = importlib.util.spec_from_file_location(
    "make_vitpose_fixtures", Path(__file__).parent / "make_vitpose_fixtures.py")
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
seeded_state = _fixtures.seeded_state


def _keys(data, tag: str) -> list[tuple[str, tuple[int, ...]]]:
    return [(str(n), tuple(int(x) for x in str(s).split(",") if x))
            for n, s in zip(data[f"{tag}_names"], data[f"{tag}_shapes"], strict=True)]


@pytest.mark.parametrize(("name", "millions"), [
    ("vitpose_small", 24.29), ("vitpose_base", 89.99),
    ("vitpose_large", 308.54), ("vitpose_huge", 637.21)])
def test_param_counts_match_mmpose(name, millions):
    with torch.device("meta"):
        model = build_model(name)
    n = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(n - millions) / millions < 0.01, n
    assert round(n, 2) == millions  # in fact exact to the reported digits


@pytest.mark.parametrize(("size", "grid"), [((256, 192), (16, 12)), ((384, 288), (24, 18))])
def test_patch_and_position_shapes(size, grid):
    model = vitpose_tiny(img_size=size, depth=1).eval()
    assert model.backbone.grid == grid
    assert model.backbone.pos_embed.shape == (1, grid[0] * grid[1], 192)
    x = torch.randn(1, 3, *size)
    assert model.backbone.patch_embed(x).shape == (1, 192, *grid)
    assert model(x).shape == (1, 17, 4 * grid[0], 4 * grid[1])


def test_same_weights_at_two_resolutions_and_interpolation_on_load():
    torch.manual_seed(0)
    low = vitpose_tiny(img_size=(256, 192), depth=2).eval()
    high = vitpose_tiny(img_size=(384, 288), depth=2).eval()
    high.load_state_dict(low.state_dict())  # 16×12 → 24×18 resized by the load hook
    expect = resize_pos_embed(low.backbone.pos_embed.detach(), (16, 12), (24, 18))
    assert torch.equal(high.backbone.pos_embed.detach(), expect)
    assert not torch.allclose(expect[:, :192], low.backbone.pos_embed.detach())
    x = torch.randn(1, 3, 384, 288)
    with torch.no_grad():  # run-time resize in `low` equals the load-time one in `high`
        torch.testing.assert_close(low(x), high(x), rtol=0, atol=1e-6)


def test_resize_pos_embed_is_bicubic_and_identity_on_same_grid():
    pos = torch.arange(12.0).reshape(1, 12, 1)  # a linear ramp on a 4×3 grid
    assert resize_pos_embed(pos, (4, 3), (4, 3)) is pos
    out = resize_pos_embed(pos, (4, 3), (8, 6))
    ref = torch.nn.functional.interpolate(pos.reshape(1, 4, 3, 1).permute(0, 3, 1, 2), (8, 6),
                                          mode="bicubic", align_corners=False)
    torch.testing.assert_close(out, ref.flatten(2).transpose(1, 2))


@pytest.mark.parametrize("grid", [(4, 3), (5, 3)])
@pytest.mark.parametrize("kind", ["window", "pooled_window"])
@pytest.mark.parametrize("shift", [False, True])
def test_window_covering_the_map_equals_full_attention(grid, kind, shift):
    torch.manual_seed(0)
    full = Attention(32, 4, attention="full")
    win = Attention(32, 4, attention=kind, window_size=(8, 8), shift=shift)
    win.load_state_dict(full.state_dict())
    x = torch.randn(2, grid[0] * grid[1], 32)
    if kind == "window":
        torch.testing.assert_close(win(x, grid), full(x, grid), rtol=1e-5, atol=1e-5)
    else:  # one window: the pooled token is the mean of all tokens, an extra key
        assert win(x, grid).shape == x.shape


def test_small_windows_differ_from_full_and_stay_local():
    torch.manual_seed(0)
    full = Attention(16, 2, attention="full")
    win = Attention(16, 2, attention="window", window_size=(2, 2))
    win.load_state_dict(full.state_dict())
    grid = (4, 4)
    x = torch.randn(1, 16, 16)
    out = win(x, grid)
    assert not torch.allclose(out, full(x, grid), atol=1e-4)
    # perturbing a token in another window leaves window (0, 0)'s outputs unchanged
    y = x.clone()
    y[0, 15] += 10.0  # cell (3, 3)
    cells = [0, 1, 4, 5]  # window (0, 0)
    torch.testing.assert_close(win(y, grid)[0, cells], out[0, cells])
    # with a shift by 1, cell (3, 3) and cell (0, 0) are neighbours after the roll but the mask
    # keeps wrapped-around regions apart: (0, 0)'s output must not change either
    shifted = Attention(16, 2, attention="window", window_size=(2, 2), shift=True)
    shifted.load_state_dict(full.state_dict())
    torch.testing.assert_close(shifted(y, grid)[0, 0], shifted(x, grid)[0, 0])


def test_window_attention_model_runs_with_padding():
    model = vitpose_tiny(img_size=(128, 96), depth=2, attention="window", window_size=(3, 4))
    assert model.backbone.blocks[1].attn.shift and not model.backbone.blocks[0].attn.shift
    out = model(torch.randn(2, 3, 128, 96))  # 8×6 grid padded to 9×8
    assert out.shape == (2, 17, 32, 24) and torch.isfinite(out).all()
    out.mean().backward()


def test_layer_decay_groups_known_answer():
    model = vitpose_tiny(depth=2, embed_dim=8, num_heads=2, deconv_channels=(4, 4))
    groups = model.param_groups(lr=1.0, weight_decay=0.1, layer_decay=0.5)
    by_name = {n: (g["lr"], g["weight_decay"]) for g in groups for n in g["names"]}
    assert len(by_name) == sum(1 for _ in model.parameters())
    # L = depth + 2 = 4 layers; lr · 0.5^(3 − layer)
    assert by_name["backbone.patch_embed.proj.weight"] == (0.125, 0.1)
    assert by_name["backbone.patch_embed.proj.bias"] == (0.125, 0.0)
    assert by_name["backbone.pos_embed"] == (0.125, 0.0)
    assert by_name["backbone.blocks.0.attn.qkv.weight"] == (0.25, 0.1)
    assert by_name["backbone.blocks.0.norm1.weight"] == (0.25, 0.0)
    assert by_name["backbone.blocks.1.mlp.fc2.weight"] == (0.5, 0.1)
    assert by_name["backbone.blocks.1.mlp.fc2.bias"] == (0.5, 0.0)
    assert by_name["backbone.norm.weight"] == (1.0, 0.0)
    assert by_name["head.deconv_layers.0.weight"] == (1.0, 0.1)
    assert by_name["head.deconv_layers.1.weight"] == (1.0, 0.0)  # BN scale
    assert by_name["head.final_layer.weight"] == (1.0, 0.1)


# ---------------------------------------------------------------- MMPose parity

@pytest.fixture(scope="module")
def golden():
    return np.load(GOLDEN)


def _load_mmpose(model: ViTPose, keys, official: bool = False) -> None:
    sd = seeded_state(keys)
    if official:
        sd = _to_official_layout(sd)
    model.load_state_dict(remap_vitpose_state_dict(sd), strict=True)


def _to_official_layout(sd):
    """MMPose 1.x names → the official ViTPose repo's (read from its vit.py / topdown head),
    with a random class-token slot the official forward adds to every patch."""
    out = {}
    for k, v in sd.items():
        n = k.replace("backbone.ln1.", "backbone.last_norm.")
        n = n.replace("backbone.layers.", "backbone.blocks.").replace(".ln1.", ".norm1.")
        n = n.replace(".ln2.", ".norm2.").replace(".ffn.layers.0.0.", ".mlp.fc1.")
        n = n.replace(".ffn.layers.1.", ".mlp.fc2.")
        n = n.replace("patch_embed.projection", "patch_embed.proj")
        if n.startswith("head."):
            n = "keypoint_head." + n.removeprefix("head.")
        if n == "backbone.pos_embed":
            slot = torch.randn(1, 1, v.shape[-1])
            v = torch.cat([slot, v - slot], 1)  # (1, 1 + N, C)
        out[n] = v
    return out


@pytest.mark.parametrize(("tag", "decoder", "size"), [
    ("s_classic", "classic", "256x192"), ("s_simple", "simple", "256x192"),
    ("s_classic", "classic", "128x96")])
def test_parity_with_mmpose(golden, tag, decoder, size):
    model = build_model("vitpose_small", decoder=decoder).eval()
    _load_mmpose(model, _keys(golden, tag))
    with torch.no_grad():
        out = model(torch.from_numpy(golden[f"input_{size}"]))
    ref = torch.from_numpy(golden[f"{tag}_heatmaps_{size}"])
    assert ref.abs().max() > 1e-3  # non-trivial signal
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-4)


def test_parity_with_official_vitpose_layout(golden):
    model = build_model("vitpose_small").eval()
    _load_mmpose(model, _keys(golden, "s_classic"), official=True)
    with torch.no_grad():
        out = model(torch.from_numpy(golden["input_256x192"]))
    torch.testing.assert_close(out, torch.from_numpy(golden["s_classic_heatmaps_256x192"]),
                               rtol=0, atol=1e-4)


@pytest.mark.parametrize(("tag", "name", "decoder"), [
    ("s_classic", "vitpose_small", "classic"), ("s_simple", "vitpose_small", "simple"),
    ("b_classic", "vitpose_base", "classic")])
def test_key_lists_map_completely(golden, tag, name, decoder):
    with torch.device("meta"):
        model = build_model(name, decoder=decoder)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    theirs = dict(_keys(golden, tag))
    remapped = remap_vitpose_state_dict(
        {k: torch.empty(s, device="meta") for k, s in theirs.items()})
    assert {k: tuple(v.shape) for k, v in remapped.items()} == ours


def test_remap_official_folds_cls_slot():
    pos = torch.randn(1, 1 + 6, 4)
    out = remap_vitpose_state_dict({
        "backbone.pos_embed": pos, "keypoint_head.final_layer.bias": torch.zeros(3),
        "module.backbone.last_norm.weight": torch.ones(4)})
    torch.testing.assert_close(out["backbone.pos_embed"], pos[:, 1:] + pos[:, :1])
    assert set(out) == {"backbone.pos_embed", "head.final_layer.bias", "backbone.norm.weight"}


# ---------------------------------------------------------------- export and training

def test_onnx_export_parity():
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model = vitpose_tiny(depth=2).eval()
    x = torch.randn(1, 3, 128, 96)
    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, input_names=["images"], output_names=["heatmaps"],
                      dynamo=False, opset_version=17)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (out,) = sess.run(None, {"images": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(out, model(x).numpy(), rtol=0, atol=1e-4)


def test_multi_head_and_knowledge_tokens_shapes_and_backward():
    model = vitpose_tiny(num_keypoints=(17, 16), depth=1, num_knowledge_tokens=1)
    outs = model.forward_heads(torch.randn(2, 3, 128, 96))
    assert [o.shape[1] for o in outs] == [17, 16]
    sum(o.mean() for o in outs).backward()
    assert model.knowledge_tokens.grad is not None


def test_vision_transformer_rejects_bad_input():
    with pytest.raises(ValueError, match="img_size"):
        VisionTransformer(img_size=(256,))
    with pytest.raises(ValueError, match="attention"):
        vitpose_tiny(attention="global")
    with pytest.raises(ValueError, match="decoder"):
        vitpose_tiny(decoder="fancy")


def test_build_optimizer_uses_param_groups_and_config_layer_decay():
    from posekit.config import load_config
    from posekit.engine.train import build_optimizer

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "configs/vitpose/vitpose_tiny_synthpose_128x96.yaml",
                      ["--optim.layer_decay", "0.5", "--optim.lr", "1.0"])
    model = vitpose_tiny(depth=2, embed_dim=8, num_heads=2, deconv_channels=(4, 4))
    opt = build_optimizer(model, cfg)
    lr_of = {id(p): (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}
    assert lr_of[id(model.backbone.pos_embed)] == (0.125, 0.0)
    assert lr_of[id(model.backbone.blocks[1].attn.qkv.weight)] == (0.5, cfg.optim.weight_decay)
    assert lr_of[id(model.head.final_layer.weight)] == (1.0, cfg.optim.weight_decay)
    assert isinstance(opt, torch.optim.AdamW)


@pytest.mark.parametrize("path", sorted(
    (Path(__file__).resolve().parents[2] / "configs/vitpose").glob("*.yaml")))
def test_configs_build(path):
    from posekit.config import load_config
    from posekit.engine.tasks import build_task

    cfg = load_config(path)
    with torch.device("meta"):
        model = build_task(cfg).build_model()
    assert isinstance(model, ViTPose)
    assert model.backbone.img_size == (cfg.codec.input_size[1], cfg.codec.input_size[0])


@pytest.mark.parametrize("attention", ["window"])  # full attention: test_onnx_export_parity
def test_product_onnx_export_parity(tmp_path, attention):
    pytest.importorskip("onnxruntime")
    from posekit.config import load_config
    from posekit.engine.tasks import build_task
    from posekit.export.onnx import OnnxRunner, export_onnx

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "configs/vitpose/vitpose_tiny_synthpose_128x96.yaml", [
        "model.kwargs={depth: 2, embed_dim: 32, num_heads: 2, deconv_channels: [16, 16], "
        f"attention: {attention}, window_size: [3, 4]}}"])
    torch.manual_seed(0)
    task = build_task(cfg)
    model = task.build_model().eval()
    path = export_onnx(task, model, tmp_path / "vitpose.onnx")
    x = torch.randn(3, 3, 128, 96)
    with torch.no_grad():
        ref = model(x)
    torch.testing.assert_close(OnnxRunner(path)(x), ref, rtol=0, atol=1e-4)
