"""posekit.hub: the model table, verified downloads from a local HTTP server, the cache, offline
use, concurrent resolutions, the user's table, and every entry run by name.

Nothing here touches the internet: files are served from 127.0.0.1 (``http.server`` in a
thread, port 0) and ``POSEKIT_MODELS`` points the table's names at that server. What is covered
for the table's entries (``tests/hub_layouts.py`` writes the files):

- every entry, ViTPose-L/H included: its released layout (MMPose's key names and shapes) converts
  completely onto its config (on the meta device, no memory);
- every entry but ViTPose-L/H (and their simple-decoder twins): served, checked, converted,
  cached, then ``posekit infer photo.jpg --model NAME`` and ``PoseEstimator(NAME)`` on a real
  photo. The smallest network of each family (RTMO-s, ViTPose-S classic and simple,
  SimpleBaseline-Res50, CPM, CMU OpenPose) is served with seeded weights (the parity tests'
  rule); the larger ones of a family with constant weights in the same layout (the layout is
  what differs; drawing 90 M seeded weights costs seconds each);
- ViTPose-L/H at real size (2.5 GB for H once converted) only with ``POSEKIT_TEST_LARGE=1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from hub_layouts import (
    LAYOUT,
    release_keys,
    seeded_release,
    vitpose_keys,
    vitpose_recorded,
    write_constant_release,
    write_release,
    write_state,
)

from posekit import PoseEstimator
from posekit.api import build_detector
from posekit.cli import main
from posekit.config import load_config
from posekit.engine.checkpoint import load_checkpoint
from posekit.export.convert import CONVERTERS, convert_state_dict
from posekit.hub import (
    MODELS,
    DownloadError,
    converted_path,
    describe_config,
    download_path,
    find_model,
    format_table,
    model_table,
    resolve,
)
from posekit.pipelines.detectors import PeopleDetector
from posekit.structures import PoseInstances

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REAL_COCO_JSON = Path(__file__).parent / "fixtures" / "real" / "mmpose_coco" / "test_coco.json"
ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "tests" / "fixtures" / "real" / "mmpose_coco" / "000000000785.jpg"
LARGE = {"vitpose-l", "vitpose-h", "vitpose-l-simple", "vitpose-h-simple"}
SEEDED = {"rtmo-s", "vitpose-s-classic", "vitpose-s-simple", "sb-res50", "cpm", "openpose-cmu"}


@contextlib.contextmanager
def serve(root: Path, delay: float = 0.0) -> Iterator[tuple[str, Counter]]:
    """Serve ``root`` on 127.0.0.1; yields the base URL and a count of GETs per path.

    ``/truncated/NAME`` announces NAME's full length but sends half and closes; every response
    waits ``delay`` seconds first.
    """
    hits: Counter = Counter()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            hits[self.path] += 1
            time.sleep(delay)
            if self.path.startswith("/truncated/"):
                data = (root / self.path.removeprefix("/truncated/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
                return
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def user_table(path: Path, entries: dict[str, dict]) -> Path:
    path.write_text(yaml.safe_dump({"models": entries}))
    return path


@pytest.fixture(scope="session")
def releases(tmp_path_factory) -> Path:
    """A folder holding one stand-in file per released layout (written once per session)."""
    root = tmp_path_factory.mktemp("releases")
    for layout in sorted(set(LAYOUT.values())):
        if any(layout == LAYOUT[n] for n in LARGE) and not os.environ.get("POSEKIT_TEST_LARGE"):
            continue
        writer = write_release if layout in SEEDED else write_constant_release
        writer(layout, root / f"{layout}.pth")
    return root


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty cache folder, online, with no user table."""
    monkeypatch.setenv("POSEKIT_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("POSEKIT_OFFLINE", raising=False)
    monkeypatch.delenv("POSEKIT_MODELS", raising=False)
    return tmp_path / "cache"


def point(monkeypatch, tmp_path: Path, entries: dict[str, dict]) -> None:
    monkeypatch.setenv("POSEKIT_MODELS", str(user_table(tmp_path / "models.yaml", entries)))


def leftovers(folder: Path) -> list[str]:
    """Files in a cache folder other than lock files."""
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and p.suffix != ".lock")


# ----------------------------------------------------------------------------------- the table

