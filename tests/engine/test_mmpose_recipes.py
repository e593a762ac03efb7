"""Each shipped COCO config is MMPose 1.3.2's recipe, or lists where it is not and why.

The reference values come from MMPose's own config files, extracted into
tests/engine/fixtures/mmpose_recipes.json by make_mmpose_recipe_fixtures.py (run in the MMPose
venv). Per config both sides are reduced to the same fields (optimizer, lr, weight decay, betas,
eps, gradient clipping, batch per GPU, epochs, warm-up, decay, layer decay, lr multipliers, drop
path, EMA, losses and their weights, codec, test settings, input normalisation, augmentation
parameters) and compared; a difference fails unless ``DELIBERATE`` lists it with its reason.
docs/training.md repeats the list. Every ``DELIBERATE`` entry must still be a difference, so the
list cannot go stale.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.config import ExperimentConfig, list_configs, load_config
from posekit.data.topdown import image_to_tensor
from posekit.data.transforms import half_body_center_scale
from posekit.engine.topdown_task import TopDownTask
from posekit.models import build_model

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mmpose_recipes.json").read_text())
RECIPES = FIXTURE["recipes"]

# posekit config → MMPose config (None: MMPose 1.x has no recipe for the family; the reason).
MAPPING: dict[str, str | None] = {
    "simplebaseline_res50_coco_256x192": "td-hm_res50_8xb64-210e_coco-256x192",
    "simplebaseline_res101_coco_256x192": "td-hm_res101_8xb64-210e_coco-256x192",
    "simplebaseline_res152_coco_256x192": "td-hm_res152_8xb32-210e_coco-256x192",
    "cpm_6stage_coco_256x192": "td-hm_cpm_8xb64-210e_coco-256x192",
    "hourglass_8stack_coco_256x192": "td-hm_hourglass52_8xb32-210e_coco-256x256",
    **{f"vitpose_{s}{k}_coco_256x192": f"td-hm_ViTPose-{s}{k.replace('_', '-')}_8xb64-210e_coco-"
       "256x192" for s in ("small", "base", "large", "huge") for k in ("", "_simple")},
    "rtmo-s_coco_640x640": "rtmo-s_8xb32-600e_coco-640x640",
    "rtmo-m_coco_640x640": "rtmo-m_16xb16-600e_coco-640x640",
    "rtmo-l_coco_640x640": "rtmo-l_16xb16-600e_coco-640x640",
    "cpn_res50_coco_256x192": None,
    "openpose_cmu_coco": None,
}
NO_MMPOSE_RECIPE = {
    "cpn_res50_coco_256x192": "MMPose has no CPN; the recipe is the paper's (Chen et al., CVPR "
    "2018), its loss is checked against the authors' code in tests/test_losses_references.py",
    "openpose_cmu_coco": "inference-only config for CMU's released model; MMPose 1.x has no "
    "OpenPose trainer (the loss is checked against CMU's prototxt in test_losses_references.py)",
}

_RTMO_SHARED = {
    "init": "MMPose starts CSPDarknet from YOLOX detector weights; posekit downloads nothing",
    "warmup": "MMPose warms up quadratically over 5 epochs (QuadraticWarmupLR); posekit's "
    "schedule has one warm-up kind, linear over schedule.warmup_iters",
    "decay": "MMPose runs a cosine over epochs 5-280, ×2.5 at 280, a second cosine over 281-580 "
    "and a constant lr for the last 20; posekit runs one cosine over all epochs to the same floor",
    "shear": "MMPose's BottomupRandomAffine (perspective mode) adds a U(-2°, 2°) shear per axis; "
    "posekit's WholeImageAffine has no shear",
    "mixup": "YOLOXMixUp is not ported",
    "hsv": "YOLOXHSVRandomAug is not ported",
    "batch_resize": "BatchSyncRandomResize (480-800 px every iteration) is not ported; posekit "
    "trains at the fixed input size",
    "last_epochs_pipeline": "MMPose drops mosaic and the random affine for the last 20 epochs "
    "(YOLOXPoseModeSwitchHook); posekit keeps one pipeline",
}
_VITPOSE = {
    "init": "MMPose starts from MAE ImageNet weights; posekit ships none (posekit pretrain, or "
    "convert released checkpoints)",
}
DELIBERATE: dict[str, dict[str, str]] = {
    "simplebaseline_res50_coco_256x192": {
        "init": "MMPose starts from torchvision's ImageNet ResNet; posekit downloads nothing "
        "(load it with remap_torchvision_resnet)"},
    "simplebaseline_res101_coco_256x192": {
        "init": "MMPose starts from torchvision's ImageNet ResNet; posekit downloads nothing"},
    "simplebaseline_res152_coco_256x192": {
        "init": "MMPose starts from torchvision's ImageNet ResNet; posekit downloads nothing"},
    "hourglass_8stack_coco_256x192": {
        "stages": "posekit's hourglass is Newell's 8-stack network (bearpaw/pytorch-pose), "
        "MMPose's COCO config is the 1-stack hourglass52; every stack's output is supervised",
        "codec": "posekit keeps the 256x192 crop and 64x48 heatmaps of its other COCO configs; "
        "MMPose's hourglass52 uses 256x256 / 64x64",
        "batch_per_gpu": "MMPose's 8xb32 fits the 1-stack model; posekit keeps 64 like its other "
        "256x192 configs (lr 5e-4 as MMPose's for its total batch of 256)",
    },
    **{f"vitpose_{s}{k}_coco_256x192": _VITPOSE for s in ("small", "base", "large", "huge")
       for k in ("", "_simple")},
    "rtmo-s_coco_640x640": _RTMO_SHARED,
    "rtmo-m_coco_640x640": _RTMO_SHARED,
    "rtmo-l_coco_640x640": _RTMO_SHARED,
}
# RTMO's loss names in MMPose → posekit's onestage.loss_weights keys.
RTMO_LOSSES = {"loss_cls": "cls", "loss_bbox": "iou", "loss_oks": "oks", "loss_vis": "vis",
               "loss_mle": "mle", "loss_bbox_aux": "l1"}
MMPOSE_PREFIX = {"neck.encoder": "neck.transformer"}  # the names posekit's converter maps
PRETRAINED = ("Pretrained",)


def _warmup_mmpose(schedulers: list[dict]) -> str:
    first = schedulers[0]
    if first["type"] == "LinearLR" and not first.get("by_epoch", True):
        return f"linear {first['end']} iters from {first['start_factor']:g}"
    if first["type"] == "QuadraticWarmupLR":
        return f"quadratic {first['end']} epochs"
    return "none"


def _decay_mmpose(schedulers: list[dict]) -> str:
    parts = []
    for s in schedulers:
        if s["type"] == "MultiStepLR":
            parts.append(f"step {s['milestones']} x{s['gamma']:g}")
        elif s["type"] == "CosineAnnealingLR":
            parts.append(f"cosine to {s['eta_min']:g} over epochs {s['begin']}-{s['end']}")
        elif s["type"] == "ConstantLR":
            parts.append(f"x{s['factor']:g} over epochs {s['begin']}-{s['end']}")
    return "; ".join(parts)


def _floor_mmpose(schedulers: list[dict]) -> float | None:
    floors = [s["eta_min"] for s in schedulers if s["type"] == "CosineAnnealingLR"]
    return floors[0] if floors else None


def _no_decay_mmpose(r: dict) -> str:
    if r["optimizer"]["weight_decay"] == 0:
        return "n/a"
    if r["constructor"] == "LayerDecayOptimWrapperConstructor":
        return "1-D, biases, position embedding"
    p = r["paramwise"]
    if p.get("norm_decay_mult") == 0 and p.get("bias_decay_mult") == 0:
        return "norm layers and biases"
    return "none"


def _step(r: dict, kind: str) -> dict:
    found = [a for a in r["augment"] if a["type"] == kind]
    return found[0] if found else {}


def mmpose_view(r: dict) -> dict:
    """The compared fields of one MMPose recipe."""
    opt = r["optimizer"]
    v = {
        "optimizer": opt["type"].lower(), "lr": opt["lr"], "weight_decay": opt["weight_decay"],
        "betas": tuple(opt["betas"]), "eps": opt["eps"],
        "no_decay": _no_decay_mmpose(r),
        "grad_clip": (r["clip_grad"] or {}).get("max_norm", 0.0),
        "batch_per_gpu": r["batch_per_gpu"], "epochs": r["epochs"],
        "warmup": _warmup_mmpose(r["schedulers"]), "decay": _decay_mmpose(r["schedulers"]),
        "lr_floor": _floor_mmpose(r["schedulers"]),
        "layer_decay": r["paramwise"].get("layer_decay_rate", 1.0),
        "layers": r["paramwise"].get("num_layers"),
        "lr_mults": {MMPOSE_PREFIX.get(k, k): c["lr_mult"]
                     for k, c in r["paramwise"].get("custom_keys", {}).items() if "lr_mult" in c},
        "drop_path": r["drop_path_rate"],
        "ema": (f"exp-momentum decay {1 - r['ema']['momentum']:g}"
                if r["ema"] and r["ema"]["ema_type"] == "ExpMomentumEMA" else "none"),
        "init": "pretrained backbone" if r["backbone_init"] in PRETRAINED else "random",
    }
    codec = r["codec"]
    if codec["type"] == "YOLOXPoseAnnotationProcessor":
        v["codec"] = ("dcc", tuple(codec["input_size"]))
        v.update(_rtmo_mmpose(r))
    else:
        v["codec"] = ("heatmap", codec["type"] == "UDPHeatmap", tuple(codec["input_size"]),
                      tuple(codec["heatmap_size"]), float(codec["sigma"]))
        loss = r["losses"]["loss"]
        v["loss"] = (loss["type"], loss["use_target_weight"], loss["loss_weight"])
        v["stages"] = (1.0,) * r["head"].get("num_stages", 1)
        v["test"] = (r["test_cfg"]["flip_test"], r["test_cfg"]["shift_heatmap"])
        pre = r["preprocessor"]
        v["preprocess"] = ("rgb" if pre["bgr_to_rgb"] else "bgr", tuple(pre["mean"]),
                           tuple(pre["std"]))
        v.update(_topdown_augment_mmpose(r))
    return v


def _topdown_augment_mmpose(r: dict) -> dict:
    flip, half = _step(r, "RandomFlip"), _step(r, "RandomHalfBody")
    box, affine = _step(r, "RandomBBoxTransform"), _step(r, "TopdownAffine")
    return {
        "aug_padding": _step(r, "GetBBoxCenterScale")["padding"],
        "aug_flip": flip["prob"],
        "aug_half_body": (half["prob"], half["min_total_keypoints"], half["min_upper_keypoints"],
                          half["min_lower_keypoints"], half["upper_prioritized_prob"],
                          half["padding"]),
        "aug_shift": (box["shift_factor"], box["shift_prob"]),
        "aug_scale": (tuple(box["scale_factor"]), box["scale_prob"]),
        "aug_rotate": (box["rotate_factor"], box["rotate_prob"]),
        "aug_udp": affine.get("use_udp", False),
        "aug_color": "none",
    }


def _rtmo_mmpose(r: dict) -> dict:
    weights = {RTMO_LOSSES[k]: e["loss_weight"] for k, e in r["losses"].items()}
    (epoch, switch), = r["mode_switch"]["epoch_attributes"].items()
    stage2 = dict(weights)
    for key, value in switch.items():
        if key.endswith(".loss_weight"):
            stage2[RTMO_LOSSES[key.split(".")[0]]] = value
    affine = _step(r, "BottomupRandomAffine")
    batch_aug = r["preprocessor"]["batch_augments"] or []
    return {
        "loss_weights": weights, "stage2_epoch": int(epoch), "stage2_loss_weights": stage2,
        "overlaps_power": r["head"]["overlaps_power"],
        "stage2_overlaps_power": switch.get("overlaps_power", r["head"]["overlaps_power"]),
        "keypoints_for_center": r["assigner"].get("use_keypoints_for_center", False),
        "test": (r["test_cfg"]["score_thr"], r["test_cfg"]["nms_thr"]),
        "aug_mosaic": _step(r, "Mosaic").get("prob", 0.0),
        "aug_flip": _step(r, "RandomFlip")["prob"],
        "aug_scale": tuple(affine["scale_factor"]),
        "aug_rotate": (affine["rotate_factor"], affine["distribution"]),
        "aug_shift": affine["shift_factor"],
        "shear": affine["shear_factor"] if "perspective" in affine["transform_mode"] else 0.0,
        "mixup": bool(_step(r, "YOLOXMixUp")), "hsv": bool(_step(r, "YOLOXHSVRandomAug")),
        "batch_resize": tuple(b["random_size_range"] for b in batch_aug),
        "last_epochs_pipeline": (r["pipeline_switch"] or {}).get("num_last_epochs", 0),
    }


def _vit_layers(cfg: ExperimentConfig) -> int | None:
    if not cfg.model.name.startswith("vitpose"):
        return None
    with torch.device("meta"):  # the depth, without allocating ViTPose-H's weights
        model = build_model(cfg.model.name, **cfg.model.kwargs)
    return len(model.backbone.blocks)


def posekit_view(cfg: ExperimentConfig) -> dict:
    """The same fields of one posekit config."""
    o, s = cfg.optim, cfg.schedule
    vit = cfg.model.name.startswith("vitpose")
    warmup = f"linear {s.warmup_iters} iters from {s.warmup_ratio:g}" if s.warmup_iters else "none"
    if s.policy == "step":
        decay = f"step {list(s.steps)} x{s.gamma:g}"
    else:
        decay = f"cosine to {o.lr * s.min_lr_ratio:g} over epochs 0-{s.epochs}"
    v = {
        "optimizer": o.optimizer, "lr": o.lr, "weight_decay": o.weight_decay,
        "betas": tuple(o.betas), "eps": 1e-8,  # build_optimizer keeps torch's default eps
        "no_decay": ("n/a" if o.weight_decay == 0 else "1-D, biases, position embedding" if vit
                     else "norm layers and biases"),  # _prefix_groups: every 1-D parameter
        "grad_clip": o.grad_clip, "batch_per_gpu": cfg.data.batch_size, "epochs": s.epochs,
        "warmup": warmup, "decay": decay,
        "lr_floor": o.lr * s.min_lr_ratio if s.policy == "cosine" else None,
        "layer_decay": o.layer_decay, "layers": _vit_layers(cfg), "lr_mults": dict(o.lr_mults),
        "drop_path": cfg.model.kwargs.get("drop_path_rate", 0.0),
        "ema": f"exp-momentum decay {o.ema_decay:g}" if o.ema else "none",
        "init": "pretrained backbone" if cfg.model.init_checkpoint else "random",
    }
    c = cfg.codec
    if c.kind == "dcc":
        v["codec"] = ("dcc", tuple(c.input_size))
        v.update(_rtmo_posekit(cfg))
        return v
    v["codec"] = ("heatmap", c.udp, tuple(c.input_size), tuple(c.heatmap_size), c.sigma)
    v["loss"] = ({"mse": "KeypointMSELoss"}.get(cfg.model.loss, cfg.model.loss), True, 1.0)
    stages = cfg.model.kwargs.get("num_stages", cfg.model.kwargs.get("num_stacks", 1))
    v["stages"] = tuple(cfg.model.stage_weights) or (1.0,) * stages
    v["test"] = (cfg.test.flip_test, cfg.test.shift_heatmap)
    v["preprocess"] = _topdown_preprocess()
    aug = TopDownTask(cfg).augment()
    half_defaults = inspect.signature(half_body_center_scale).parameters
    v.update({
        "aug_padding": aug.padding, "aug_flip": aug.flip_prob,
        "aug_half_body": (aug.half_body_prob, aug.half_body_min_keypoints,
                          half_defaults["min_upper_keypoints"].default,
                          half_defaults["min_lower_keypoints"].default,
                          aug.half_body_upper_prob, aug.half_body_padding),
        "aug_shift": (aug.shift_factor, aug.shift_prob),
        "aug_scale": (tuple(aug.scale_range), aug.scale_prob),
        "aug_rotate": (aug.rotate_factor, aug.rotate_prob),
        "aug_udp": aug.udp, "aug_color": "jitter" if aug.color_jitter else "none",
    })
    return v


def _topdown_preprocess() -> tuple:
    """Channel order, mean and std of the crops posekit's top-down models see, measured on
    image_to_tensor: t = (x − mean) / std on 0–255 pixels."""
    black = image_to_tensor(np.zeros((1, 1, 3), np.uint8))[:, 0, 0].double()
    white = image_to_tensor(np.full((1, 1, 3), 255, np.uint8))[:, 0, 0].double()
    blue = image_to_tensor(np.array([[[255, 0, 0]]], np.uint8))[:, 0, 0].double()  # BGR input
    std = 255 / (white - black)
    mean = -black * std
    order = "rgb" if int((blue - black).abs().argmax()) == 2 else "bgr"
    return order, tuple(round(float(m), 4) for m in mean), tuple(round(float(x), 4) for x in std)


def _rtmo_posekit(cfg: ExperimentConfig) -> dict:
    st, a = cfg.onestage, cfg.augment
    return {
        "loss_weights": dict(st.loss_weights), "stage2_epoch": st.stage2_epoch,
        "stage2_loss_weights": {**st.loss_weights, **st.stage2_loss_weights},
        "overlaps_power": st.overlaps_power,
        "stage2_overlaps_power": (st.stage2_overlaps_power if st.stage2_overlaps_power >= 0
                                  else st.overlaps_power),
        "keypoints_for_center": st.keypoints_for_center,
        "test": (cfg.test.det_score_thresh, cfg.test.nms_thresh),
        "aug_mosaic": a.mosaic_prob, "aug_flip": a.flip_prob, "aug_scale": tuple(a.scale_range),
        "aug_rotate": (a.rotate_factor, "uniform"),  # OneStageDataset: rotation="uniform"
        "aug_shift": a.shift_factor,
        "shear": 0.0,
        "mixup": False, "hsv": False, "batch_resize": (), "last_epochs_pipeline": 0,
    }


def _differences(stem: str) -> dict[str, tuple]:
    cfg = load_config(list_configs()[stem])
    ours, theirs = posekit_view(cfg), mmpose_view(RECIPES[MAPPING[stem]])
    assert set(ours) == set(theirs), set(ours) ^ set(theirs)
    return {k: (ours[k], theirs[k]) for k in ours if not _same(ours[k], theirs[k])}


def _same(a: object, b: object) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


COCO_CONFIGS = sorted(n for n, p in list_configs().items() if "coco" in p.name)


def test_every_shipped_coco_config_is_mapped() -> None:
    assert sorted(MAPPING) == COCO_CONFIGS
    assert {k for k, v in MAPPING.items() if v is None} == set(NO_MMPOSE_RECIPE)
    assert {v for v in MAPPING.values() if v} <= set(RECIPES)


@pytest.mark.parametrize("stem", [n for n in COCO_CONFIGS if MAPPING.get(n)])
def test_recipe_matches_mmpose_or_is_documented(stem: str) -> None:
    diffs = _differences(stem)
    documented = DELIBERATE.get(stem, {})
    undocumented = {k: v for k, v in diffs.items() if k not in documented}
    assert not undocumented, f"{stem}: (posekit, MMPose) differ on {undocumented}"
    stale = sorted(set(documented) - set(diffs))
    assert not stale, f"{stem}: listed as deliberate but equal to MMPose: {stale}"


def test_deliberate_differences_are_in_the_docs() -> None:
    """docs/training.md names every deliberate difference (config and field)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    for stem, fields in DELIBERATE.items():
        for field in fields:
            assert f"`{field}`" in text and stem.split("_coco")[0] in text, (stem, field)
    for stem in NO_MMPOSE_RECIPE:
        assert stem in text


