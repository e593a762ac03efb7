"""Write tests/codecs/fixtures/mmpose_heatmap_golden.npz from the real MMPose heatmap codecs.

Not run by pytest. It needs MMPose in a scratch venv, never in posekit's own:

    python3 -m venv $MMPOSE_VENV
    $MMPOSE_VENV/bin/pip install numpy opencv-python-headless scipy torch==2.13.0
    $MMPOSE_VENV/bin/pip install --no-deps mmpose==1.3.2 mmengine==0.10.7
    $MMPOSE_VENV/bin/pip install addict yapf termcolor rich pyyaml packaging  # mmengine's imports
    $MMPOSE_VENV/bin/python tests/codecs/make_mmpose_fixtures.py

Shim: ``import mmpose`` runs ``mmpose/__init__.py``, which imports mmcv (it does not build here),
and ``mmpose/codecs/__init__.py`` pulls in every codec. So the script registers empty package
modules for ``mmpose`` and ``mmpose.codecs`` whose ``__path__`` points at the installed sources
(their submodules then import normally, their ``__init__`` files are skipped), plus a stub
``mmpose.registry`` whose ``KEYPOINT_CODECS.register_module()`` returns the class unchanged.
Nothing in the codec code itself is replaced.

MMPose's codecs encode one instance at a time (they assert N == 1); for the several-people
cases the script calls the very function the codec calls (``generate_*_heatmaps``) on
``keypoints / codec.scale_factor``, exactly as ``encode`` would.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np

INPUT_SIZE = (192, 256)  # (w, h) like MMPose
HEATMAP_SIZE = (48, 64)
K = 6  # keypoints per case: small keeps the npz well under 2 MB
N_MAX = 3  # people per case; unused slots have visibility 0
OUT = Path(__file__).parent / "fixtures" / "mmpose_heatmap_golden.npz"

# name -> (codec class, kwargs); posekit's equivalent settings are in the test.
# dark_k7 checks decoding with OpenCV's fixed 7-tap kernel; its encoding (DARK with σ = 1.5) is
# not stored, to keep the file small.
DECODE_ONLY = {"dark_k7"}
CONFIGS: dict[str, tuple[str, dict]] = {
    "msra": ("MSRAHeatmap", dict(sigma=2.0)),
    "msra_s3": ("MSRAHeatmap", dict(sigma=3.0)),
    "dark": ("MSRAHeatmap", dict(sigma=2.0, unbiased=True, blur_kernel_size=11)),
    "dark_k7": ("MSRAHeatmap", dict(sigma=1.5, unbiased=True, blur_kernel_size=7)),
    "udp": ("UDPHeatmap", dict(sigma=2.0, heatmap_type="gaussian", blur_kernel_size=11)),
}


def load_mmpose_codecs() -> types.SimpleNamespace:
    """Import MSRAHeatmap / UDPHeatmap and their generators without mmcv (see module doc)."""
    spec = importlib.util.find_spec("mmpose")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("mmpose is not installed in this interpreter (see the module docstring)")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, path in (("mmpose", root), ("mmpose.codecs", root / "codecs")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(path)]
        sys.modules[name] = pkg
    registry = types.ModuleType("mmpose.registry")

    class _Registry:
        def register_module(self, *args, **kwargs):
            return lambda cls: cls

    registry.KEYPOINT_CODECS = _Registry()
    sys.modules["mmpose.registry"] = registry
    msra = importlib.import_module("mmpose.codecs.msra_heatmap")
    udp = importlib.import_module("mmpose.codecs.udp_heatmap")
    gauss = importlib.import_module("mmpose.codecs.utils.gaussian_heatmap")
    return types.SimpleNamespace(
        MSRAHeatmap=msra.MSRAHeatmap,
        UDPHeatmap=udp.UDPHeatmap,
        generators={
            "MSRAHeatmap": gauss.generate_gaussian_heatmaps,
            "MSRAHeatmap_unbiased": gauss.generate_unbiased_gaussian_heatmaps,
            "UDPHeatmap": gauss.generate_udp_gaussian_heatmaps,
        },
    )


def encode_cases(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(C, N_MAX, K, 2) keypoints in input pixels and (C, N_MAX, K) visibility."""
    w, h = INPUT_SIZE
    sx, sy = w / HEATMAP_SIZE[0], h / HEATMAP_SIZE[1]  # MSRA stride (4, 4)
    cases: list[tuple[np.ndarray, np.ndarray]] = []

    def add(xy: np.ndarray, vis: np.ndarray | None = None) -> None:
        xy = np.asarray(xy, np.float32).reshape(-1, K, 2)
        vis = np.ones(xy.shape[:2], np.float32) if vis is None else np.asarray(vis, np.float32)
        n = xy.shape[0]
        pad_xy = np.zeros((N_MAX, K, 2), np.float32)
        pad_v = np.zeros((N_MAX, K), np.float32)
        pad_xy[:n], pad_v[:n] = xy, vis.reshape(n, K)
        cases.append((pad_xy, pad_v))

    # random interior points, one person
    for _ in range(6):
        add(rng.uniform([0, 0], [w - 1, h - 1], size=(K, 2)))
    # random with invisible keypoints
    for _ in range(3):
        add(rng.uniform([0, 0], [w - 1, h - 1], size=(K, 2)), rng.integers(0, 2, size=K))
    # several people max-combined, some overlapping (same area of the map)
    for _ in range(4):
        centre = rng.uniform([30, 30], [w - 30, h - 30])
        xy = centre + rng.normal(0, 12, size=(3, K, 2))
        add(xy, (rng.random((3, K)) > 0.2))
    # points exactly on the input border and half a pixel beyond it
    add([[0, 0], [w - 1, h - 1], [0, h - 1], [w - 1, 0], [-0.5, 100], [w - 0.5, 100]])
    add([[0, 50], [w - 1, 50], [60, 0], [60, h - 1], [w, h], [-1, -1]])
    # outside the map around MMPose's weight-zero boundary: heatmap x in {-6,-7,-8, W+5..W+7}
    hw, hh = HEATMAP_SIZE
    add([[-6 * sx, 30], [-7 * sx, 30], [-8 * sx, 30], [(hw + 5) * sx, 30],
         [(hw + 6) * sx, 30], [(hw + 7) * sx, 30]])
    add([[40, -6 * sy], [40, -7 * sy], [40, -8 * sy], [40, (hh + 5) * sy],
         [40, (hh + 6) * sy], [40, (hh + 7) * sy]])
    add([[-500, -500], [1000, 40], [40, 2000], [-30.3, -27.9], [-25.0, 300.0], [250.0, -26.0]])
    # .5 rounding ties in heatmap space (x_hm = i + 0.5) and negative fractions (trunc vs floor)
    add([[2 * sx + 0.5 * sx, 10 * sy + 0.5 * sy], [0.5 * sx, 0.5 * sy], [-0.5 * sx, 20],
         [-1.5 * sx, 40], [-0.7 * sx, -0.3 * sy], [(hw - 0.5) * sx, (hh - 0.5) * sy]])
    add([[i * sx + 0.5 * sx, (2 * i + 1) * sy + 0.5 * sy] for i in range(K)])
    # sub-pixel positions near the UDP border: x_hm = 0, 0.49, 0.51, W-1 under (in-1)/(hm-1)
    ux, uy = (w - 1) / (hw - 1), (h - 1) / (hh - 1)
    add([[0, 0], [0.49 * ux, 0.49 * uy], [0.51 * ux, 0.51 * uy], [(hw - 1) * ux, (hh - 1) * uy],
         [(hw - 1.5) * ux, 3.5 * uy], [2.5 * ux, (hh - 1.5) * uy]])
    xy = np.stack([c[0] for c in cases]).astype(np.float32)
    vis = np.stack([c[1] for c in cases]).astype(np.float32)
    return xy, vis


