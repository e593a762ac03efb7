"""Write tests/engine/fixtures/mmpose_recipes.json: MMPose 1.3.2's training recipes, read from its
packaged config files, and the distribution of its top-down augmentation, drawn by its own
transforms. The reference side of tests/engine/test_mmpose_recipes.py and test_augment_stats.py.

Not run by pytest. It needs MMPose in the scratch venv (../shared/tools/mmpose-venv.sh), never in
posekit's own:

    $MMPOSE_VENV/bin/python tests/engine/make_mmpose_recipe_fixtures.py

Per config (``CONFIGS``): optimizer (type, lr, weight decay, betas, eps), parameter-wise rules
(layer decay, lr multipliers, norm/bias decay), gradient clipping, batch per GPU × GPUs (the GPU
count from the config name, ``8xb64``), epochs, every lr scheduler, drop path, EMA, loss types and
weights (RTMO: every term and the epoch switches of ``RTMOModeSwitchHook``), the codec, the test
settings, the data preprocessor and the parameters of every training transform as MMPose builds
it (its defaults filled in). Then ``DRAWS`` draws of GetBBoxCenterScale → RandomFlip →
RandomHalfBody → RandomBBoxTransform on one synthetic person (``SAMPLE``), summarised as event
frequencies and the empirical CDFs of the shift, scale and rotation on fixed grids.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, "/work/shared/tools")
import mmpose_reference as mr  # noqa: E402  (registers MMPose's modules)
from mmengine.config import Config  # noqa: E402
from mmpose.registry import TRANSFORMS  # noqa: E402

OUT = Path(__file__).parent / "fixtures" / "mmpose_recipes.json"
TD = "body_2d_keypoint/topdown_heatmap/coco/"
CONFIGS = [
    TD + "td-hm_res50_8xb64-210e_coco-256x192.py",
    TD + "td-hm_res101_8xb64-210e_coco-256x192.py",
    TD + "td-hm_res152_8xb32-210e_coco-256x192.py",
    TD + "td-hm_cpm_8xb64-210e_coco-256x192.py",
    TD + "td-hm_hourglass52_8xb32-210e_coco-256x256.py",
    *(TD + f"td-hm_ViTPose-{size}{kind}_8xb64-210e_coco-256x192.py"
      for size in ("small", "base", "large", "huge") for kind in ("", "-simple")),
    "body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py",
    "body_2d_keypoint/rtmo/coco/rtmo-m_16xb16-600e_coco-640x640.py",
    "body_2d_keypoint/rtmo/coco/rtmo-l_16xb16-600e_coco-640x640.py",
]
DRAWS, SEED = 4000, 0
# One synthetic COCO person in a 400 × 400 image: box (x, y, w, h) and 17 labelled keypoints, the
# upper body (0–10) above y = 180 and the lower body (11–16) below y = 220.
SAMPLE = {
    "image_size": [400, 400],
    "bbox_xywh": [100.0, 100.0, 150.0, 200.0],
    "keypoints": [[100 + 15 * i, 100 + 8 * i] for i in range(11)]
    + [[120 + 22 * i, 220 + 16 * i] for i in range(6)],
}
GRIDS = {  # where the empirical CDFs are stored
    "shift": np.linspace(-0.17, 0.17, 69),
    "scale": np.linspace(0.45, 1.55, 111),
    "rotation": np.linspace(-82.0, 82.0, 165),
}
SIMPLE = (bool, int, float, str, type(None))


def plain(value):
    """Config values as json: tuples as lists, numpy scalars as numbers, callables dropped."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items() if plain(v) is not _DROP}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value if isinstance(value, SIMPLE) else _DROP


_DROP = object()


def transform_params(step: dict) -> dict:
    """A pipeline step as MMPose builds it: its own attributes, defaults included."""
    step = dict(step)
    step.pop("pre_transform", None)  # Mosaic/MixUp load their extra images; not a parameter
    built = TRANSFORMS.build(step)
    attrs = {k: plain(v) for k, v in vars(built).items() if not k.startswith("_")}
    return {"type": step["type"], **{k: v for k, v in attrs.items() if v is not _DROP}}


def loss_entry(cfg: dict | None) -> dict | None:
    """Type and weight of a loss config (MMPose's loss_weight default is 1)."""
    if cfg is None:
        return None
    return {"type": cfg["type"], "loss_weight": float(cfg.get("loss_weight", 1.0)),
            **{k: plain(v) for k, v in cfg.items() if k in ("use_target_weight", "reduction")}}