def test_comparison_catches_a_wrong_value() -> None:
    """A changed recipe value shows up as a difference (the comparison is not vacuous)."""
    cfg = load_config(list_configs()["vitpose_base_coco_256x192"], ["optim.layer_decay=0.8"])
    ours = posekit_view(cfg)
    theirs = mmpose_view(RECIPES[MAPPING["vitpose_base_coco_256x192"]])
    assert not _same(ours["layer_decay"], theirs["layer_decay"])
    assert _same(ours["drop_path"], theirs["drop_path"])


def test_rtmo_mosaic_view_assumption() -> None:
    """posekit's RTMO input is a W×H window of the 2W×2H mosaic at scale 1 around canvas point
    (W/2, H/2) (OneStageDataset; pinned by test_onestage_task's mosaic test). That is MMPose's
    view because its BottomupRandomAffine runs in perspective mode, centred on the input size,
    right after a Mosaic of the input size."""
    for name in ("rtmo-s_8xb32-600e_coco-640x640", "rtmo-m_16xb16-600e_coco-640x640",
                 "rtmo-l_16xb16-600e_coco-640x640"):
        steps = [a["type"] for a in RECIPES[name]["augment"]]
        assert steps[:2] == ["Mosaic", "BottomupRandomAffine"]
        recipe = RECIPES[name]
        mosaic, affine = _step(recipe, "Mosaic"), _step(recipe, "BottomupRandomAffine")
        assert affine["transform_mode"] == "perspective"
        assert mosaic["img_scale"] == affine["input_size"] == [640, 640]