def test_every_builtin_file_name_carries_its_sha256_prefix():
    """MMPose's publish_model.py names a file ``...-<sha256[:8]>_<date>.pth``; posekit checks that
    prefix itself (torch.hub's ``-([a-f0-9]*)\\.`` does not match the ``_date`` suffix)."""
    with_url = [e for e in MODELS.values() if e.url is not None]
    assert len(with_url) == len(MODELS) - 1  # all but CMU OpenPose
    for e in with_url:
        name = e.url.rsplit("/", 1)[1]
        found = re.fullmatch(r".+-([0-9a-f]{8})_(\d{8})\.pth", name)
        assert found, name
        assert e.sha256 is not None and len(e.sha256) >= 8
        assert e.sha256[:8] == found.group(1), e.name
        assert e.url.startswith("https://download.openmmlab.com/mmpose/v1/")
        assert download_path(e).name == name
    assert len({e.url for e in with_url}) == len(with_url)  # no file listed twice


def test_table_holds_the_required_models():
    names = set(MODELS)
    assert {f"rtmo-{s}{d}" for s in "sml" for d in ("", "-body7")} <= names
    assert {f"vitpose-{s}{d}" for s in "sblh" for d in ("", "-simple")} <= names
    assert {"simplebaseline-res50", "simplebaseline-res101", "simplebaseline-res152",
            "simplebaseline-res50-384x288", "simplebaseline-res152-384x288", "cpm",
            "openpose-cmu"} <= names
    openpose = MODELS["openpose-cmu"]
    assert openpose.url is None and "pytorch-openpose" in openpose.note
    assert "non-commercial" in openpose.licence
    assert all(e.licence for e in MODELS.values())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_entry_matches_its_config(name):
    """Paradigm, skeleton, input size and parameter count as the config's model has them."""
    e = MODELS[name]
    described = describe_config(e.config)
    assert (e.paradigm, e.skeleton, e.input_size) == (
        described["paradigm"], described["skeleton"], described["input_size"])
    assert e.params_m == described["params_m"]
    assert load_config(e.config).model.name in CONVERTERS


def test_vitpose_layout_rule_reproduces_mmposes_base_list():
    assert vitpose_keys("b", "classic") == vitpose_recorded("b_classic")
    assert vitpose_keys("s", "simple") == vitpose_recorded("s_simple")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_released_layout_converts_completely(name):
    """Every tensor of the entry's released file lands on its config's model, at full size
    (shapes only, on the meta device: ViTPose-H costs nothing here)."""
    keys = release_keys(LAYOUT[name])
    with torch.device("meta"):
        source = {k: torch.empty(s, dtype=torch.long if "num_batches" in k else torch.float32)
                  for k, s in keys}
        state = convert_state_dict(source, load_config(MODELS[name].config), origin=name)
    assert len(state) >= len(keys) - 5  # RTMO's 5 constants are dropped, nothing else


# ------------------------------------------------- download, check, convert, cache, offline

def test_download_check_convert_cache_then_offline(releases, home, tmp_path, monkeypatch):
    src = releases / "rtmo-s.pth"
    with serve(releases) as (url, hits):
        point(monkeypatch, tmp_path, {"rtmo-s": {"url": f"{url}/rtmo-s.pth",
                                                 "sha256": sha256(src)}})
        est = PoseEstimator("rtmo-s")
        assert hits["/rtmo-s.pth"] == 1
    entry = find_model("rtmo-s")
    assert download_path(entry).read_bytes() == src.read_bytes()
    assert converted_path(entry).is_file()
    assert leftovers(home) == sorted([download_path(entry).name, converted_path(entry).name])
    assert est.cfg.model.name == "rtmo_s" and est.source == "rtmo-s"
    first = est(cv2.imread(str(PHOTO)))
    # The server is gone: the cached checkpoint is loaded, with and without POSEKIT_OFFLINE.
    again = PoseEstimator("rtmo-s")
    monkeypatch.setenv("POSEKIT_OFFLINE", "1")
    offline = PoseEstimator("rtmo-s")
    for other in (again, offline):
        people = other(cv2.imread(str(PHOTO)))
        assert torch.equal(people.keypoints.data, first.keypoints.data)
    # Only the released file left (the converted one deleted): converted again, no network.
    converted_path(entry).unlink()
    assert resolve("rtmo-s") == converted_path(entry)


