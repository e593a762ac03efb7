"""The mutation audit: apply each known bug, check that its tests now FAIL.

Not collected by pytest (no ``test_`` prefix). Run from the repository root:

    PYTHONPATH=$PWD python tests/mutation_audit.py [NAME ...]

Each mutation is a literal text replacement in one source file; the file is restored afterwards
(also on Ctrl-C). Exit status 1 when some mutation survives (its tests still pass).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name: (file, original text, mutated text, tests that must catch it)
MUTATIONS: dict[str, tuple[str, str, str, list[str]]] = {
    "oks_nms_ref_area": (
        "posekit/pipelines/nms.py",
        "areas = (ref_area + np.asarray(other_areas, dtype=np.float64)) / 2",
        "areas = np.full(len(other_areas), float(ref_area))",
        ["tests/pipelines/test_nms.py"],
    ),
    "oks_nms_other_area": (
        "posekit/pipelines/nms.py",
        "areas = (ref_area + np.asarray(other_areas, dtype=np.float64)) / 2",
        "areas = np.asarray(other_areas, dtype=np.float64)",
        ["tests/pipelines/test_nms.py"],
    ),
    "flip_shift_left": (
        "posekit/pipelines/topdown.py",
        "out = torch.cat([out[..., :1], out[..., :-1]], dim=-1)",
        "out = torch.cat([out[..., 1:], out[..., -1:]], dim=-1)",
        ["tests/pipelines/test_flip_known_answers.py"],
    ),
    "flip_centre_w_minus_c": (
        "posekit/data/transforms.py",
        "center = np.array([img.shape[1] - 1 - center[0], center[1]])",
        "center = np.array([img.shape[1] - center[0], center[1]])",
        ["tests/data/test_transforms_properties.py"],
    ),
    "ohkm_ignores_mask": (
        "posekit/losses.py",
        "sq = diff**2 if masked is None else diff**2 * masked",
        "sq = diff**2",
        ["tests/test_losses_mask.py"],
    ),
    "results_nan_bbox": (
        "posekit/evaluation/results.py",
        'if "bbox" in entry:',
        "if False:",
        ["tests/evaluation/test_results_audit.py"],
    ),
    "results_bool_image_id": (
        "posekit/evaluation/results.py",
        "if not isinstance(image_id, int) or isinstance(image_id, bool):",
        "if not isinstance(image_id, int):",
        ["tests/evaluation/test_results_audit.py"],
    ),
    "resume_skips_ema": (
        "posekit/engine/train.py",
        'run.ema.load_state_dict(state["ema"])',
        "pass",
        ["tests/engine/test_train.py::test_resume_reproduces_uninterrupted_run"],
    ),
    "to_coco_keeps_xyxy": (
        "posekit/structures.py",
        "boxes = xyxy_to_xywh(self.boxes).tolist()",
        "boxes = self.boxes.tolist()",
        ["tests/test_structures_to_coco.py"],
    ),
    "mean_pose_image_frame": (
        "posekit/evaluation/baselines.py",
        "total[labelled] += apply_affine(person.keypoints[labelled, :2], to_crop)",
        "total[labelled] += person.keypoints[labelled, :2]",
        ["tests/evaluation/test_baselines.py"],
    ),
    "mean_pose_udp_frame": (
        "posekit/evaluation/baselines.py",
        "to_crop = get_affine_matrix(center, scale, 0.0, self.input_size)",
        "to_crop = get_affine_matrix(center, scale, 0.0, self.input_size, udp=True)",
        ["tests/evaluation/test_baselines.py"],
    ),
    "resume_keeps_stale_rows": (
        "posekit/engine/run_folder.py",
        "truncate_log(log, resumed_epoch, validated=validated)",
        "pass",
        ["tests/engine/test_run_folder.py"],
    ),
    "resume_skips_pending_validation": (
        "posekit/engine/train.py",
        "if pending is not None:  # the checkpoint",
        "if False:  # the checkpoint",
        ["tests/engine/test_run_folder.py"],
    ),
    "stale_temp_files_kept": (
        "posekit/engine/run_folder.py",
        "clean_temp_files(out_dir)",
        "pass",
        ["tests/engine/test_run_folder.py"],
    ),
    "run_folder_overwritten": (
        "posekit/engine/train.py",
        "check_run_dir(out_dir, resume=resume is not None, exist_ok=exist_ok)",
        "pass",
        ["tests/engine/test_run_folder.py"],
    ),
    "simota_box_or_centre": (
        "posekit/models/rtmo_criterion.py",
        "+ 1e5 * (~(in_box[idx] & in_centre[idx])).float())",
        "+ 1e5 * (~(in_box[idx] | in_centre[idx])).float())",
        ["tests/models/test_rtmo_criterion.py"],
    ),
    "convert_accepts_extra_keys": (
        "posekit/export/convert.py",
        "if unused or missing or shapes:",
        "if missing or shapes:",
        ["tests/export/test_convert.py::test_extra_source_keys_are_refused_when_none_is_missing"],
    ),
    "window_padding_unmasked": (
        "posekit/models/backbones/vit.py",
        "region[hp:, :] = -1\n        region[:, wp:] = -1",
        "pass",
        ["tests/models/test_vit_windows.py"],
    ),
    "window_shift_sign": (
        "posekit/models/backbones/vit.py",
        "out = torch.roll(out, shifts=(sh, sw), dims=(1, 2))",
        "out = torch.roll(out, shifts=(-sh, -sw), dims=(1, 2))",
        ["tests/models/test_vit_windows.py"],
    ),
    "onestage_clip_xy_swapped": (
        "posekit/pipelines/onestage.py",
        "b = np.clip(b, 0, size) * factor + offset",
        "b = np.clip(b, 0, size[::-1]) * factor + offset",
        ["tests/pipelines/test_onestage.py"],
    ),
    "center_resize_xy_swapped": (
        "posekit/pipelines/onestage.py",
        "rw, rh = min(in_w, in_h * w / h), min(in_h, in_w * h / w)",
        "rw, rh = min(in_w, in_h * h / w), min(in_h, in_w * w / h)",
        ["tests/pipelines/test_onestage.py"],
    ),
}


def run(name: str) -> bool:
    """Apply one mutation, run its tests; True when the tests fail (the mutation is caught)."""
    file, old, new, tests = MUTATIONS[name]
    path = ROOT / file
    source = path.read_text()
    if source.count(old) != 1:
        print(f"{name}: the text to mutate is not (exactly once) in {file}; update this list")
        return False
    try:
        path.write_text(source.replace(old, new))
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                               *tests], cwd=ROOT, env=env, capture_output=True, text=True)
    finally:
        path.write_text(source)
    caught = done.returncode == 1
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    print(f"{'caught  ' if caught else 'SURVIVED'} {name}: {summary}", flush=True)
    return caught


def main(names: list[str]) -> int:
    names = names or list(MUTATIONS)
    survived = [n for n in names if not run(n)]
    print(f"{len(names) - len(survived)} of {len(names)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
