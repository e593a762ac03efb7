"""Write tests/export/fixtures/mmpose_simplebaseline.npz and ..._keys.json from the real MMPose.

Not run by pytest. It needs MMPose 1.3.2 in the scratch venv (../shared/tools/mmpose-venv.sh),
never in posekit's own, and builds the models with ../shared/tools/mmpose_reference.py:

    $MMPOSE_VENV/bin/python tests/export/make_mmpose_simplebaseline_fixtures.py

What it stores (outputs, not weights):
- for each SimpleBaseline config of MMPose's COCO top-down heatmap zoo (ResNet-50/101/152,
  256×192), the list of MMPose state-dict key names and shapes, in MMPose's order (the json);
- for ResNet-50: MMPose's ``head.forward(extract_feat(x))`` on a small normalised input x
  (1×3×64×64; the network is fully convolutional, so a small input keeps the file small),
  with every parameter and BN running statistic filled by :func:`seeded_state_dict`.

The test regenerates the same weights from the stored key list with the same function (both
venvs have torch 2.13), writes them as an MMPose-style checkpoint, runs ``posekit convert`` and
compares heatmaps. MMPose's data preprocessor (mean/std normalisation) is left out on purpose:
posekit's models also take normalised input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

CONFIGS = {
    "simple_baseline_res50": "body_2d_keypoint/topdown_heatmap/coco/"
                             "td-hm_res50_8xb64-210e_coco-256x192.py",
    "simple_baseline_res101": "body_2d_keypoint/topdown_heatmap/coco/"
                              "td-hm_res101_8xb64-210e_coco-256x192.py",
    "simple_baseline_res152": "body_2d_keypoint/topdown_heatmap/coco/"
                              "td-hm_res152_8xb32-210e_coco-256x192.py",
}
PARITY_MODEL = "simple_baseline_res50"
INPUT_SHAPE = (1, 3, 64, 64)  # H, W multiples of 32 (output stride of the backbone)
WEIGHT_SEED = 1234
INPUT_SEED = 99
OUT = Path(__file__).parent / "fixtures"


def seeded_state_dict(keys: list[tuple[str, list[int], str]], seed: int = WEIGHT_SEED
                      ) -> dict[str, torch.Tensor]:
    """Weights for a key list ``[(name, shape, dtype)]``, drawn in list order from one seeded
    ``torch.Generator``: conv/deconv weights N(0, 1/fan_in), BN weights U(0.5, 1.5), biases and
    running means N(0, 0.1²), running variances U(0.5, 1.5); integer buffers are 0."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    for name, shape, dtype in keys:
        if not dtype.startswith("torch.float"):
            out[name] = torch.zeros(shape, dtype=getattr(torch, dtype.removeprefix("torch.")))
        elif name.endswith(("running_var",)) or (name.endswith("weight") and len(shape) == 1):
            out[name] = torch.rand(shape, generator=g) + 0.5
        elif name.endswith(("running_mean", "bias")):
            out[name] = torch.randn(shape, generator=g) * 0.1
        else:
            fan_in = int(np.prod(shape[1:]))
            out[name] = torch.randn(shape, generator=g) / fan_in**0.5
    return out


def parity_input() -> torch.Tensor:
    return torch.randn(INPUT_SHAPE, generator=torch.Generator().manual_seed(INPUT_SEED))


def main() -> None:
    sys.path.insert(0, "/work/shared/tools")
    import mmpose_reference as mr

    keys_out: dict[str, list] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, cfg in CONFIGS.items():
        model = mr.build(cfg).eval()
        keys = [(k, list(v.shape), str(v.dtype)) for k, v in model.state_dict().items()]
        keys_out[name] = {"config": cfg, "keys": keys}
        print(f"{name}: {len(keys)} keys, "
              f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params")
        if name == PARITY_MODEL:
            model.load_state_dict(seeded_state_dict(keys), strict=True)
            x = parity_input()
            with torch.no_grad():
                heatmaps = model.head.forward(model.extract_feat(x))
            print(f"  heatmaps {tuple(heatmaps.shape)}, |max| {heatmaps.abs().max():.3f}, "
                  f"std {heatmaps.std():.3f}")
            arrays["input"] = x.numpy()
            arrays["heatmaps"] = heatmaps.numpy()
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "mmpose_simplebaseline.npz", **arrays)
    (OUT / "mmpose_simplebaseline_keys.json").write_text(json.dumps(
        {"mmpose": "1.3.2", "torch": torch.__version__, "weight_seed": WEIGHT_SEED,
         "models": keys_out}, indent=None))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