def test_wrong_hash_is_refused_and_nothing_is_cached(releases, home, tmp_path, monkeypatch,
                                                     capsys):
    with serve(releases) as (url, _):
        point(monkeypatch, tmp_path, {"rtmo-s": {"url": f"{url}/rtmo-s.pth",
                                                 "sha256": "0123abcd"}})
        with pytest.raises(DownloadError) as err:
            resolve("rtmo-s")
        msg = str(err.value)
        assert f"{url}/rtmo-s.pth" in msg and "expected 0123abcd" in msg
        assert f"got {sha256(releases / 'rtmo-s.pth')}" in msg
        assert str(home / "downloads" / "rtmo-s.pth") in msg
        assert leftovers(home) == []
        # The command line: one error line, exit status 2.
        assert main(["infer", str(PHOTO), "--model", "rtmo-s", "--out",
                     str(tmp_path / "o")]) == 2
        err_lines = capsys.readouterr().err.strip().splitlines()
        assert len(err_lines) == 1 and err_lines[0].startswith("error: ")
        assert "SHA-256 mismatch" in err_lines[0]
        assert leftovers(home) == []


def test_hand_placed_file_with_wrong_hash_is_deleted(releases, home, tmp_path, monkeypatch):
    point(monkeypatch, tmp_path, {"rtmo-s": {"url": "http://127.0.0.1:9/rtmo-s.pth",
                                             "sha256": "0123abcd"}})
    placed = home / "downloads" / "rtmo-s.pth"
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"not the released file")
    with pytest.raises(DownloadError, match="SHA-256 mismatch.*deleted"):
        resolve("rtmo-s")
    assert not placed.exists()


def test_truncated_response_is_refused(releases, home, tmp_path, monkeypatch):
    with serve(releases) as (url, _):
        point(monkeypatch, tmp_path, {"rtmo-s": {
            "url": f"{url}/truncated/rtmo-s.pth", "sha256": sha256(releases / "rtmo-s.pth")}})
        with pytest.raises(DownloadError, match=r"truncated: \d+ of \d+ bytes"):
            resolve("rtmo-s")
    assert leftovers(home) == []


def test_missing_file_404(releases, home, tmp_path, monkeypatch):
    with serve(releases) as (url, _):
        point(monkeypatch, tmp_path, {"rtmo-s": {"url": f"{url}/gone.pth",
                                                 "sha256": "0123abcd"}})
        with pytest.raises(DownloadError) as err:
            resolve("rtmo-s")
    msg = str(err.value)
    assert "HTTP 404" in msg and f"{url}/gone.pth" in msg
    assert str(home / "downloads" / "gone.pth") in msg  # where to put it by hand
    assert leftovers(home) == []


