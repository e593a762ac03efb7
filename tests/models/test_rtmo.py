"""RTMO: shapes per level, parameter counts, MMPose parity and key mapping, ONNX export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from make_rtmo_fixtures import CONSTANT_KEYS, seeded_weights  # rule of the MMPose fixtures

from posekit.models import MODELS, build_model
from posekit.models.rtmo import (
    RTMO,
    RTMOInference,
    remap_rtmo_state_dict,
    rtmo_s,
    rtmo_tiny,
)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def keys():
    return json.loads((FIXTURES / "rtmo_mmpose_keys.json").read_text())


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(FIXTURES / "rtmo_mmpose_golden.npz"))


@pytest.fixture(scope="module")
def converted_s(keys):
    names_shapes = [(k, tuple(s)) for k, s in keys["s"]]
    weights = {k: torch.from_numpy(v) for k, v in seeded_weights(names_shapes).items()}
    for k, s in keys["s"]:  # counters and constants come along as a checkpoint would hold them
        if k not in weights:
            weights[k] = torch.zeros(s, dtype=torch.long if "num_batches" in k else torch.float32)
    model = rtmo_s().eval()
    model.load_state_dict(remap_rtmo_state_dict(weights), strict=True)
    return model


@pytest.mark.parametrize("variant,official", [("s", 9.87e6), ("m", 22.53e6), ("l", 44.69e6)])
def test_param_counts_match_mmpose(variant, official, keys):
    model = MODELS[f"rtmo_{variant}"]()
    n = sum(p.numel() for p in model.parameters())
    assert n == keys[f"{variant}_params"]  # exactly MMPose 1.3.2's count
    assert abs(n - official) / official < 0.01


@pytest.mark.parametrize("variant", ["s", "m", "l"])
def test_remap_maps_every_key_with_equal_shapes(variant, keys):
    src = {k: torch.zeros(s) for k, s in keys[variant]}
    mapped = remap_rtmo_state_dict(src)
    own = MODELS[f"rtmo_{variant}"]().state_dict()
    assert set(mapped) == set(own)
    for k, v in mapped.items():
        assert tuple(v.shape) == tuple(own[k].shape), k
    dropped = set(src) - {k for k in src if k not in CONSTANT_KEYS}
    assert dropped == set(CONSTANT_KEYS)


def test_remap_rejects_unknown_key():
    with pytest.raises(ValueError, match="head.extra"):
        remap_rtmo_state_dict({"head.extra.weight": torch.zeros(1)})


def test_raw_head_outputs_match_mmpose(converted_s, golden):
    with torch.no_grad():
        out = converted_s(torch.from_numpy(golden["input"]))
    tol = dict(atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(out.priors[:, :2].numpy(), golden["priors"][:, :2], **tol)
    np.testing.assert_allclose(out.priors[:, 2].numpy(), golden["priors"][:, 2], **tol)
    np.testing.assert_allclose(out.cls_logits[0].numpy(), golden["cls_logits"][:, 0], **tol)
    np.testing.assert_allclose(out.box_deltas[0].numpy(), golden["box_deltas"], **tol)
    np.testing.assert_allclose(out.kpt_offsets[0].reshape(-1, 34).numpy(), golden["kpt_offsets"],
                               **tol)
    np.testing.assert_allclose(out.vis_logits[0].numpy(), golden["vis_logits"], **tol)
    np.testing.assert_allclose(out.pose_vecs[0].numpy(), golden["pose_vecs"], **tol)


def test_decoded_boxes_keypoints_sigmas_match_mmpose(converted_s, golden):
    with torch.no_grad():
        out = converted_s(torch.from_numpy(golden["input"]))
        boxes = RTMO.decode_boxes(out.box_deltas, out.priors)[0]
        dcc = converted_s.dcc(out.pose_vecs[0], boxes, out.priors[:, :2])
        scores, dense_boxes, dense_kpts, _ = converted_s.predict_dense(
            torch.from_numpy(golden["input"]))
    np.testing.assert_allclose(boxes.numpy(), golden["boxes"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(dcc.keypoints.numpy(), golden["keypoints"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(dcc.sigmas.numpy(), golden["sigmas"], atol=1e-5)
    np.testing.assert_allclose(dense_kpts[0].numpy(), golden["keypoints"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(scores[0].numpy(), 1 / (1 + np.exp(-golden["cls_logits"][:, 0])),
                               atol=1e-5)
    # the keypoints are not trivially the box centres: they spread over the box
    assert np.abs(golden["keypoints"] - golden["boxes"][:, None, :2]).max() > 1.0


def test_shapes_per_level_and_priors():
    model = rtmo_tiny().eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 96, 160) * 255)
    n16, n32 = (96 // 16) * (160 // 16), (96 // 32) * (160 // 32)
    n = n16 + n32
    assert out.cls_logits.shape == (2, n)
    assert out.box_deltas.shape == (2, n, 4)
    assert out.kpt_offsets.shape == (2, n, 17, 2)
    assert out.vis_logits.shape == (2, n, 17)
    assert out.pose_vecs.shape == (2, n, 64)
    # stride-16 level first, row-major, centres at j·s + (s − 1)/2
    assert out.priors[:3].tolist() == [[7.5, 7.5, 16.0], [23.5, 7.5, 16.0], [39.5, 7.5, 16.0]]
    assert out.priors[10].tolist() == [7.5, 23.5, 16.0]
    assert out.priors[n16].tolist() == [15.5, 15.5, 32.0]
    assert out.priors[-1].tolist() == [4 * 32 + 15.5, 2 * 32 + 15.5, 32.0]


def test_decode_boxes_known_answer():
    priors = torch.tensor([[7.5, 7.5, 16.0], [15.5, 15.5, 32.0]])
    deltas = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [1.0, -0.5, float(np.log(2.0)), 0.0]]])
    boxes = RTMO.decode_boxes(deltas, priors)[0]
    assert boxes[0].tolist() == [-0.5, -0.5, 15.5, 15.5]
    # centre (15.5 + 32, 15.5 − 16), size (64, 32)
    torch.testing.assert_close(boxes[1], torch.tensor([15.5, -16.5, 79.5, 15.5]))


def test_encode_boxes_inverts_decode_boxes():
    g = torch.Generator().manual_seed(0)
    priors = torch.tensor([[7.5, 7.5, 16.0], [15.5, 15.5, 32.0], [47.5, 15.5, 32.0]])
    deltas = torch.randn(1, 3, 4, generator=g)
    boxes = RTMO.decode_boxes(deltas, priors)[0]  # (3, 4) xyxy
    torch.testing.assert_close(RTMO.encode_boxes(boxes, priors), deltas[0], atol=1e-5, rtol=0)


def test_backward_and_finite():
    model = rtmo_tiny().train()
    out = model(torch.rand(2, 3, 64, 64) * 255)
    boxes = RTMO.decode_boxes(out.box_deltas, out.priors)
    dcc = model.dcc(out.pose_vecs[0, :4], boxes[0, :4].detach(), out.priors[:4, :2])
    loss = out.cls_logits.mean() + dcc.keypoints.mean() + dcc.sigmas.mean()
    loss.backward()
    assert all(torch.isfinite(t).all() for t in out)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert model.dcc.gau.pos.grad is not None and model.dcc.x_fc.weight.grad is not None
    assert len(grads) > 50


def test_dcc_trains_on_a_single_positive():
    """One positive in a batch: BatchNorm1d has no batch statistics, so the DCC uses its running
    ones (unchanged) instead of raising; two rows still use and update the batch statistics."""
    model = rtmo_tiny().train()
    out = model(torch.rand(1, 3, 64, 64) * 255)
    boxes = RTMO.decode_boxes(out.box_deltas, out.priors).detach()
    bn = model.dcc.pose_to_kpts[1]
    before = bn.running_mean.clone()
    one = model.dcc(out.pose_vecs[0, :1], boxes[0, :1], out.priors[:1, :2])
    one.keypoints.sum().backward(retain_graph=True)
    torch.testing.assert_close(bn.running_mean, before)
    model.eval()
    with torch.no_grad():
        ref = model.dcc(out.pose_vecs[0, :1], boxes[0, :1], out.priors[:1, :2])
    torch.testing.assert_close(one.keypoints.detach(), ref.keypoints)
    model.train()
    model.dcc(out.pose_vecs[0, :2], boxes[0, :2], out.priors[:2, :2])
    assert not torch.equal(bn.running_mean, before)


def test_build_model_kwargs():
    model = build_model("rtmo_tiny", dcc_decode="argmax", num_keypoints=5)
    assert model.dcc.decode == "argmax" and model.num_keypoints == 5
    with pytest.raises(ValueError, match="dcc_decode|decode"):
        build_model("rtmo_tiny", dcc_decode="mean")


def _export_dynamo(net, example, path):
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (example,), str(path), dynamo=True, opset_version=18,
                          input_names=["input"],
                          dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},))


def _tiny_with_spread_scores() -> RTMO:
    """rtmo_tiny whose person scores spread around 0.5 (the initial bias puts all at 0.01)."""
    torch.manual_seed(0)
    model = rtmo_tiny().eval()
    for conv in model.head.cls_out:
        torch.nn.init.normal_(conv.weight, std=0.05)
        torch.nn.init.zeros_(conv.bias)
    return model


def test_inference_candidates_and_keypoints_equal_dense_decoding():
    model = _tiny_with_spread_scores()
    net = RTMOInference(model, score_thresh=0.5).eval()
    x = torch.rand(2, 3, 64, 96) * 255
    with torch.no_grad():
        scores, boxes, kpts, kscores, batch = net(x)
        dense = model.predict_dense(x)
    assert 0 < len(scores) < 2 * dense[0].shape[1]  # some locations pass, not all
    for b in range(2):
        mine = batch == b
        want = torch.nonzero(dense[0][b] > 0.5)[:, 0]
        want = want[dense[0][b, want].argsort(descending=True)]  # score order
        torch.testing.assert_close(scores[mine], dense[0][b, want])
        torch.testing.assert_close(boxes[mine], dense[1][b, want])
        torch.testing.assert_close(kpts[mine], dense[2][b, want], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(kscores[mine], dense[3][b, want])


@pytest.mark.slow
def test_onnx_export_parity(tmp_path):
    """The exported graph (dynamo, opset 18, free batch axis): the candidates above the score
    threshold with their DCC keypoints, as eager; a graph that finds nobody returns empty."""
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    import onnx

    model = _tiny_with_spread_scores()
    net = RTMOInference(model, score_thresh=0.5).eval()
    path = tmp_path / "rtmo_tiny.onnx"
    _export_dynamo(net, torch.rand(2, 3, 64, 96) * 255, path)
    graph_ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not graph_ops & {"ReduceL2", "LpNormalization"}  # norm ops MMPose's export trips on
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = torch.rand(batch, 3, 64, 96) * 255
        got = sess.run(None, {"input": x.numpy()})
        with torch.no_grad():
            want = net(x)
        assert len(got[0]) > 0
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w.numpy(), atol=1e-4, rtol=1e-4)
    nobody = RTMOInference(model, score_thresh=0.999).eval()
    _export_dynamo(nobody, torch.rand(2, 3, 64, 96) * 255, tmp_path / "nobody.onnx")
    sess = ort.InferenceSession(str(tmp_path / "nobody.onnx"),
                                providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": (torch.rand(1, 3, 64, 96) * 255).numpy()})
    assert [g.shape for g in got] == [(0,), (0, 4), (0, 17, 2), (0, 17), (0,)]


def test_dcc_argmax_decode_lands_on_a_bin(converted_s, golden):
    x = torch.from_numpy(golden["input"])
    with torch.no_grad():
        out = converted_s(x)
        boxes = RTMO.decode_boxes(out.box_deltas, out.priors)[0]
        converted_s.dcc.decode = "argmax"
        try:
            dcc = converted_s.dcc(out.pose_vecs[0], boxes, out.priors[:, :2])
        finally:
            converted_s.dcc.decode = "expectation"
    best_x = dcc.bins_x.gather(1, dcc.prob_x.argmax(-1))  # (M, K)
    torch.testing.assert_close(dcc.keypoints[..., 0], best_x)
    assert not torch.allclose(dcc.keypoints[..., 0], torch.from_numpy(golden["keypoints"][..., 0]))


@pytest.mark.parametrize("variant,count", [("rtmo-s_coco_640x640", 9_868_899),
                                           ("rtmo-m_coco_640x640", 22_526_307),
                                           ("rtmo-l_coco_640x640", 44_693_315),
                                           ("rtmo_tiny_synthpose_256x256", 520_307)])
def test_configs_build_the_counted_models(variant, count):
    from posekit.config import load_config

    cfg = load_config(Path(__file__).parents[2] / "configs" / "rtmo" / f"{variant}.yaml")
    assert cfg.model.task == "onestage"
    w, h = cfg.codec.input_size
    assert h % 32 == 0 and w % 32 == 0
    model = build_model(cfg.model.name, **cfg.model.kwargs)
    assert sum(p.numel() for p in model.parameters()) == count


def test_posekit_convert_reproduces_mmpose(tmp_path, keys, golden):
    """`posekit convert` end to end (through the one-stage task)."""
    from posekit.engine.tasks import TASKS

    if "onestage" not in TASKS:
        pytest.skip("the onestage task is not registered on this branch yet")
    from posekit.export.convert import convert_checkpoint

    weights = {k: torch.from_numpy(v)
               for k, v in seeded_weights([(k, tuple(s)) for k, s in keys["s"]]).items()}
    for k, s in keys["s"]:
        if k not in weights:
            weights[k] = torch.zeros(s, dtype=torch.long if "num_batches" in k else torch.float32)
    src = tmp_path / "rtmo-s_mmpose.pth"
    torch.save({"meta": {"epoch": 600}, "state_dict": weights}, src)
    config = Path(__file__).parents[2] / "configs" / "rtmo" / "rtmo-s_coco_640x640.yaml"
    out = convert_checkpoint(src, config, tmp_path / "rtmo_s.pt")
    state = torch.load(out, weights_only=True)["model"]
    model = rtmo_s().eval()
    model.load_state_dict(state)
    with torch.no_grad():
        raw = model(torch.from_numpy(golden["input"]))
    np.testing.assert_allclose(raw.vis_logits[0].numpy(), golden["vis_logits"], atol=1e-4,
                               rtol=1e-4)
