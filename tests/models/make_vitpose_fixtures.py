"""Write tests/models/fixtures/mmpose_vitpose_golden.npz from the real MMPose 1.3.2 ViTPose.

Not run by pytest. It needs MMPose (and MMPretrain, ViTPose's backbone) in a scratch venv, never in
posekit's own; /work/shared/tools/mmpose_reference.py imports it on the CPU:

    $MMPOSE_VENV/bin/python tests/models/make_vitpose_fixtures.py

No weights are stored: every tensor of the MMPose state dict is regenerated from `seeded_state`
(keys in MMPose's order, one torch.Generator), the same rule the test applies to the stored key
list. BatchNorm running statistics are randomised too. Stored: the key lists (names and shapes)
of ViTPose-S classic / simple and ViTPose-B classic, one seeded input, and MMPose's heatmaps for
S classic at 256×192, S simple at 256×192, and S classic at 128×96 (MMPretrain resizes the 16×12
position embedding to 8×6 bicubically at run time).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).parent / "fixtures" / "mmpose_vitpose_golden.npz"
CFG = "body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-{}_8xb64-210e_coco-256x192.py"


def seeded_state(keys: list[tuple[str, tuple[int, ...]]], seed: int = 0) -> dict[str, torch.Tensor]:
    """Deterministic weights for a key list: norm scales near 1, running variances in [0.5, 1.5],
    everything else N(0, 0.02²) (keeps 12 blocks numerically tame)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, shape in keys:
        if name.endswith("num_batches_tracked"):
            out[name] = torch.zeros(shape, dtype=torch.long)
        elif name.endswith("running_var"):
            out[name] = 0.5 + torch.rand(shape, generator=g)
        elif name.endswith("weight") and len(shape) == 1:  # LayerNorm / BatchNorm scale
            out[name] = 1.0 + 0.1 * torch.randn(shape, generator=g)
        else:
            out[name] = 0.02 * torch.randn(shape, generator=g)
    return out


def key_list(model: torch.nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def encode_keys(keys: list[tuple[str, tuple[int, ...]]]) -> tuple[np.ndarray, np.ndarray]:
    names = np.array([k for k, _ in keys])
    shapes = np.array([",".join(map(str, s)) for _, s in keys])
    return names, shapes


def main() -> None:
    sys.path.insert(0, "/work/shared/tools")
    import mmpose_reference as mr

    torch.manual_seed(0)
    arrays: dict[str, np.ndarray] = {}
    g = torch.Generator().manual_seed(123)
    image = torch.randn(1, 3, 256, 192, generator=g)
    small = torch.randn(1, 3, 128, 96, generator=g)
    arrays["input_256x192"] = image.numpy()
    arrays["input_128x96"] = small.numpy()
    for tag, cfg in (("s_classic", "small"), ("s_simple", "small-simple"), ("b_classic", "base")):
        model = mr.build(CFG.format(cfg)).eval()
        keys = key_list(model)
        arrays[f"{tag}_names"], arrays[f"{tag}_shapes"] = encode_keys(keys)
        if tag == "b_classic":
            continue
        model.load_state_dict(seeded_state(keys))
        with torch.no_grad():
            feats = model.extract_feat(image)
            arrays[f"{tag}_heatmaps_256x192"] = model.head.forward(feats).numpy()
            if tag == "s_classic":
                feats = model.extract_feat(small)
                arrays[f"{tag}_heatmaps_128x96"] = model.head.forward(feats).numpy()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB)")
    for k, v in arrays.items():
        print(k, v.shape, v.dtype)


if __name__ == "__main__":
    main()
