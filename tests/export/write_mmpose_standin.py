"""Write a stand-in for a released MMPose SimpleBaseline checkpoint, to try `posekit convert`.

    python tests/export/write_mmpose_standin.py standin.pth [--model simple_baseline_res50]

The file has the layout of MMPose's model-zoo ``.pth`` files: ``{"meta": {...}, "state_dict":
{...}}`` with MMPose 1.3.2's key names and shapes (recorded in
``fixtures/mmpose_simplebaseline_keys.json`` from the real MMPose), seeded weights from the
fixture rule, and a ``meta`` holding numpy arrays pickled under their numpy-1.x names, as in the
released files. Its weights are random: it stands in for a download, it does not detect people.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
KEYS_FILE = HERE / "fixtures" / "mmpose_simplebaseline_keys.json"


def mmpose_keys(model: str) -> list:
    models = json.loads(KEYS_FILE.read_text())["models"]
    if model not in models:
        raise ValueError(f"no MMPose key list for {model!r}; have {sorted(models)}")
    return models[model]["keys"]


def write_mmpose_checkpoint(path: str | Path, state_dict: dict, *,
                            numpy1_names: bool = True) -> Path:
    """Save ``state_dict`` laid out like MMPose's releases: ``{"meta", "state_dict"}``.

    Released files were pickled under numpy 1.x, whose array reconstructor is named
    ``numpy.core.multiarray._reconstruct``; numpy 2 writes ``numpy._core...``. With
    ``numpy1_names`` the file is written in torch's legacy (non-zip) format, whose protocol-2
    pickle names globals as plain text lines, and the numpy-1.x name is put back: byte for byte
    what numpy 1.x writes there.
    """
    meta = {"dataset_meta": {"dataset_name": "coco",
                             "sigmas": np.linspace(0.025, 0.107, 17).astype(np.float32),
                             "flip_indices": [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13,
                                              16, 15]},
            "epoch": 210, "mmengine_version": "0.10.7"}
    buf = io.BytesIO()
    torch.save({"meta": meta, "state_dict": state_dict}, buf,
               _use_new_zipfile_serialization=not numpy1_names)
    data = buf.getvalue()
    if numpy1_names:
        old = b"cnumpy._core.multiarray\n_reconstruct\n"
        new = b"cnumpy.core.multiarray\n_reconstruct\n"
        if old not in data:
            raise RuntimeError("numpy's array reconstructor not found in the pickle")
        data = data.replace(old, new)
    path = Path(path)
    path.write_bytes(data)
    return path


def main() -> None:
    from make_mmpose_simplebaseline_fixtures import seeded_state_dict

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--model", default="simple_baseline_res50")
    args = parser.parse_args()
    path = write_mmpose_checkpoint(args.out, seeded_state_dict(mmpose_keys(args.model)))
    print(f"wrote {path} ({args.model} in MMPose's layout, {path.stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