def recipe(rel: str) -> dict:
    cfg = Config.fromfile(os.path.join(mr.CFG_ROOT, rel))
    gpus, per_gpu = map(int, re.search(r"_(\d+)xb(\d+)-", rel).groups())
    loader = cfg.train_dataloader
    assert loader.batch_size == per_gpu, (rel, loader.batch_size)
    optim = cfg.optim_wrapper
    opt = dict(optim.optimizer)
    paramwise = dict(optim.get("paramwise_cfg", {}))
    model = cfg.model
    head = model.head
    losses = {k: loss_entry(v) for k, v in head.items() if k.startswith("loss")}
    hooks = {h["type"]: plain(dict(h)) for h in cfg.get("custom_hooks", [])}
    pipeline = loader.dataset.pipeline
    if "train_pipeline_stage1" in cfg:
        pipeline = cfg.train_pipeline_stage1
    aug = [transform_params(s) for s in pipeline
           if s["type"] not in ("LoadImage", "GenerateTarget", "PackPoseInputs")]
    stage2 = [transform_params(s) for s in cfg.get("train_pipeline_stage2", [])
              if s["type"] not in ("LoadImage", "GenerateTarget", "PackPoseInputs")]
    return {
        "config": rel,
        "optimizer": {"type": opt["type"], "lr": opt["lr"],
                      "weight_decay": opt.get("weight_decay", 0.0),
                      "betas": list(opt.get("betas", (0.9, 0.999))),
                      "eps": opt.get("eps", 1e-8)},
        "constructor": optim.get("constructor", "DefaultOptimWrapperConstructor"),
        "paramwise": plain(paramwise),
        "clip_grad": plain(optim.get("clip_grad")),
        "batch_per_gpu": per_gpu,
        "gpus": gpus,
        "auto_scale_lr_base": cfg.get("auto_scale_lr", {}).get("base_batch_size"),
        "epochs": cfg.train_cfg.max_epochs,
        "schedulers": plain([dict(s) for s in cfg.param_scheduler]),
        "drop_path_rate": plain(model.backbone.get("drop_path_rate", 0.0)),
        "backbone_init": (model.backbone.get("init_cfg") or {}).get("type"),
        "ema": hooks.get("EMAHook"),
        "mode_switch": hooks.get("RTMOModeSwitchHook"),
        "pipeline_switch": hooks.get("YOLOXPoseModeSwitchHook"),
        "losses": losses,
        "head": {k: plain(head[k]) for k in ("overlaps_power", "num_stages") if k in head},
        "assigner": plain(dict(head.get("assigner", {}))),
        "codec": plain(dict(cfg.codec)),
        "test_cfg": plain(dict(model.get("test_cfg", head.get("test_cfg", {})))),
        "preprocessor": {k: plain(model.data_preprocessor.get(k)) for k in (
            "mean", "std", "bgr_to_rgb", "batch_augments")},
        "augment": aug,
        "augment_stage2": stage2,
    }


def draws() -> dict:
    """Sampled flip, half-body, shift, scale and rotation of MMPose's top-down pipeline."""
    np.random.seed(SEED)  # noqa: NPY002  (MMPose's transforms draw from the global state)
    random.seed(SEED)
    steps = [TRANSFORMS.build(dict(type=t)) for t in (
        "GetBBoxCenterScale", "RandomFlip", "RandomHalfBody", "RandomBBoxTransform")]
    x, y, w, h = SAMPLE["bbox_xywh"]
    kpts = np.array(SAMPLE["keypoints"], np.float32)[None]
    rows = {"flip": [], "half": [], "shift_x": [], "shift_y": [], "scale": [], "rotation": []}
    for _ in range(DRAWS):
        results = {
            "img": np.zeros((*SAMPLE["image_size"][::-1], 3), np.uint8),
            "img_shape": tuple(SAMPLE["image_size"][::-1]),
            "bbox": np.array([[x, y, x + w, y + h]], np.float32),
            "keypoints": kpts.copy(), "keypoints_visible": np.ones((1, 17), np.float32),
            "flip_indices": [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
            "upper_body_ids": list(range(11)), "lower_body_ids": list(range(11, 17)),
        }
        results = steps[0](results)
        results = steps[1](results)
        rows["flip"].append(bool(results.get("flip", False)))
        before = results["bbox_center"].copy()
        results = steps[2](results)
        moved = not np.allclose(results["bbox_center"], before)
        # upper body: its keypoints lie above y = 180, the whole box's centre is at y = 200
        rows["half"].append(("upper" if results["bbox_center"][0, 1] < 180 else "lower")
                            if moved else "none")
        center, scale = results["bbox_center"].copy(), results["bbox_scale"].copy()
        results = steps[3](results)
        shift = (results["bbox_center"] - center) / scale
        rows["shift_x"].append(float(shift[0, 0]))
        rows["shift_y"].append(float(shift[0, 1]))
        rows["scale"].append(float(results["bbox_scale"][0, 0] / scale[0, 0]))
        rows["rotation"].append(float(results["bbox_rotation"][0]))
    return summarise(rows)


def summarise(rows: dict) -> dict:
    """Event frequencies and empirical CDFs on ``GRIDS`` (the same summary the test computes)."""
    half = np.array(rows["half"])
    out = {"n": len(rows["flip"]), "flip": float(np.mean(rows["flip"])),
           "half_body": float(np.mean(half != "none")),
           "half_body_upper": float(np.mean(half[half != "none"] == "upper")),
           "shift_applied": float(np.mean(np.array(rows["shift_x"]) != 0)),
           "rotate_applied": float(np.mean(np.array(rows["rotation"]) != 0)), "cdf": {}}
    for name, grid_name in (("shift_x", "shift"), ("shift_y", "shift"), ("scale", "scale"),
                            ("rotation", "rotation")):
        values = np.sort(np.array(rows[name]))
        grid = GRIDS[grid_name]
        out["cdf"][name] = np.round(np.searchsorted(values, grid, side="right") / len(values),
                                    5).tolist()
    out["grids"] = {k: np.round(v, 6).tolist() for k, v in GRIDS.items()}
    return out


def main() -> None:
    data = {"mmpose": __import__("mmpose").__version__, "sample": SAMPLE,
            "recipes": {rel.rsplit("/", 1)[1][: -len(".py")]: recipe(rel) for rel in CONFIGS},
            "topdown_draws": draws()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