def decode_cases(rng: np.random.Generator, encoded: np.ndarray) -> np.ndarray:
    """(D, K, H, W) float32 heatmaps: encoded targets, smooth random maps, borders, empties."""
    hw, hh = HEATMAP_SIZE
    yy, xx = np.mgrid[0:hh, 0:hw].astype(np.float32)
    maps: list[np.ndarray] = [m for m in encoded[:8]]  # decode(encode(x))

    def blob(cx: float, cy: float, s: float, a: float = 1.0) -> np.ndarray:
        return a * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))

    # random smooth maps: a few anisotropic blobs plus smooth positive noise
    for _ in range(8):
        m = np.zeros((K, hh, hw), np.float32)
        for k in range(K):
            for _ in range(rng.integers(1, 4)):
                cx, cy = rng.uniform([-2, -2], [hw + 1, hh + 1])
                sx, sy = rng.uniform(1.2, 4.0, size=2)
                m[k] += rng.uniform(0.2, 1.0) * np.exp(
                    -((xx - cx) ** 2) / (2 * sx**2) - (yy - cy) ** 2 / (2 * sy**2))
            noise = rng.random((hh, hw)).astype(np.float32)
            m[k] += 0.05 * (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1)) / 3
        maps.append(m.astype(np.float32))
    # peaks at and next to every border, where refinement conditions switch
    border_xy = [(0, 30), (1, 30), (2, 30), (hw - 1, 30), (hw - 2, 30), (hw - 3, 30),
                 (20, 0), (20, 1), (20, 2), (20, hh - 1), (20, hh - 2), (20, hh - 3),
                 (0, 0), (hw - 1, hh - 1), (1, 1), (hw - 2, hh - 2), (1, hh - 2), (hw - 2, 1)]
    for start in range(0, len(border_xy), K):
        m = np.zeros((K, hh, hw), np.float32)
        for k, (x, y) in enumerate(border_xy[start:start + K]):
            dx, dy = rng.uniform(-0.4, 0.4, size=2)
            m[k] = blob(x + dx, y + dy, 2.0)
        maps.append(m)
    # all-zero channels and a channel with two equal maxima (argmax takes the first)
    m = np.stack([blob(*rng.uniform([5, 5], [hw - 5, hh - 5]), 2.0) for _ in range(K)])
    m[1] = 0.0
    m[4] = 0.0
    m[2] = 0.0
    m[2, 10, 12] = m[2, 40, 30] = 0.7
    maps.append(m.astype(np.float32))
    # sharp (unsmoothed) peaks: one hot pixel and a 2-pixel ridge
    m = np.zeros((K, hh, hw), np.float32)
    for k in range(K):
        x, y = rng.integers(3, hw - 3), rng.integers(3, hh - 3)
        m[k, y, x] = 1.0
        if k % 2:
            m[k, y, x + 1] = 0.6
            m[k, y + 1, x] = 0.3
    maps.append(m)
    return np.stack(maps).astype(np.float32)


