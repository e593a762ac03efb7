"""Write tests/models/fixtures/rtmo_mmpose_golden.npz and rtmo_mmpose_keys.json from the real
MMPose 1.3.2 RTMO.

Not run by pytest. It needs MMPose in a scratch venv (never in posekit's own), built by
``../shared/tools/mmpose-venv.sh`` at $MMPOSE_VENV:

    $MMPOSE_VENV/bin/python tests/models/make_rtmo_fixtures.py

What it stores (outputs, not weights):
- the names and shapes of every state-dict entry of RTMO-s, -m and -l (COCO 640×640 configs), so
  the test checks that `remap_rtmo_state_dict` maps all three completely;
- for RTMO-s with weights drawn by ``seeded_weights`` (the same rule is in the test; BN running
  statistics are randomised too) on one seeded 1×3×128×128 input in eval mode: the raw head
  outputs of both levels flattened to (N, ·) (class logits, box deltas, proxy keypoint offsets,
  visibility logits, pose vectors), the decoded boxes, and DCC keypoints and σ for every
  location (``dcc.forward_test`` on the decoded boxes expanded ×1.25, as ``predict`` does after
  NMS).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, "/work/shared/tools")

CONFIGS = {
    "s": "body_2d_keypoint/rtmo/coco/rtmo-s_8xb32-600e_coco-640x640.py",
    "m": "body_2d_keypoint/rtmo/coco/rtmo-m_16xb16-600e_coco-640x640.py",
    "l": "body_2d_keypoint/rtmo/coco/rtmo-l_16xb16-600e_coco-640x640.py",
}
# Constants the reference stores in its state dict; they keep their built values.
CONSTANT_KEYS = ("neck.sincos_pos_enc.dim_t", "head.dcc.spe.dim_t", "head.dcc.x_bins",
                 "head.dcc.y_bins", "head.loss_oks.sigmas")
SEED = 10
INPUT_SHAPE = (1, 3, 128, 128)
OUT_DIR = Path(__file__).parent / "fixtures"


def seeded_weights(names_shapes: list[tuple[str, tuple[int, ...]]], seed: int = SEED
                   ) -> dict[str, np.ndarray]:
    """One float32 array per entry, drawn in key order from one PCG64 stream (numpy).

    BN running_var and norm/scale weights U(0.5, 1.5); running_mean and biases U(−0.2, 0.2);
    other weights U(−1, 1)·√(3 / fan_in) (variance 1/fan_in). Skips CONSTANT_KEYS and
    ``num_batches_tracked``.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in names_shapes:
        if name in CONSTANT_KEYS or name.endswith("num_batches_tracked"):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if leaf == "running_var" or (len(shape) <= 1 and leaf in ("weight", "g", "scale")):
            arr = rng.uniform(0.5, 1.5, size=shape)
        elif leaf in ("running_mean", "bias", "in_proj_bias", "beta"):
            arr = rng.uniform(-0.2, 0.2, size=shape)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else max(int(shape[-1]), 1)
            arr = rng.uniform(-1.0, 1.0, size=shape) * np.sqrt(3.0 / fan_in)
        out[name] = arr.astype(np.float32)
    return out


def main() -> None:
    import mmpose_reference as mr

    OUT_DIR.mkdir(exist_ok=True)
    keys = {}
    for variant, cfg in CONFIGS.items():
        model = mr.build(cfg)
        keys[variant] = [[k, list(v.shape)] for k, v in model.state_dict().items()]
        keys[variant + "_params"] = sum(p.numel() for p in model.parameters())
    (OUT_DIR / "rtmo_mmpose_keys.json").write_text(json.dumps(keys))

    model = mr.build(CONFIGS["s"]).eval()
    names_shapes = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    weights = seeded_weights(names_shapes)
    sd = model.state_dict()
    for k, v in weights.items():
        sd[k] = torch.from_numpy(v)
    model.load_state_dict(sd)

    rng = np.random.default_rng(SEED + 1)
    x = torch.from_numpy(rng.uniform(-1.0, 1.0, size=INPUT_SHAPE).astype(np.float32))
    head = model.head
    reg_feats = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: reg_feats.append(o))
             for m in head.head_module.conv_pose]
    with torch.no_grad():
        feats = model.extract_feat(x)
        cls, bbox, _, vis, pose = head.head_module(feats)
        kpt = [head.head_module.out_kpt_reg[i](f) for i, f in enumerate(reg_feats)]
        for h in hooks:
            h.remove()
        flat = head._flatten_predictions
        sizes = [c.shape[2:] for c in cls]
        priors = torch.cat(head.prior_generator.grid_priors(sizes, dtype=x.dtype,
                                                            device=x.device, with_stride=True))
        boxes = head.decode_bbox(flat(bbox), priors[:, :2], priors[:, -1])
        from mmpose.structures.bbox import bbox_xyxy2cs
        cs = torch.cat(bbox_xyxy2cs(boxes[0], head.bbox_padding), dim=1)
        pose_flat = flat(pose)[0]
        keypoints = head.dcc.forward_test(pose_flat, cs, priors[:, :2])
        sigmas = head.dcc.sigma_fc(pose_flat)
    arrays = dict(
        input=x.numpy(), priors=priors.numpy(), cls_logits=flat(cls)[0].numpy(),
        box_deltas=flat(bbox)[0].numpy(), kpt_offsets=flat(kpt)[0].numpy(),
        vis_logits=flat(vis)[0].numpy(), pose_vecs=pose_flat.numpy(), boxes=boxes[0].numpy(),
        keypoints=keypoints.numpy(), sigmas=sigmas.numpy(),
    )
    np.savez_compressed(OUT_DIR / "rtmo_mmpose_golden.npz", **arrays)
    for k, v in arrays.items():
        print(k, v.shape, float(np.abs(v).max()))
    print({k: v for k, v in keys.items() if k.endswith("_params")})


if __name__ == "__main__":
    main()
