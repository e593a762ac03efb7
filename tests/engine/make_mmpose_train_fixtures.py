"""Write tests/engine/fixtures/train_steps/*.json (+ rtmo_s_simota_iter1.npz): MMPose 1.3.2's own
training steps on the real COCO sample, the reference side of a training-step parity check.

Not run by pytest. It needs MMPose in the scratch venv (../shared/tools/mmpose-venv.sh), never in
posekit's own, and runs MMEngine's Runner through ../shared/tools/mmpose_train_steps.py:

    TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 $MMPOSE_VENV/bin/python \
        tests/engine/make_mmpose_train_fixtures.py [RUN ...]

RUN is any of ``RUNS`` (default: all). Each run trains 3 iterations at batch 4 from a seeded
checkpoint on /work/shared/data/mmpose_coco (no shuffle, no augmentation, no mosaic, no
BatchSyncRandomResize) and stores, per iteration: every loss term as MMPose names it, the lr of
every optimizer group, the grad norm before clipping, the samples of the batch (image id and
annotation ids, in MMPose's order), per-sample input means and target summaries, and the squared
L2 norm of the backbone/neck/head parameters after the step. Also stored: the weight rule (no
weights), the config edits, the dataset's sample list after MMPose's filtering, the optimizer as
built (per group: lr, weight decay, betas, eps, parameter names) and the lr schedulers. For
RTMO phase 1 the npz pins SimOTA on iteration 1: for each image the candidate priors with the
assigner's inputs, the foreground priors, their assigned ground truth, OKS and IoU. The RTMO runs
``*_f64`` train in float64 (model, optimizer state, inputs and the people's float targets) and
keep only what their float32 twins do not hold: per iteration the loss terms, the base lr, the
grad norm and the parameters' squared norms.

Weights (regenerated on both sides, never stored):
- SimpleBaseline-Res50 / CPM: ``seeded_state_dict`` of
  tests/export/make_mmpose_simplebaseline_fixtures.py, seeds 1234 / 4321, over MMPose's key list
  (also stored in tests/export/fixtures/mmpose_simplebaseline_keys.json and
  tests/models/fixtures/mmpose_cpm_keys.json).
- ViTPose-S: ``seeded_state`` of tests/models/make_vitpose_fixtures.py, seed 0 (key list in
  tests/models/fixtures/mmpose_vitpose_golden.npz, ``s_classic_names``).
- RTMO-s: the calibrated weights of tests/pipelines/make_mmpose_rtmo_e2e_fixtures.py (its json
  ``calibration`` block: seeded_weights(seed 10), BN statistics redrawn, head outputs rescaled).
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from mmengine.hooks import Hook

TOOLS = "/work/shared/tools"
DATA = "/work/shared/data/mmpose_coco"
ANN = f"{DATA}/test_coco.json"
ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).parent / "fixtures" / "train_steps"
N_ITERS, BATCH = 3, 4
TOPDOWN = "body_2d_keypoint/topdown_heatmap/coco/"
RTMO_CFG = "body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py"
# RTMO's second loss phase as RTMOModeSwitchHook sets it at epoch 280 of the config.
RTMO_PHASE2 = {"proxy_target_cc": True, "loss_mle.loss_weight": 5.0, "loss_oks.loss_weight": 10.0}
RUNS = {
    "simplebaseline_res50": dict(config=TOPDOWN + "td-hm_res50_8xb64-210e_coco-256x192.py",
                                 weights="simplebaseline", seed=1234),
    "cpm": dict(config=TOPDOWN + "td-hm_cpm_8xb64-210e_coco-256x192.py",
                weights="simplebaseline", seed=4321),
    "vitpose_s": dict(config=TOPDOWN + "td-hm_ViTPose-small_8xb64-210e_coco-256x192.py",
                      weights="vitpose", seed=0),
    "rtmo_s_phase1": dict(config=RTMO_CFG, weights="rtmo_calibrated", seed=10),
    "rtmo_s_phase2": dict(config=RTMO_CFG, weights="rtmo_calibrated", seed=10, phase2=True),
    # RTMO in float64 (model, inputs and optimizer state; the data as MMPose makes it): in
    # float32 RTMO's steps depend on rounding (see the parity test), in float64 they do not.
    "rtmo_s_phase1_f64": dict(config=RTMO_CFG, weights="rtmo_calibrated", seed=10,
                              float64=True),
    "rtmo_s_phase2_f64": dict(config=RTMO_CFG, weights="rtmo_calibrated", seed=10, phase2=True,
                              float64=True),
}
WEIGHT_RULES = {
    "simplebaseline": "tests/export/make_mmpose_simplebaseline_fixtures.py:seeded_state_dict"
                      "(keys [(name, shape, dtype)] in MMPose's state-dict order, seed)",
    "vitpose": "tests/models/make_vitpose_fixtures.py:seeded_state(keys [(name, shape)] in "
               "MMPose's state-dict order, seed)",
    "rtmo_calibrated": "tests/pipelines/make_mmpose_rtmo_e2e_fixtures.py:calibrated_state_dict "
                       "(recipe and factors in tests/pipelines/fixtures/mmpose_rtmo_e2e.json, "
                       "key 'calibration')",
}


def seeded_checkpoint(run: dict, model: torch.nn.Module, path: str) -> None:
    """Save MMPose's state dict filled by the run's seeded rule as an MMEngine checkpoint."""
    sd = model.state_dict()
    if run["weights"] == "simplebaseline":
        sys.path.insert(0, str(ROOT / "tests" / "export"))
        from make_mmpose_simplebaseline_fixtures import seeded_state_dict
        keys = [(k, list(v.shape), str(v.dtype)) for k, v in sd.items()]
        sd = seeded_state_dict(keys, run["seed"])
    elif run["weights"] == "vitpose":
        sys.path.insert(0, str(ROOT / "tests" / "models"))
        from make_vitpose_fixtures import seeded_state
        sd = seeded_state([(k, tuple(v.shape)) for k, v in sd.items()], run["seed"])
    else:
        sys.path.insert(0, str(ROOT / "tests" / "pipelines"))
        from make_mmpose_rtmo_e2e_fixtures import calibrated_state_dict, load_calibration
        sd = calibrated_state_dict(sd, load_calibration())
    torch.save({"meta": {}, "state_dict": sd}, path)


def _floats(x: torch.Tensor) -> list:
    return np.round(x.detach().double().cpu().numpy(), 7).tolist()


class Recorder(Hook):
    """MMEngine hook that records what a parity test needs, iteration by iteration."""

    def __init__(self, record_simota: bool) -> None:
        self.record_simota = record_simota
        self.info: dict = {"iterations": []}
        self.simota: dict[str, np.ndarray] = {}
        self._batch: dict = {}

    def before_train(self, runner) -> None:
        model = runner.model
        names = {id(p): n for n, p in model.named_parameters()}
        opt = runner.optim_wrapper.optimizer
        settings = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
                     if k not in ("params", "param_names")} for g in opt.param_groups]
        # Settings shared by every group are stored once; each group keeps what differs.
        shared = {k: v for k, v in settings[0].items() if all(s.get(k) == v for s in settings)}
        groups = []
        for g, entry in zip(opt.param_groups, settings, strict=True):
            entry = {k: v for k, v in entry.items() if k not in shared}
            entry["numel"] = int(sum(p.numel() for p in g["params"]))
            entry["param_names"] = [names[id(p)] for p in g["params"]]
            groups.append(entry)
        self.info["optimizer"] = {
            "type": type(opt).__name__,
            "wrapper": type(runner.optim_wrapper).__name__,
            "clip_grad": getattr(runner.optim_wrapper, "clip_grad_kwargs", None),
            "defaults": {k: (list(v) if isinstance(v, tuple) else v)
                         for k, v in opt.defaults.items() if isinstance(v, (int, float, tuple))},
            "n_groups": len(groups),
            "shared_by_all_groups": shared,
            "groups": groups,
        }
        scheds = []
        for s in runner.param_schedulers:
            keep = {k: v for k, v in vars(s).items() if not k.startswith("_")
                    and isinstance(v, (int, float, str, bool, list, tuple))
                    and k not in ("base_values", "last_step", "verbose")}
            scheds.append({"type": type(s).__name__, **keep})
        self.info["param_schedulers"] = scheds
        loader = runner.train_loop.dataloader
        ds = loader.dataset
        self.info["dataset"] = {
            "type": type(ds).__name__, "data_mode": ds.data_mode, "len": len(ds),
            "len_dataloader": len(loader),
            "samples": [{k: _plain(info[k]) for k in ("img_id", "id", "bbox", "num_keypoints")
                         if k in info} for info in (ds.get_data_info(i) for i in range(len(ds)))],
            "pipeline": [_plain(dict(t)) for t in runner.cfg.train_dataloader.dataset.pipeline],
        }
        model.data_preprocessor.register_forward_hook(self._after_preprocess)
        if self.record_simota:
            self._wrap_targets(model.head)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if batch_idx == 0:  # after the mode-switch hooks (before_train_epoch) have run
            head = runner.model.head
            self.info["head"] = {k: _plain(getattr(head, k)) for k in
                                 ("proxy_target_cc", "use_aux_loss", "overlaps_power",
                                  "bbox_padding") if hasattr(head, k)}
            self.info["loss_weights"] = {
                n: float(m.loss_weight) for n, m in head.named_children()
                if n.startswith("loss") and hasattr(m, "loss_weight")}
        self._batch = {"iter": batch_idx + 1,
                       "lr": [g["lr"] for g in runner.optim_wrapper.optimizer.param_groups]}

    def _after_preprocess(self, _module, _args, out) -> None:
        inputs, samples = out["inputs"], out["data_samples"]
        per = []
        for x, s in zip(inputs, samples, strict=True):
            entry = {"img_id": _plain(s.metainfo.get("img_id")),
                     "id": _plain(s.metainfo.get("id")), "input_shape": list(x.shape),
                     "input_mean_per_channel": _floats(x.mean((1, 2)))}
            if "heatmaps" in s.get("gt_fields", {}):
                hm = s.gt_fields.heatmaps
                entry["target_heatmap_sum"] = float(hm.sum())
                entry["target_heatmap_shape"] = list(hm.shape)
            labels = s.gt_instance_labels
            for key in ("keypoint_weights", "bboxes", "keypoints", "keypoints_visible", "areas",
                        "bbox_labels", "keypoints_visible_weights"):
                if key in labels:
                    entry["gt_" + key] = _floats(torch.as_tensor(labels[key]))
            if "heatmap_mask" in s.get("gt_fields", {}):
                entry["heatmap_mask_sum"] = float(s.gt_fields.heatmap_mask.sum())
            per.append(entry)
        self._batch["samples"] = per

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._batch["outputs"] = {k: float(v) for k, v in outputs.items()}
        hub = runner.message_hub
        if "train/grad_norm" in hub.log_scalars:
            self._batch["grad_norm"] = float(hub.log_scalars["train/grad_norm"].current())
        sq: dict[str, float] = {}
        for n, p in runner.model.named_parameters():
            top = n.split(".", 1)[0]
            sq[top] = sq.get(top, 0.0) + float(p.detach().double().pow(2).sum())
        self._batch["param_sq_norm_after_step"] = sq
        self.info["iterations"].append(self._batch)
        self.record_simota = False

    def _wrap_targets(self, head) -> None:
        """Record SimOTA on the first batch: the assigner's result and the targets built on it."""
        assign, single = head.assigner.assign, head._get_targets_single
        recorder, image = self, [0]

        def assign_and_record(pred_instances, gt_instances, **kw):
            p = {k: pred_instances[k].detach().clone() for k in pred_instances.keys()}
            res = assign(pred_instances=pred_instances, gt_instances=gt_instances, **kw)
            if recorder.record_simota:
                recorder._store_assign(image[0], p, gt_instances, res, head.assigner)
            return res

        def single_and_record(*args, **kw):
            out = single(*args, **kw)
            if recorder.record_simota:
                fg, obj_weight = out[0], out[3]
                i = image[0]
                recorder.simota[f"img{i}_fg_priors_from_targets"] = (
                    fg.nonzero().squeeze(-1).numpy().astype(np.int32))
                low = (obj_weight.squeeze(-1) < 1).nonzero().squeeze(-1)
                recorder.simota[f"img{i}_obj_weight_lt1_priors"] = low.numpy().astype(np.int32)
                recorder.simota[f"img{i}_obj_weight_lt1_values"] = (
                    obj_weight.squeeze(-1)[low].numpy().astype(np.float32))
                image[0] += 1
            return out

        head.assigner.assign = assign_and_record
        head._get_targets_single = single_and_record

    def _store_assign(self, i: int, pred: dict, gt, res: dict, assigner) -> None:
        gt_bboxes = gt.bboxes
        priors = pred["priors"]
        candidates, _ = assigner.get_in_gt_and_in_center_info(
            priors, gt_bboxes, gt.keypoints, gt.keypoints_visible)
        cand = candidates.nonzero().squeeze(-1)
        fg = (res["gt_inds"] > 0).nonzero().squeeze(-1)
        gt_idx = res["gt_inds"][fg] - 1
        iou = assigner.iou_calculator(pred["bboxes"][fg], gt_bboxes, is_aligned=False)
        iou = iou[torch.arange(len(fg)), gt_idx] if len(fg) else iou.new_zeros(0)
        s = self.simota
        s[f"img{i}_num_priors"] = np.array(len(priors), np.int32)
        s[f"img{i}_candidate_priors"] = cand.numpy().astype(np.int32)
        for k in ("priors", "bboxes", "scores", "keypoints"):  # vis_weight 0: visibility unused
            s[f"img{i}_cand_{k}"] = pred[k][cand].numpy().astype(np.float32)
        for k in ("bboxes", "labels", "keypoints", "keypoints_visible", "areas"):
            s[f"img{i}_gt_{k}"] = torch.as_tensor(gt[k]).numpy()
        s[f"img{i}_fg_priors"] = fg.numpy().astype(np.int32)
        s[f"img{i}_fg_gt_index"] = gt_idx.numpy().astype(np.int32)
        s[f"img{i}_fg_oks"] = res["max_overlaps"][fg].numpy().astype(np.float32)
        s[f"img{i}_fg_iou"] = iou.numpy().astype(np.float32)


