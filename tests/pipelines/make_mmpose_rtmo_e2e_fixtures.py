"""Write tests/pipelines/fixtures/mmpose_rtmo_e2e.json and .npz: MMPose 1.3.2's one-stage RTMO-s,
image in, people out (``mmpose.apis.inference_bottomup``), on real COCO images.

Not run by pytest. It needs MMPose in the scratch venv (../shared/tools/mmpose-venv.sh), never in
posekit's own:

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 $MMPOSE_VENV/bin/python \
        tests/pipelines/make_mmpose_rtmo_e2e_fixtures.py

Weights (never stored): ../shared/tools/mmpose_rtmo_calibrated.py calibrates seeded RTMO-s weights
on CALIB_IMAGE so that person scores spread over (0, 1). Its starting weights here are
``seeded_weights`` of tests/models/make_rtmo_fixtures.py (seed 10, MMPose's key order; the
constant buffers keep their built values), which posekit can rebuild, instead of MMPose's
build-time init, which it cannot. The json's ``calibration`` block is the whole recipe
(`calibrated_state_dict` applies it): BN running statistics redrawn from one
``torch.Generator(seed)`` in key order, then each head output conv's weight multiplied by a
recorded float factor and its bias filled with a constant or multiplied by the same factor;
finally (not in the tool) the box-size bias ``WH_BIAS`` so that NMS suppresses something. The
script checks that the recipe reproduces that checkpoint bit for bit.

Stored per image, in MMPose's order (npz, as MMPose returns them): bboxes (xyxy, image pixels),
bbox scores, keypoints, keypoint scores; the same four from MMPose run in float64
(``img{i}_f64_*``); in the json how far MMPose's float32 keypoints move between 1 thread and the
default, the preprocessing facts (input size, centre/scale of BottomupResize's warp, padding
value, channel order) and the post-processing constants; in the npz also a 20×20 block mean of
the network input and, for every prior, the sigmoid score and decoded box (input pixels) before
the score threshold.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

TOOLS = "/work/shared/tools"
DATA = "/work/shared/data/mmpose_coco"
ROOT = Path(__file__).resolve().parents[2]
CONFIG = "body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py"
SEED = 10
CALIB_IMAGE = "000000196141.jpg"  # non-square (640×429)
IMAGES = ("000000196141.jpg", "000000197388.jpg")
# The tool's targets: head output layer → (output std, bias fill or None = bias scaled too).
TARGETS = {"out_cls": (1.5, -2.0), "out_bbox": (0.4, 0.0), "out_kpt_vis": (1.0, 0.0),
           "out_pose": (1.0, None), "out_kpt_reg": (1.0, None)}
PEOPLE_KEYS = ("bboxes", "bbox_scores", "keypoints", "keypoint_scores")
# Added on top of the tool: the box-size channels of out_bbox get this bias, so that boxes are
# about exp(1.5) ≈ 4.5 strides wide, overlap their neighbours and NMS has work to do (with the
# tool's bias 0 they are one stride wide and NMS at 0.65 keeps every candidate).
WH_BIAS = 1.5
OUT = Path(__file__).parent / "fixtures"
JSON = OUT / "mmpose_rtmo_e2e.json"


def load_calibration() -> dict:
    return json.loads(JSON.read_text())["calibration"]


def calibrated_state_dict(start: dict[str, torch.Tensor], calibration: dict
                          ) -> dict[str, torch.Tensor]:
    """The calibrated RTMO state dict from the stored recipe (no forward pass needed), written
    over ``start``: MMPose's built state dict, or zeros of its keys and shapes."""
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    from make_rtmo_fixtures import seeded_weights

    sd = {k: v.clone() for k, v in start.items()}
    names_shapes = [(k, tuple(v.shape)) for k, v in sd.items()]
    for k, v in seeded_weights(names_shapes, calibration["seed"]).items():
        sd[k] = torch.from_numpy(v)
    g = torch.Generator().manual_seed(calibration["seed"])
    for name, t in sd.items():
        if name.endswith("running_var"):
            t.copy_(0.9 + 0.2 * torch.rand(t.shape, generator=g))
        elif name.endswith("running_mean"):
            t.copy_(0.01 * torch.randn(t.shape, generator=g))
    for layer in calibration["layers"]:
        w, b = sd[layer["prefix"] + ".weight"], sd[layer["prefix"] + ".bias"]
        w.mul_(layer["factor"])
        if layer["bias_fill"] is None:
            b.mul_(layer["factor"])
        else:
            b.fill_(layer["bias_fill"])
    for prefix in calibration["wh_bias"]["layers"]:
        sd[prefix + ".bias"][2:] = calibration["wh_bias"]["value"]
    return sd