def test_offline_names_url_and_path_then_picks_up_a_placed_file(releases, home, monkeypatch,
                                                                 capsys, tmp_path):
    monkeypatch.setenv("POSEKIT_OFFLINE", "1")
    entry = MODELS["rtmo-s"]
    assert main(["infer", str(PHOTO), "--model", "rtmo-s", "--out", str(tmp_path / "o")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert entry.url in lines[0] and str(download_path(entry)) in lines[0]
    # A file placed at that path is picked up and checked against the table's hash: the stand-in
    # is not MMPose's file, so a user table gives its digest (as a mirror would).
    download_path(entry).parent.mkdir(parents=True, exist_ok=True)
    download_path(entry).write_bytes((releases / "rtmo-s.pth").read_bytes())
    point(monkeypatch, tmp_path, {"rtmo-s": {"sha256": sha256(releases / "rtmo-s.pth")}})
    assert main(["infer", str(PHOTO), "--model", "rtmo-s", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / PHOTO.name).is_file()


def test_model_without_url_says_where_to_place_it(home):
    with pytest.raises(DownloadError) as err:
        resolve("openpose-cmu")
    msg = str(err.value)
    assert "pytorch-openpose" in msg and str(home / "downloads" / "body_pose_model.pth") in msg


RESOLVE = "from posekit.hub import resolve; print(resolve('rtmo-s'))"


def test_two_processes_resolve_the_same_name_once(releases, home, tmp_path, monkeypatch):
    """The second process waits on the first one's lock and finds its converted checkpoint: one
    download, one complete file, no temp files (without the lock both would download)."""
    with serve(releases, delay=3.0) as (url, hits):
        point(monkeypatch, tmp_path, {"rtmo-s": {"url": f"{url}/rtmo-s.pth",
                                                 "sha256": sha256(releases / "rtmo-s.pth")}})
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        procs = [subprocess.Popen([sys.executable, "-c", RESOLVE], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    paths = {o[0].strip() for o in outs}
    assert paths == {str(converted_path(find_model("rtmo-s")))}
    assert hits["/rtmo-s.pth"] == 1
    assert "model" in load_checkpoint(paths.pop())
    assert len(leftovers(home)) == 2  # the released file and the converted one


# -------------------------------------------------------------------- the command line, the table

@pytest.mark.parametrize("command", [
    ["infer", str(PHOTO)], ["eval", "--data", "x.json"], ["export", "--out", "x.onnx"]])
def test_model_together_with_checkpoint_is_an_error(command, home, capsys):
    assert main([*command, "--model", "rtmo-s", "--checkpoint", "a.pt"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: give either --checkpoint (a.pt) or --model (rtmo-s), not both"
    assert not home.exists()  # nothing resolved


def test_eval_and_export_by_model(releases, home, tmp_path, monkeypatch, capsys):
    with serve(releases) as (url, _):
        point(monkeypatch, tmp_path, {"rtmo-s": {"url": f"{url}/rtmo-s.pth",
                                                 "sha256": sha256(releases / "rtmo-s.pth")}})
        assert main(["eval", "--model", "rtmo-s", "--data", str(REAL_COCO_JSON)]) == 0
    assert capsys.readouterr().out.startswith("AP: ")
    # From here on the cache serves: export gets the converted checkpoint, and eval a detector
    # given by name (the command functions are stubbed; their own tests run them).
    cached = str(converted_path(find_model("rtmo-s")))
    seen: dict = {}
    monkeypatch.setattr("posekit.export.onnx.export_cli", lambda args: seen.update(vars(args)))
    assert main(["export", "--model", "rtmo-s", "--out", str(tmp_path / "m.onnx")]) == 0
    assert seen["checkpoint"] == cached
    monkeypatch.setattr("posekit.engine.evaluate.evaluate_checkpoint_cli",
                        lambda args: seen.update(vars(args)))
    assert main(["eval", "--checkpoint", "td.pt", "--detector", "rtmo-s", "--data", "x"]) == 0
    assert (seen["checkpoint"], seen["detector"]) == ("td.pt", cached)


def test_models_command(releases, home, tmp_path, monkeypatch, capsys):
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "paradigm", "COCO", "AP", "params", "input", "cached"]
    rows = {line.split()[0]: line.split() for line in lines[1:len(MODELS) + 1]}
    assert list(rows) == list(MODELS)
    assert rows["rtmo-s"] == ["rtmo-s", "one-stage", "0.677", "9.87", "M", "640x640", "no"]
    assert rows["vitpose-h"][1:6] == ["top-down", "0.788", "637.21", "M", "256x192"]
    assert rows["openpose-cmu"][2] == "-"
    assert any("metafile's 0.673" in line for line in lines)
    assert lines[-1].startswith(f"cache: {home}")
    # Cached after a resolution; --json carries every field.
    with serve(releases) as (url, _):
        point(monkeypatch, tmp_path, {"rtmo-s": {"url": f"{url}/rtmo-s.pth",
                                                 "sha256": sha256(releases / "rtmo-s.pth")}})
        resolve("rtmo-s")
    assert main(["models", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["rtmo-s"]["cached"] == "yes" and records["rtmo-m"]["cached"] == "no"
    assert records["rtmo-s"]["url"].endswith("/rtmo-s.pth")  # the user table's mirror
    assert records["cpm"]["sha256"] == "0e978875" and records["cpm"]["coco_ap"] == 0.627
    assert records["rtmo-s"]["checkpoint_path"] == str(converted_path(find_model("rtmo-s")))


def test_docs_show_the_table_as_printed(home):
    """docs/models.md holds ``posekit models``'s output on an empty cache."""
    text = (ROOT / "docs" / "models.md").read_text()
    block = text.split("<!-- models -->\n```\n", 1)[1].split("\n```", 1)[0]
    assert block == format_table().rsplit("\ncache: ", 1)[0]


# --------------------------------------------------------------------------- the user's table

def test_user_table_adds_a_model_from_a_file_url(releases, home, tmp_path, monkeypatch):
    config = tmp_path / "my_rtmo.yaml"
    config.write_text((ROOT / "configs" / "rtmo" / "rtmo-s_coco_640x640.yaml").read_text())
    src = releases / "rtmo-s.pth"
    point(monkeypatch, tmp_path, {"my-rtmo": {
        "url": src.as_uri(), "sha256": sha256(src)[:12], "config": "my_rtmo.yaml",
        "coco_ap": 0.5, "note": "private"}})
    entry = find_model("my-rtmo")
    assert entry.config == str(config)  # relative to the table's folder
    assert (entry.paradigm, entry.input_size, entry.params_m) == ("one-stage", "640x640", 9.87)
    assert "MMPose" not in entry.licence
    est = PoseEstimator("my-rtmo")
    assert isinstance(est(str(PHOTO)), PoseInstances)
    assert (home / "downloads" / "rtmo-s.pth").read_bytes() == src.read_bytes()
    assert set(model_table()) == set(MODELS) | {"my-rtmo"}


def test_user_table_overrides_fields_of_builtins(home, tmp_path, monkeypatch):
    point(monkeypatch, tmp_path, {
        "cpm": {"config": "cpm_6stage_coco_384x288", "coco_ap": 0.5},
        "vitpose-b": {"url": "file:///mirror/vb.pth", "sha256": "AB" * 32}})
    cpm, vb = find_model("cpm"), find_model("vitpose-b")
    assert (cpm.input_size, cpm.family, cpm.coco_ap, cpm.url) == (
        "384x288", "CPM", 0.5, MODELS["cpm"].url)
    assert converted_path(cpm) != converted_path(MODELS["cpm"])  # another config: converted anew
    assert (vb.url, vb.sha256, vb.config) == ("file:///mirror/vb.pth", "ab" * 32,
                                              MODELS["vitpose-b"].config)
    assert download_path(vb) == home / "downloads" / "vb.pth"


@pytest.mark.parametrize(("entry", "message"), [
    ({"url": "https://x/a.pth", "sha256": "0123abcd"}, "a new model needs config"),
    ({"url": "ftp://x/a.pth", "sha256": "0123abcd", "config": "rtmo-s_coco_640x640"},
     "url must start with http://, https:// or file://"),
    ({"url": "https://x/a.pth", "sha256": "0123", "config": "rtmo-s_coco_640x640"},
     "sha256 must be 8 to 64 hex digits"),
    ({"url": "https://x/a.pth", "sha256": 1234567, "config": "rtmo-s_coco_640x640"},
     "sha256 must be a quoted string of hex digits"),
    ({"url": "https://x/a.pth", "sha256": "0123abcd", "config": "nope_config"},
     "config file not found: nope_config"),
    ({"url": "https://x/a.pth", "sha256": "0123abcd", "config": "rtmo-s_coco_640x640",
      "md5": "x"}, "unknown key 'md5'"),
])
def test_user_table_errors_name_the_entry(entry, message, home, tmp_path, monkeypatch, capsys):
    point(monkeypatch, tmp_path, {"mine": entry})
    with pytest.raises(ValueError, match=re.escape(message)):
        model_table()
    assert main(["models"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'models.yaml'}: models.mine: ")


# ------------------------------------------------------------------ every entry, by name

def _served(names: list[str], releases: Path, url: str) -> dict[str, dict]:
    """User-table entries pointing the built-in names at the local server (URL and hash only:
    config, paradigm and the rest stay the table's)."""
    out = {}
    for name in names:
        if name == "openpose-cmu":
            continue  # no URL: placed by hand below
        path = releases / f"{LAYOUT[name]}.pth"
        out[name] = {"url": f"{url}/{path.name}", "sha256": sha256(path)}
    return out


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory) -> Path:
    """One cache for the per-entry tests, so RTMO-s (the default detector) converts once."""
    return tmp_path_factory.mktemp("posekit_home")


ENTRIES = [pytest.param(n, marks=pytest.mark.skipif(
    n in LARGE and not os.environ.get("POSEKIT_TEST_LARGE"),
    reason="ViTPose-L/H at real size (2.5 GB): POSEKIT_TEST_LARGE=1")) for n in MODELS]


@pytest.mark.parametrize("name", ENTRIES)
def test_every_entry_runs_by_name(name, releases, shared_home, tmp_path, monkeypatch, capsys):
    """``posekit infer photo.jpg --model NAME`` and ``PoseEstimator(NAME)`` on a real photo."""
    monkeypatch.setenv("POSEKIT_HOME", str(shared_home))
    monkeypatch.delenv("POSEKIT_OFFLINE", raising=False)
    entry = MODELS[name]
    with serve(releases) as (url, hits):
        point(monkeypatch, tmp_path, _served([name, "rtmo-s"], releases, url))
        if entry.url is None:  # CMU OpenPose: the file goes where the entry says
            placed = download_path(entry)
            placed.parent.mkdir(parents=True, exist_ok=True)
            placed.write_bytes((releases / "openpose-cmu.pth").read_bytes())
        out = tmp_path / "out"
        detector = ["--detector", "full-image"] if entry.paradigm == "top-down" else []
        assert main(["infer", str(PHOTO), "--model", name, "--out", str(out), *detector]) == 0
        est = PoseEstimator(name, detector="full-image" if detector else None)  # cached now
    assert capsys.readouterr().out.strip().startswith("1 images, ")
    assert cv2.imread(str(out / PHOTO.name)).shape == cv2.imread(str(PHOTO)).shape
    results = json.loads((out / "results.json").read_text())
    assert all(len(r["keypoints"]) == 17 * 3 for r in results)
    assert est.cfg.model.name == load_config(entry.config).model.name
    assert est.cfg.codec.input_size == load_config(entry.config).codec.input_size
    assert converted_path(find_model(name)).is_file()
    if entry.paradigm == "top-down":
        assert len(results) == 1  # full-image: the photo is one box
    people = est(str(PHOTO))  # the API gives what the command wrote
    assert np.allclose([r["keypoints"] for r in results],
                       people.keypoints.data.reshape(len(people), -1).numpy(), atol=1e-3)
    if entry.url is not None:
        assert hits[f"/{LAYOUT[name]}.pth"] <= 1  # 0 when an entry with the same file ran first


def test_top_down_by_name_crops_rtmo_people(releases, home, tmp_path, monkeypatch, capsys):
    """No --detector: SimpleBaseline crops the boxes of RTMO-s's people. The served RTMO-s is the
    seeded one with its class-logit biases shifted so that exactly its 3 best people pass the
    score threshold (a uniform shift keeps their order, so NMS keeps the same people)."""
    served = tmp_path / "served"
    served.mkdir()
    seeded = releases / "rtmo-s.pth"
    with serve(releases) as (url, _):
        point(monkeypatch, tmp_path, {"rtmo-s": {"url": f"{url}/rtmo-s.pth",
                                                 "sha256": sha256(seeded)}})
        before = PoseEstimator("rtmo-s")(str(PHOTO))
    assert len(before) > 3
    logits = torch.logit(before.scores.sort(descending=True).values[2:4].double())
    thresh = load_config("rtmo-s_coco_640x640").test.det_score_thresh
    threshold = torch.logit(torch.tensor(thresh, dtype=torch.float64))
    shift = float(threshold - logits.mean())
    state = seeded_release("rtmo-s")
    for level in (0, 1):
        state[f"head.head_module.out_cls.{level}.bias"] += shift
    three = write_state("rtmo-s", state, served / "rtmo-s-three.pth")
    with serve(served) as (url, _):
        point(monkeypatch, tmp_path, {
            "rtmo-s": {"url": f"{url}/rtmo-s-three.pth", "sha256": sha256(three)},
        })
        people = PoseEstimator("rtmo-s")(str(PHOTO))
    best = before.scores.argsort(descending=True)[:3]
    assert len(people) == 3
    assert torch.allclose(people.boxes, before.boxes[best], atol=1e-3)
    with serve(releases) as (url, _):
        point(monkeypatch, tmp_path, {
            "rtmo-s": {"url": "http://127.0.0.1:9/rtmo-s-three.pth", "sha256": sha256(three)},
            **_served(["simplebaseline-res50"], releases, url)})
        out = tmp_path / "out"
        assert main(["infer", str(PHOTO), "--model", "simplebaseline-res50",
                     "--out", str(out)]) == 0  # RTMO-s from the cache: its server is gone
        est = PoseEstimator("simplebaseline-res50")  # no detector=: RTMO-s's people, as the CLI
    assert isinstance(est.pipeline.detector, PeopleDetector)
    assert est.pipeline.detector.find_people.source == "rtmo-s"
    crops = est.pipeline.detector(cv2.imread(str(PHOTO)))
    usable = [b for b in people.boxes.tolist() if b[2] - b[0] > 1 and b[3] - b[1] > 1]
    assert len(crops) >= 1
    assert torch.allclose(torch.tensor([c.box for c in crops]), torch.tensor(usable))
    # One pose per crop; the top-down OKS NMS may merge two of the (random-weight) poses.
    results = json.loads((out / "results.json").read_text())
    assert 1 <= len(results) <= len(crops)
    assert f"1 images, {len(results)} people" in capsys.readouterr().out
    # A top-down model is refused as a detector.
    with pytest.raises(ValueError, match="is a top-down model"):
        build_detector("simplebaseline-res50")