def _plain(v):
    """JSON-friendly copy of config values, numpy scalars/arrays and tuples."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


def run_in_float64(runner_cls) -> None:
    """Make MMEngine's Runner train in float64: the model (and so the optimizer state), the
    preprocessed inputs and the people's float targets (boxes, keypoints, areas); the
    unlabelled-people mask is sampled in float64."""
    import torch.nn.functional as F
    from mmpose.models.heads.hybrid_heads import yoloxpose_head

    train = runner_cls.train

    def train_float64(self):
        self.model.double()
        preprocess = self.model.data_preprocessor.forward

        def preprocess_float64(data, training=False):
            out = preprocess(data, training)
            out["inputs"] = out["inputs"].double()
            for sample in out["data_samples"]:
                labels = sample.gt_instance_labels
                for key in list(labels.keys()):
                    if torch.is_floating_point(labels[key]):
                        labels.set_field(labels[key].double(), key)
            return out

        self.model.data_preprocessor.forward = preprocess_float64
        return train(self)

    def grid_sample(mask, grid, *args, **kwargs):
        return F.grid_sample(mask.to(grid.dtype), grid, *args, **kwargs)

    functional = type("functional", (), {k: staticmethod(getattr(F, k)) for k in dir(F)
                                          if not k.startswith("__")})
    functional.grid_sample = staticmethod(grid_sample)
    yoloxpose_head.F = functional
    runner_cls.train = train_float64


def child(name: str, work: str) -> None:
    """Run one configuration through the shared tool, with the edits and the recorder."""
    sys.path.insert(0, TOOLS)
    import mmengine
    import mmpose
    import mmpose_reference as mr
    from mmengine.config import Config
    from mmengine.runner import Runner

    run = RUNS[name]
    model = mr.build(run["config"])
    ckpt = os.path.join(work, "seeded.pth")
    seeded_checkpoint(run, model, ckpt)
    del model
    recorder = Recorder(record_simota=name == "rtmo_s_phase1")
    edits: list[str] = []
    from_cfg = Runner.from_cfg.__func__
    # The tool drops the val settings; the affine's UDP flag is read from the config's pipeline.
    val_pipeline = Config.fromfile(os.path.join(mr.CFG_ROOT, run["config"])).val_pipeline

    def patched_from_cfg(cls, cfg):
        if "ViTPose" in run["config"]:
            cfg.model.backbone.drop_path_rate = 0.0
            edits.append("model.backbone.drop_path_rate = 0.0")
            udp = [t for t in val_pipeline if t["type"] == "TopdownAffine"]
            for t in cfg.train_dataloader.dataset.pipeline:
                if t["type"] == "TopdownAffine" and udp and udp[0].get("use_udp"):
                    t["use_udp"] = True
                    edits.append("TopdownAffine(use_udp=True), as in the config's pipelines")
        if cfg.get("data_mode") == "bottomup":
            cfg.model.data_preprocessor.batch_augments = None
            edits.append("model.data_preprocessor.batch_augments = None (BatchSyncRandomResize "
                         "off: it resizes every batch after the first to a random 480-800 size)")
            if run.get("phase2"):
                cfg.custom_hooks.append(dict(type="RTMOModeSwitchHook",
                                             epoch_attributes={0: dict(RTMO_PHASE2)}, priority=48))
                edits.append(f"RTMOModeSwitchHook(epoch_attributes={{0: {RTMO_PHASE2}}}): the "
                             "second loss phase (the config switches at epoch 280)")
        if run.get("float64"):
            edits.append("float64: model, optimizer state, inputs and the people's float "
                         "targets (Runner.train casts the model; the data preprocessor's output "
                         "is cast)")
        runner = from_cfg(cls, cfg)
        runner.register_hook(recorder, priority="VERY_LOW")
        return runner

    Runner.from_cfg = classmethod(patched_from_cfg)
    if run.get("float64"):
        run_in_float64(Runner)
    tool = os.path.join(TOOLS, "mmpose_train_steps.py")
    sys.argv = [tool, run["config"], ckpt, ANN, DATA, str(N_ITERS), str(BATCH), work]
    runpy.run_path(tool, run_name="__main__")

    scalars = sorted(Path(work).rglob("scalars.json"))
    # MMEngine's own log; its loss terms are running means over the logged window (window_size
    # 50), not per-iteration values, and time/data_time are dropped.
    mm_scalars = [{k: v for k, v in json.loads(line).items() if "time" not in k}
                  for line in scalars[-1].read_text().splitlines()] if scalars else []
    info = {
        "run": name, "config": run["config"], "mmpose": mmpose.__version__,
        "mmengine": mmengine.__version__, "torch": torch.__version__,
        "command": "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 $MMPOSE_VENV/bin/python "
                   f"tests/engine/make_mmpose_train_fixtures.py {name}",
        "tool": "/work/shared/tools/mmpose_train_steps.py CONFIG CKPT "
                f"{ANN} {DATA} {N_ITERS} {BATCH} WORK_DIR",
        "n_iters": N_ITERS, "batch_size": BATCH, "shuffle": False,
        "weights": {"rule": WEIGHT_RULES[run["weights"]], "seed": run["seed"]},
        "config_edits_beyond_tool": edits, "torch_threads": torch.get_num_threads(),
        **recorder.info,
        "mmengine_scalars": mm_scalars,
    }
    if run.get("float64"):  # what its float32 twin does not already hold
        opt = info["optimizer"]
        info["optimizer"] = {"type": opt["type"], "defaults": opt["defaults"],
                             "shared_by_all_groups": opt["shared_by_all_groups"],
                             "groups": opt["groups"][:1]}
        for key in ("dataset", "mmengine_scalars"):
            info.pop(key)
        for it in info["iterations"]:
            it["lr"] = it["lr"][:1]
            it.pop("samples")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(info, indent=1))
    if recorder.simota:
        np.savez_compressed(OUT / "rtmo_s_simota_iter1.npz", **recorder.simota)
    for it in info["iterations"]:
        print(name, it["iter"], {k: round(v, 6) for k, v in it["outputs"].items()},
              "lr", it["lr"][0], "grad_norm", it.get("grad_norm"))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        with tempfile.TemporaryDirectory() as work:
            child(sys.argv[2], work)
        return
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")
    for name in sys.argv[1:] or list(RUNS):
        subprocess.run([sys.executable, __file__, "--child", name], check=True, env=env)


if __name__ == "__main__":
    main()
