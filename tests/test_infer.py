"""posekit infer: folders with a corrupt file, videos, globs, exit codes, results json."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from product_helpers import (
    person_image,
    tiny_checkpoint,
)

from posekit import PoseEstimator
from posekit.cli import main
from posekit.infer import expand_source, run_infer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def ckpt(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny.pt")[1]


def test_folder_with_a_corrupt_file(ckpt, tmp_path, capsys):
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    cv2.imwrite(str(src / "b.png"), person_image(0))
    cv2.imwrite(str(src / "sub" / "a.jpg"), person_image(1))
    (src / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    (src / "notes.txt").write_text("ignored: not an image")
    out = tmp_path / "out"
    rc = main(["infer", str(src), "--checkpoint", str(ckpt), "--detector", "full-image",
               "--out", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.err and "skipped" in captured.err
    closing = captured.out.strip().splitlines()[-1]
    assert closing.startswith("2 images, 2 people,") and "network" in closing
    assert "1 skipped" in closing
    results = json.loads((out / "results.json").read_text())
    # Sorted recursive order: b.png, broken.jpg (skipped), sub/a.jpg; ids = 1-based position.
    assert [(r["file_name"], r["image_id"]) for r in results] == [("b.png", 1), ("sub/a.jpg", 3)]
    assert all("frame" not in r for r in results)
    drawn = cv2.imread(str(out / "sub" / "a.jpg"))
    assert drawn is not None and drawn.shape == person_image(1).shape
    # The json equals what the API gives for the same image.
    est = PoseEstimator.from_checkpoint(ckpt, detector="full-image")
    expected = est(person_image(0)).keypoints.data.reshape(-1).tolist()
    assert np.allclose(results[0]["keypoints"], expected, atol=1e-3)


def test_nothing_readable_exits_2(ckpt, tmp_path, capsys):
    src = tmp_path / "bad"
    src.mkdir()
    (src / "x.jpg").write_bytes(b"nope")
    rc = main(["infer", str(src), "--checkpoint", str(ckpt), "--detector", "full-image",
               "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "error: nothing readable" in capsys.readouterr().err


def _write_video(path, frames):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(f)
    writer.release()


def test_video_is_streamed_to_an_mp4_and_json(ckpt, tmp_path, capsys):
    frames = [person_image(i) for i in range(5)]
    video = tmp_path / "clip.mp4"
    _write_video(video, frames)
    out = tmp_path / "out"
    rc = main(["infer", str(video), "--checkpoint", str(ckpt), "--detector", "full-image",
               "--out", str(out)])
    assert rc == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("5 images, 5 people")
    results = json.loads((out / "results.json").read_text())
    assert [r["frame"] for r in results] == [0, 1, 2, 3, 4]
    assert [r["image_id"] for r in results] == [1, 2, 3, 4, 5]
    assert {r["file_name"] for r in results} == {"clip.mp4"}
    cap = cv2.VideoCapture(str(out / "clip.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 5
    # --max-frames stops early; --no-draw writes no video.
    est = PoseEstimator.from_checkpoint(ckpt, detector="full-image")
    summary = run_infer(str(video), est, tmp_path / "o2", draw=False, max_frames=2,
                        progress=False)
    assert summary.images == 2 and summary.outputs == []
    assert not (tmp_path / "o2" / "clip.mp4").exists()


def test_glob_and_single_image(tmp_path):
    for name in ("a.png", "b.png", "c.jpg"):
        cv2.imwrite(str(tmp_path / name), person_image(0))
    root, files = expand_source(str(tmp_path / "*.png"))
    assert root == tmp_path and [f.name for f in files] == ["a.png", "b.png"]
    root, files = expand_source(str(tmp_path / "c.jpg"))
    assert files == [tmp_path / "c.jpg"]
    assert expand_source("0") == (None, 0)  # camera index
    with pytest.raises(FileNotFoundError, match="source not found"):
        expand_source(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="matches no files"):
        expand_source(str(tmp_path / "*.bmp"))


def test_video_track_writes_track_ids_and_smooth_needs_track(ckpt, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    _write_video(video, [person_image(i) for i in range(4)])
    out = tmp_path / "out"
    rc = main(["infer", str(video), "--checkpoint", str(ckpt), "--detector", "full-image",
               "--out", str(out), "--track", "--smooth"])
    assert rc == 0
    closing = capsys.readouterr().out.strip().splitlines()[-1]
    assert closing.startswith("4 images, 4 people") and "track" in closing
    results = json.loads((out / "results.json").read_text())
    # One person (the whole image) in every frame: one id, kept throughout.
    assert [r["track_id"] for r in results] == [0, 0, 0, 0]
    assert cv2.VideoCapture(str(out / "clip.mp4")).read()[0]
    # Smoothing: the first frame passes unchanged, later ones differ from the raw estimate.
    est = PoseEstimator.from_checkpoint(ckpt, detector="full-image")
    raw = run_infer(str(video), est, tmp_path / "raw", draw=False, progress=False)
    raw_results = json.loads(raw.results.read_text())
    assert "track_id" not in raw_results[0]
    assert np.allclose(results[0]["keypoints"], raw_results[0]["keypoints"], atol=1e-3)
    assert not np.allclose(results[3]["keypoints"], raw_results[3]["keypoints"], atol=1e-2)

    rc = main(["infer", str(video), "--checkpoint", str(ckpt), "--detector", "full-image",
               "--out", str(out), "--smooth"])
    assert rc == 2 and "error: --smooth filters tracked people: add --track" in (
        capsys.readouterr().err)
    image = tmp_path / "photo.png"
    cv2.imwrite(str(image), person_image(0))
    rc = main(["infer", str(image), "--checkpoint", str(ckpt), "--detector", "full-image",
               "--out", str(out), "--track"])
    assert rc == 2 and "--track needs a video or a camera" in capsys.readouterr().err
