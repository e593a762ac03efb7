"""Write tests/models/fixtures/mmpose_cpm.npz and mmpose_cpm_keys.json from the real MMPose.

Not run by pytest. It needs MMPose 1.3.2 in the scratch venv, never in posekit's own:

    $MMPOSE_VENV/bin/python tests/models/make_mmpose_cpm_fixtures.py

What it stores (outputs, not weights): MMPose's CPM state-dict key names and shapes (6 stages,
COCO 256×192 config) and, for a small normalised input (1×3×64×48), every stage of
``head.forward(extract_feat(x))`` with all parameters and BN running statistics drawn by the
same seeded rule as the SimpleBaseline fixture (`seeded_state_dict`). The test regenerates the
weights from the key list, remaps them with ``remap_cpm_state_dict`` and compares the stages.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from make_mmpose_simplebaseline_fixtures import seeded_state_dict  # noqa: E402

CONFIG = "body_2d_keypoint/topdown_heatmap/coco/td-hm_cpm_8xb64-210e_coco-256x192.py"
INPUT_SHAPE = (1, 3, 64, 48)
WEIGHT_SEED = 4321
INPUT_SEED = 7
OUT = Path(__file__).parent / "fixtures"


def parity_input() -> torch.Tensor:
    return torch.randn(INPUT_SHAPE, generator=torch.Generator().manual_seed(INPUT_SEED))


def main() -> None:
    sys.path.insert(0, "/work/shared/tools")
    import mmpose_reference as mr

    model = mr.build(CONFIG).eval()
    keys = [(k, list(v.shape), str(v.dtype)) for k, v in model.state_dict().items()]
    print(f"{len(keys)} keys, {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M params")
    model.load_state_dict(seeded_state_dict(keys, WEIGHT_SEED), strict=True)
    x = parity_input()
    with torch.no_grad():
        stages = model.head.forward(model.extract_feat(x))
    arrays = {"input": x.numpy()}
    for t, s in enumerate(stages):
        arrays[f"stage{t}"] = s.numpy()
        print(f"  stage {t}: {tuple(s.shape)}, std {s.std():.3f}")
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "mmpose_cpm.npz", **arrays)
    (OUT / "mmpose_cpm_keys.json").write_text(json.dumps(
        {"mmpose": "1.3.2", "torch": torch.__version__, "config": CONFIG,
         "weight_seed": WEIGHT_SEED, "keys": keys}))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
