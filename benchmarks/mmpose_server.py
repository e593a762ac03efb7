"""The reference side of bench_vs_reference.py: MMPose 1.3.2's ``inference_topdown`` and
``inference_bottomup`` behind a line protocol, so that the benchmark can alternate calls between
posekit (its own process) and MMPose (this one) on the same image and weights.

It runs with the MMPose environment's python, never posekit's; bench_vs_reference.py starts it:

    $MMPOSE_PYTHON benchmarks/mmpose_server.py [--shim DIR]

``--shim DIR`` names a directory holding ``mmpose_reference.py``, imported before MMPose: an
environment without mmcv's compiled ops needs such a module to stub them (none of the models
here calls them). One JSON object per line on stdin, one JSON reply per line on stdout:

- ``{"cmd": "load", "row": R, "config": C, "checkpoint": P, "write_init": true|false}``: build
  MMPose's model from its packaged config C (relative to MMPose's ``.mim/configs``); with
  ``write_init`` first save its freshly built weights to P (``{"state_dict": ...}``); then
  ``init_model(C, P)`` → ``{"ok": true}``.
- ``{"cmd": "run", "row": R, "image": PATH, "boxes": [[x1, y1, x2, y2], ...] | null}``: one timed
  call, ``inference_topdown(model, PATH, boxes, "xyxy")`` with boxes, else
  ``inference_bottomup(model, PATH)`` → ``{"ms": float, "people": int}``.
- ``{"cmd": "quit"}``.

Errors come back as ``{"error": "..."}``. Anything MMPose prints goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shim", default="", help="directory of an mmpose_reference.py to import")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # MMPose's own prints and logs must not reach the protocol stream
    sys.stdout = sys.stderr
    if args.shim:
        sys.path.insert(0, args.shim)
        import mmpose_reference  # noqa: F401
    import mmpose
    import numpy as np
    import torch
    from mmengine.config import Config
    from mmpose.apis import inference_bottomup, inference_topdown, init_model
    from mmpose.registry import MODELS

    torch.set_num_threads(args.threads)
    config_root = os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs")
    models = {}
    for line in sys.stdin:
        msg = json.loads(line)
        try:
            if msg["cmd"] == "quit":
                break
            if msg["cmd"] == "load":
                config = os.path.join(config_root, msg["config"])
                if msg.get("write_init"):
                    built = MODELS.build(Config.fromfile(config).model)
                    torch.save({"state_dict": built.state_dict()}, msg["checkpoint"])
                models[msg["row"]] = init_model(config, msg["checkpoint"], device="cpu")
                reply = {"ok": True}
            elif msg["cmd"] == "run":
                model = models[msg["row"]]
                start = time.perf_counter()
                with torch.no_grad():
                    if msg.get("boxes") is not None:
                        out = inference_topdown(model, msg["image"], np.asarray(msg["boxes"]),
                                                bbox_format="xyxy")
                        people = len(out)
                    else:
                        out = inference_bottomup(model, msg["image"])
                        people = len(out[0].pred_instances.bboxes)
                reply = {"ms": (time.perf_counter() - start) * 1e3, "people": people}
            else:
                reply = {"error": f"unknown command {msg['cmd']!r}"}
        except Exception as exc:  # noqa: BLE001 - reported to the benchmark, which stops
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply) + "\n")


if __name__ == "__main__":
    main()