def run_tool(work: str) -> tuple[str, dict]:
    """Run mmpose_rtmo_calibrated.py on the seeded weights; return its checkpoint and recipe."""
    sys.path.insert(0, TOOLS)
    sys.path.insert(0, str(ROOT / "tests" / "models"))
    import mmpose_reference as mr
    from make_rtmo_fixtures import seeded_weights

    stds: list[dict[str, float]] = []
    build = mr.build

    def seeded_build(cfg_rel):
        model = build(cfg_rel)
        sd = model.state_dict()
        for k, v in seeded_weights([(k, tuple(v.shape)) for k, v in sd.items()], SEED).items():
            sd[k] = torch.from_numpy(v)
        model.load_state_dict(sd)
        head = model.head.head_module
        model.backbone.register_forward_pre_hook(lambda *_: stds.append({}))
        for name in TARGETS:
            for i, m in enumerate(getattr(head, name)):
                m.register_forward_hook(
                    lambda _m, _i, o, key=f"{name}.{i}": stds[-1].__setitem__(key, float(o.std())))
        return model

    mr.build = seeded_build

    tool = os.path.join(TOOLS, "mmpose_rtmo_calibrated.py")
    sys.argv = [tool, CONFIG, str(SEED), os.path.join(DATA, CALIB_IMAGE), work]
    runpy.run_path(tool, run_name="__main__")
    # The tool's k-th forward calibrates the k-th target; eval mode never runs out_kpt_reg.
    layers = []
    for k, (name, (std, bias)) in enumerate(TARGETS.items()):
        for key, o_std in sorted(stds[k].items()):
            if key.startswith(name + "."):
                layers.append({"prefix": "head.head_module." + key, "factor": std / (o_std or 1.0),
                               "bias_fill": bias, "output_std_before": o_std})
    recipe = {
        "seed": SEED, "calibration_image": CALIB_IMAGE,
        "steps": [
            "seeded_weights(MMPose key list, seed) from tests/models/make_rtmo_fixtures.py; "
            "its CONSTANT_KEYS and num_batches_tracked keep MMPose's built values",
            "g = torch.Generator().manual_seed(seed); in state-dict key order: *.running_var <- "
            "0.9 + 0.2 * torch.rand(shape, generator=g), *.running_mean <- "
            "0.01 * torch.randn(shape, generator=g)",
            "for each layer below: weight.mul_(factor); bias.fill_(bias_fill), or "
            "bias.mul_(factor) when bias_fill is null",
            "then, not in the tool: bias[2:] (the log w, log h channels) of each wh_bias layer "
            "<- wh_bias.value",
        ],
        "wh_bias": {"layers": [f"head.head_module.out_bbox.{i}" for i in range(2)],
                    "value": WH_BIAS},
        "tool_rule": "factor = target_std / float(output.std()) from one eval forward of "
                     "cv2.resize(BGR image, (640, 640)) as float32 0-255, no normalisation; "
                     "targets (std, bias): " + json.dumps(TARGETS),
        "not_rescaled": "out_kpt_reg (the eval forward never runs it; it keeps seeded weights)",
        "layers": layers,
    }
    path = os.path.join(work, "mmpose.pth")
    ckpt = torch.load(path, map_location="cpu")
    for prefix in recipe["wh_bias"]["layers"]:
        ckpt["state_dict"][prefix + ".bias"][2:] = WH_BIAS
    torch.save(ckpt, path)
    return path, recipe


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        ckpt, recipe = run_tool(work)
        import mmpose
        import mmpose_reference as mr
        from mmpose.apis import inference_bottomup, init_model

        model = init_model(os.path.join(mr.CFG_ROOT, CONFIG), ckpt, device="cpu")
        tool_sd = torch.load(ckpt, map_location="cpu")["state_dict"]
        rebuilt = calibrated_state_dict(mr.build(CONFIG).state_dict(), recipe)
        assert tool_sd.keys() == rebuilt.keys()
        for k in tool_sd:
            assert torch.equal(tool_sd[k], rebuilt[k]), k
        print("recipe reproduces the tool's checkpoint exactly")

        captured: dict = {}
        model.data_preprocessor.register_forward_hook(
            lambda _m, _a, out: captured.__setitem__("inputs", out["inputs"]))
        model.head.head_module.register_forward_hook(
            lambda _m, _a, out: captured.__setitem__("head", out))
        people, arrays = [], {}
        for i, name in enumerate(IMAGES):
            sample = inference_bottomup(model, os.path.join(DATA, name))[0]
            pred = sample.pred_instances
            meta = sample.metainfo
            x = captured["inputs"][0]
            arrays[f"img{i}_input_block_mean_20x20"] = (
                x.reshape(3, 20, x.shape[1] // 20, 20, x.shape[2] // 20).mean((2, 4))
                .numpy().astype(np.float32))
            cls, bbox, _, _, _ = captured["head"]
            head = model.head
            sizes = [c.shape[2:] for c in cls]
            priors = torch.cat(head.prior_generator.grid_priors(sizes, dtype=x.dtype, device="cpu",
                                                                with_stride=True))
            scores = head._flatten_predictions(cls)[0].sigmoid()[:, 0]
            boxes = head.decode_bbox(head._flatten_predictions(bbox), priors[:, :2],
                                     priors[:, -1])[0]
            arrays[f"img{i}_prior_scores"] = scores.numpy().astype(np.float32)
            arrays[f"img{i}_prior_boxes_input_px"] = boxes.numpy().astype(np.float32)
            people.append({
                "image": name, "ori_shape": list(meta["ori_shape"]),
                "img_shape": list(meta["img_shape"]), "input_size": list(meta["input_size"]),
                "input_center": np.asarray(meta["input_center"]).tolist(),
                "input_scale": np.asarray(meta["input_scale"]).tolist(),
                "input_mean_per_channel": x.mean((1, 2)).tolist(),
                "n_priors": len(priors), "n_priors_above_score_thr":
                    int((scores > model.test_cfg["score_thr"]).sum()),
                "n_people": len(pred.bboxes),
                "top5_bbox_scores": pred.bbox_scores[:5].tolist(),
                "people_arrays": [f"img{i}_{k}" for k in PEOPLE_KEYS],
            })
            for k in PEOPLE_KEYS:
                arrays[f"img{i}_{k}"] = np.asarray(pred[k])
            s = pred.bbox_scores
            print(f"{name}: {len(s)} people, scores {np.round(s, 3).tolist()[:12]}..., "
                  f"{people[-1]['n_priors_above_score_thr']} priors above thr")
        float64 = run_float64(model)
        arrays.update(float64["arrays"])
        head = model.head
        info = {
            "mmpose": mmpose.__version__, "torch": torch.__version__, "config": CONFIG,
            "command": "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 $MMPOSE_VENV/bin/python "
                       "tests/pipelines/make_mmpose_rtmo_e2e_fixtures.py",
            "api": "mmpose.apis.init_model(config, checkpoint, device='cpu'); "
                   "mmpose.apis.inference_bottomup(model, image_path)[0].pred_instances",
            "calibration": recipe,
            "preprocessing": {
                "pipeline": [dict(t) for t in model.cfg.test_dataloader.dataset.pipeline],
                "image_channel_order": "BGR (cv2), float 0-255, mean 0, std 1, no bgr_to_rgb",
                "data_preprocessor": dict(model.cfg.model.data_preprocessor),
                "resize": "BottomupResize(resize_mode='fit', use_udp=False): actual size "
                          "(min(640, 640*w/h), min(640, 640*h/w)); centre (w/2, h/2), scale "
                          "(w*640/actual_w, h*640/actual_h); cv2.warpAffine(get_warp_matrix("
                          "centre, scale, 0, (640, 640)), INTER_LINEAR, border 114): the image "
                          "is centred, padding split on both sides",
                "output_to_image": "p_img = p_input / input_size * input_scale + input_center "
                                   "- 0.5 * input_scale (boxes and keypoints)",
            },
            "postprocessing": {
                "test_cfg": dict(model.test_cfg),
                "nms_pre_default": 100000, "score": "sigmoid(cls logit), score > score_thr",
                "nms": "mmpose nms_torch (IoU on the decoded xyxy boxes, greedy, score order), "
                       "nms_thr from test_cfg",
                "max_people": "no cap (nms_pre 100000 candidates before NMS)",
                "bbox_padding": float(head.bbox_padding),
                "box_decode": "xy = prior + delta_xy * stride; wh = exp(delta_wh) * stride; "
                              "xyxy = xy -/+ wh/2",
                "keypoints": "DCC.forward_test(pose_vecs, bbox_xyxy2cs(box, bbox_padding), "
                             "prior) on the kept boxes",
                "keypoint_scores": "sigmoid(kpt_vis logit)",
                "box_clamp": "boxes clamped to [0, input_size] in input pixels before the map "
                             "back to the image",
                "featmap_strides": list(head.featmap_strides),
                "prior_offset": "MlvlPointGenerator(centralize_points=True): (i + 0.5) * stride",
            },
            "people": people,
            "float64": float64["info"],
        }
    OUT.mkdir(parents=True, exist_ok=True)
    JSON.write_text(json.dumps(info, indent=1, default=_plain))
    np.savez_compressed(OUT / "mmpose_rtmo_e2e.npz", **arrays)
    print(f"wrote {JSON}")


def run_float64(model) -> dict:
    """The same people from MMPose in float64 (model and network input cast; the image warp is
    unchanged), and how far MMPose's float32 people move between thread counts: float32 noise."""
    from mmpose.apis import inference_bottomup

    def people(threads: int) -> list:
        torch.set_num_threads(threads)
        return [inference_bottomup(model, os.path.join(DATA, name))[0].pred_instances
                for name in IMAGES]

    default_threads = torch.get_num_threads()
    one, default = people(1), people(default_threads)
    spread = []
    for name, a, b in zip(IMAGES, one, default, strict=True):
        err = np.abs(np.asarray(a.keypoints) - np.asarray(b.keypoints)).max(axis=(1, 2))
        spread.append({"image": name, "threads": [1, default_threads],
                       "keypoints_max_abs_px": float(err.max()),
                       "people_within_0.01px": float((err < 0.01).mean())})
    model.double()
    hook = model.data_preprocessor.register_forward_hook(
        lambda _m, _a, out: {**out, "inputs": out["inputs"].double()})
    torch.set_num_threads(default_threads)
    arrays = {}
    for i, pred in enumerate(people(default_threads)):
        for k in PEOPLE_KEYS:
            arrays[f"img{i}_f64_{k}"] = np.asarray(pred[k], dtype=np.float32)  # 4e-5 px
    hook.remove()
    model.float()
    return {"arrays": arrays, "info": {
        "what": "img{i}_f64_*: inference_bottomup with model.double() and the data "
                "preprocessor's output cast to float64; stored as float32",
        "float32_people_across_thread_counts": spread}}


def _plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return str(v)


if __name__ == "__main__":
    main()