def main() -> None:
    mm = load_mmpose_codecs()
    rng = np.random.default_rng(20240611)
    enc_xy, enc_vis = encode_cases(rng)
    out: dict[str, np.ndarray] = {
        "enc_keypoints": enc_xy,
        "enc_visible": enc_vis,
        "input_size": np.array(INPUT_SIZE),
        "heatmap_size": np.array(HEATMAP_SIZE),
    }
    dec_maps = None
    for name, (cls_name, kwargs) in CONFIGS.items():
        codec = getattr(mm, cls_name)(input_size=INPUT_SIZE, heatmap_size=HEATMAP_SIZE, **kwargs)
        gen_key = cls_name + ("_unbiased" if kwargs.get("unbiased") else "")
        heatmaps, weights = [], []
        for xy, vis in zip(enc_xy, enc_vis, strict=True):
            n = int(np.max(np.nonzero(vis.any(axis=1))[0], initial=0)) + 1
            xy, vis = xy[:n], vis[:n]
            if n == 1:
                enc = codec.encode(xy, vis)
                hm, wt = enc["heatmaps"], enc["keypoint_weights"]
            else:
                hm, wt = mm.generators[gen_key](
                    heatmap_size=HEATMAP_SIZE, keypoints=xy / codec.scale_factor,
                    keypoints_visible=vis, sigma=codec.sigma)
            pad = np.zeros((N_MAX, K), np.float32)
            pad[:n] = wt
            heatmaps.append(hm)
            weights.append(pad)
        if dec_maps is None:  # the first config (msra) also provides decode(encode(x)) cases
            dec_maps = decode_cases(rng, np.stack(heatmaps))
            out["dec_heatmaps"] = dec_maps
        if name not in DECODE_ONLY:
            out[f"{name}__enc_heatmaps"] = np.stack(heatmaps).astype(np.float32)
            out[f"{name}__enc_weights"] = np.stack(weights)
        kpts, scores = [], []
        with np.errstate(invalid="ignore", divide="ignore"):  # MMPose blurs empty maps: 0/0
            for m in dec_maps:
                kp, sc = codec.decode(m)
                kpts.append(kp[0])
                scores.append(sc[0])
        out[f"{name}__dec_keypoints"] = np.stack(kpts).astype(np.float64)
        out[f"{name}__dec_scores"] = np.stack(scores).astype(np.float32)
    out["meta"] = np.array(json.dumps({
        "mmpose": importlib.metadata.version("mmpose"),
        "mmengine": importlib.metadata.version("mmengine"),
        "numpy": np.__version__,
        "opencv": importlib.metadata.version("opencv-python-headless"),
        "configs": {k: [c, kw] for k, (c, kw) in CONFIGS.items()},
    }))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB): "
          f"{len(enc_xy)} encode cases, {len(dec_maps)} decode cases, mmpose "
          f"{importlib.metadata.version('mmpose')}")


if __name__ == "__main__":
    main()
