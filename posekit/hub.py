"""Pretrained models by name: one explicit table, verified downloads, a cache that works offline.

``PoseEstimator("rtmo-s")``, ``posekit infer photo.jpg --model rtmo-s`` and ``posekit models``
use :data:`MODELS`, written out below (no registry). Each entry names a released checkpoint (URL
and SHA-256, taken from MMPose's metafiles), the posekit config it converts onto, and what the
source reports for it (COCO val2017 AP). ``$POSEKIT_MODELS`` names a YAML file whose entries add
to the table or override its fields (mirrors, offline clusters, private models; see
:func:`load_user_models`).

:func:`resolve` turns a name into a posekit checkpoint under the cache folder (``$POSEKIT_HOME``,
else ``~/.cache/posekit``):

1. ``models/<name>-<key>.pt`` exists: it is returned; nothing touches the network.
2. Else the released file is taken from ``downloads/<file name>`` (an earlier download or one
   placed there by hand), or downloaded to a temp file in that folder and renamed into place once
   complete. Its SHA-256 must match the entry's (the full digest, or the 8-hex prefix MMPose puts
   in its file names: ``-8db55a59_20231211.pth``); a file that does not is deleted.
3. It is converted once with :func:`posekit.export.convert.convert_checkpoint` (written
   atomically).

A lock file (``fcntl.flock``) serialises steps 2–3 between processes, so two processes resolving
the same name download it once. ``POSEKIT_OFFLINE=1`` forbids the download: the error names the
URL and the path where a file downloaded by hand is picked up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import http.client
import os
import re
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm import tqdm

from posekit.config import find_config, load_config
from posekit.engine.tasks import build_task
from posekit.export.convert import convert_checkpoint

try:  # POSIX; elsewhere concurrent resolutions rely on the atomic renames alone
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ModelEntry", "MODELS", "DEFAULT_DETECTOR", "DownloadError", "cache_home", "model_table",
    "find_model", "is_model_name", "load_user_models", "describe_config", "resolve", "fetch",
    "download", "sha256_of", "download_path", "converted_path", "cache_state",
    "checkpoint_or_model", "format_table", "table_records",
]

DEFAULT_DETECTOR = "rtmo-s"  # the people whose boxes a top-down model resolved by name crops

PARADIGMS = {"topdown": "top-down", "topdown_multi": "top-down", "topdown_distill": "top-down",
             "bottomup": "bottom-up", "onestage": "one-stage"}


class DownloadError(RuntimeError):
    """A released file could not be fetched or failed its check; the message says what to do."""


@dataclass(frozen=True)
class ModelEntry:
    """One pretrained model: where its weights come from, how they are checked and loaded."""

    name: str  # what --model / PoseEstimator(...) take
    family: str
    paradigm: str  # "top-down" | "bottom-up" | "one-stage"
    skeleton: str
    config: str  # a shipped config name or a YAML path
    input_size: str  # H×W, as MMPose's config names write it
    params_m: float  # millions of parameters
    coco_ap: float | None  # the source's COCO val2017 AP (top-down: detector boxes, flip test)
    url: str | None  # http(s) or file://; None where no stable URL exists
    sha256: str | None  # the full hex digest or a prefix of at least 8 hex digits
    licence: str
    note: str = ""
    file_name: str = ""  # the downloaded file's name; default: the URL's last part

    @property
    def source_name(self) -> str:
        """File name under ``downloads/`` (where a hand-downloaded file is picked up)."""
        if self.file_name:
            return self.file_name
        assert self.url is not None, f"{self.name}: an entry without a URL needs a file_name"
        return Path(urllib.parse.urlparse(self.url).path).name


_V1 = "https://download.openmmlab.com/mmpose/v1/"
_RTMO = _V1 + "projects/rtmo/"
_TD = _V1 + "body_2d_keypoint/topdown_heatmap/coco/"
_MMPOSE = ("released by OpenMMLab with MMPose (Apache-2.0 code; no separate licence stated for "
           "the weights)")
_COCO = _MMPOSE + "; trained on COCO (annotations CC BY 4.0)"
_BODY7 = (_MMPOSE + "; trained on body7 (AI Challenger, COCO, CrowdPose, MPII, sub-JHMDB, Halpe, "
          "PoseTrack18): check each dataset's terms")
_VIT = _COCO + "; backbone initialised from MAE weights (MAE: CC BY-NC 4.0)"


def _rtmo(name: str, size: str, data: str, params: float, ap: float, file: str, sha256: str,
          note: str = "") -> ModelEntry:
    return ModelEntry(name, "RTMO", "one-stage", "coco17", f"rtmo-{size}_coco_640x640", "640x640",
                      params, ap, _RTMO + file, sha256, _BODY7 if data == "body7" else _COCO, note)


def _topdown(name: str, family: str, config: str, size: str, params: float, ap: float, file: str,
             sha256: str, licence: str = _COCO, note: str = "") -> ModelEntry:
    return ModelEntry(name, family, "top-down", "coco17", config, size, params, ap, _TD + file,
                      sha256, licence, note)


# The table. URLs, hashes and APs from MMPose 1.3.2's metafiles (configs/body_2d_keypoint/
# {rtmo/coco/rtmo_coco.yml, rtmo/body7/rtmo_body7.yml, topdown_heatmap/coco/vitpose_coco.yml,
# resnet_coco.yml, cpm_coco.yml}); top-down APs use person detections of AP_H 56.4 and flip test.
# The hash of each file is the 8-hex SHA-256 prefix in its name (MMPose's publish_model.py).
MODELS: dict[str, ModelEntry] = {e.name: e for e in (
    _rtmo("rtmo-s", "s", "coco", 9.87, 0.677,
          "rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth", "8db55a59",
          "AP 0.677 as in rtmo_coco.md and the paper; the metafile's 0.673 is its CrowdPose AP"),
    _rtmo("rtmo-m", "m", "coco", 22.53, 0.709,
          "rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth", "6f4e0306"),
    _rtmo("rtmo-l", "l", "coco", 44.69, 0.724,
          "rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth", "516a421f"),
    _rtmo("rtmo-s-body7", "s", "body7", 9.87, 0.686,
          "rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth", "dac2bf74"),
    _rtmo("rtmo-m-body7", "m", "body7", 22.53, 0.726,
          "rtmo-m_16xb16-600e_body7-640x640-39e78cc4_20231211.pth", "39e78cc4"),
    _rtmo("rtmo-l-body7", "l", "body7", 44.69, 0.748,
          "rtmo-l_16xb16-600e_body7-640x640-b37118ce_20231211.pth", "b37118ce"),
    _topdown("vitpose-s", "ViTPose", "vitpose_small_coco_256x192", "256x192", 24.29, 0.739,
             "td-hm_ViTPose-small_8xb64-210e_coco-256x192-62d7a712_20230314.pth", "62d7a712",
             _VIT),
    _topdown("vitpose-b", "ViTPose", "vitpose_base_coco_256x192", "256x192", 89.99, 0.757,
             "td-hm_ViTPose-base_8xb64-210e_coco-256x192-216eae50_20230314.pth", "216eae50",
             _VIT),
    _topdown("vitpose-l", "ViTPose", "vitpose_large_coco_256x192", "256x192", 308.54, 0.782,
             "td-hm_ViTPose-large_8xb64-210e_coco-256x192-53609f55_20230314.pth", "53609f55",
             _VIT),
    _topdown("vitpose-h", "ViTPose", "vitpose_huge_coco_256x192", "256x192", 637.21, 0.788,
             "td-hm_ViTPose-huge_8xb64-210e_coco-256x192-e32adcd4_20230314.pth", "e32adcd4",
             _VIT),
    _topdown("vitpose-s-simple", "ViTPose", "vitpose_small_simple_coco_256x192", "256x192",
             21.72, 0.736,
             "td-hm_ViTPose-small-simple_8xb64-210e_coco-256x192-4c101a76_20230314.pth",
             "4c101a76", _VIT, "simple decoder"),
    _topdown("vitpose-b-simple", "ViTPose", "vitpose_base_simple_coco_256x192", "256x192",
             85.91, 0.756,
             "td-hm_ViTPose-base-simple_8xb64-210e_coco-256x192-0b8234ea_20230407.pth",
             "0b8234ea", _VIT, "simple decoder"),
    _topdown("vitpose-l-simple", "ViTPose", "vitpose_large_simple_coco_256x192", "256x192",
             303.45, 0.780,
             "td-hm_ViTPose-large-simple_8xb64-210e_coco-256x192-3a7ee9e1_20230314.pth",
             "3a7ee9e1", _VIT, "simple decoder"),
    _topdown("vitpose-h-simple", "ViTPose", "vitpose_huge_simple_coco_256x192", "256x192",
             631.11, 0.789,
             "td-hm_ViTPose-huge-simple_8xb64-210e_coco-256x192-ffd48c05_20230314.pth",
             "ffd48c05", _VIT, "simple decoder"),
    _topdown("simplebaseline-res50", "SimpleBaseline", "simplebaseline_res50_coco_256x192",
             "256x192", 34.00, 0.718,
             "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth", "04af38ce"),
    _topdown("simplebaseline-res50-384x288", "SimpleBaseline",
             "simplebaseline_res50_coco_384x288", "384x288", 34.00, 0.731,
             "td-hm_res50_8xb64-210e_coco-384x288-7b8db90e_20220923.pth", "7b8db90e"),
    _topdown("simplebaseline-res101", "SimpleBaseline", "simplebaseline_res101_coco_256x192",
             "256x192", 52.99, 0.728,
             "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth", "065d3625"),
    _topdown("simplebaseline-res152", "SimpleBaseline", "simplebaseline_res152_coco_256x192",
             "256x192", 68.64, 0.736,
             "td-hm_res152_8xb32-210e_coco-256x192-0345f330_20220928.pth", "0345f330"),
    _topdown("simplebaseline-res152-384x288", "SimpleBaseline",
             "simplebaseline_res152_coco_384x288", "384x288", 68.64, 0.750,
             "td-hm_res152_8xb32-210e_coco-384x288-7fbb906f_20220927.pth", "7fbb906f"),
    _topdown("cpm", "CPM", "cpm_6stage_coco_256x192", "256x192", 31.30, 0.627,
             "td-hm_cpm_8xb64-210e_coco-256x192-0e978875_20220920.pth", "0e978875"),
    _topdown("cpm-384x288", "CPM", "cpm_6stage_coco_384x288", "384x288", 31.30, 0.652,
             "td-hm_cpm_8xb32-210e_coco-384x288-165487b8_20221011.pth", "165487b8"),
    ModelEntry(
        "openpose-cmu", "OpenPose", "bottom-up", "coco17", "openpose_cmu_coco", "368x368", 52.31,
        None, None, None,
        "CMU OpenPose licence: non-commercial research use only; posekit does not re-host it",
        "no stable URL: get body_pose_model.pth via the links in Hzzone/pytorch-openpose's "
        "README (no hash published)",
        file_name="body_pose_model.pth"),
)}


def cache_home() -> Path:
    """The cache folder: ``$POSEKIT_HOME``, else ``~/.cache/posekit``."""
    return Path(os.environ.get("POSEKIT_HOME") or "~/.cache/posekit").expanduser()


def _offline() -> bool:
    return os.environ.get("POSEKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


# ---------------------------------------------------------------------------------- user table

_USER_KEYS = frozenset({"url", "sha256", "config", "family", "coco_ap", "licence", "note",
                        "file_name"})


def _check_sha256(value: Any, where: str) -> str:
    if not isinstance(value, str):  # YAML reads 01234567 as a number
        raise ValueError(f"{where}: sha256 must be a quoted string of hex digits, got {value!r}")
    text = value.strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", text):
        raise ValueError(f"{where}: sha256 must be 8 to 64 hex digits, got {value!r}")
    return text


def _check_url(value: Any, where: str) -> str:
    text = str(value).strip()
    if urllib.parse.urlparse(text).scheme not in ("http", "https", "file"):
        raise ValueError(f"{where}: url must start with http://, https:// or file://, "
                         f"got {value!r}")
    return text


def describe_config(config: str) -> dict[str, Any]:
    """Paradigm, skeleton, input size (H×W) and parameters (millions) of a config's model."""
    cfg = load_config(config)
    task = build_task(cfg)
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        params = sum(p.numel() for p in task.build_model().parameters())
    w, h = cfg.codec.input_size
    return {"paradigm": PARADIGMS.get(cfg.model.task, cfg.model.task),
            "skeleton": cfg.data.skeleton, "input_size": f"{h}x{w}",
            "params_m": round(params / 1e6, 2), "family": cfg.model.name}


def load_user_models(path: str | Path, base: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
    """``base`` with the entries of a user's models YAML added or overridden.

    The file holds ``models: {NAME: {url, sha256, config, ...}}``. A new name needs ``url``,
    ``sha256`` and ``config`` (a shipped config name, or a YAML path, relative to the file's
    folder); a name already in the table may give any of its fields (e.g. only ``url`` and
    ``sha256`` for a mirror). Optional: ``coco_ap``, ``licence``, ``note``, ``file_name``,
    ``family``. Unknown keys are errors that name the key.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"POSEKIT_MODELS names a missing file: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"models"} or not isinstance(
            data["models"], dict):
        raise ValueError(f"{path}: expected one top-level key 'models' mapping names to entries")
    table = dict(base)
    for name, spec in data["models"].items():
        where = f"{path}: models.{name}"
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: expected a mapping of fields, got {type(spec).__name__}")
        unknown = sorted(set(spec) - _USER_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key {unknown[0]!r}; known: "
                             f"{', '.join(sorted(_USER_KEYS))}")
        fields = dict(spec)
        if "url" in fields:
            fields["url"] = _check_url(fields["url"], where)
        if "sha256" in fields:
            fields["sha256"] = _check_sha256(fields["sha256"], where)
        if "config" in fields:
            config = str(fields["config"])
            local = path.parent / config
            fields["config"] = str(local) if local.is_file() else config
            try:
                find_config(fields["config"])
            except FileNotFoundError as exc:
                raise ValueError(f"{where}: {exc}") from None
        if "coco_ap" in fields and fields["coco_ap"] is not None:
            fields["coco_ap"] = float(fields["coco_ap"])
        name = str(name)
        if name in table:
            if "url" in fields and "file_name" not in fields:
                fields["file_name"] = ""  # the new URL's name, not the built-in's
            if "config" in fields:  # another network: its paradigm, size and parameters
                described = describe_config(fields["config"])
                described.pop("family")
                fields = {**described, **fields}
            table[name] = dataclasses.replace(table[name], **fields)
            continue
        missing = [k for k in ("url", "sha256", "config") if k not in fields]
        if missing:
            raise ValueError(f"{where}: a new model needs {', '.join(missing)}")
        described = describe_config(fields["config"])
        if "family" in fields:
            described.pop("family")
        table[name] = ModelEntry(name=name, **described, **{
            "coco_ap": None, "licence": "", **fields})
    return table


def model_table() -> dict[str, ModelEntry]:
    """The built-in table, with ``$POSEKIT_MODELS``'s entries added or overridden."""
    user = os.environ.get("POSEKIT_MODELS")
    return load_user_models(user, MODELS) if user else dict(MODELS)


def find_model(name: str) -> ModelEntry:
    """The table entry called ``name``; ValueError with close names otherwise."""
    table = model_table()
    if name in table:
        return table[name]
    near = difflib.get_close_matches(name, list(table), n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise ValueError(f"unknown model {name!r}{hint} (`posekit models` lists them)")


_FILE_SUFFIXES = (".pt", ".pth", ".ckpt", ".onnx", ".json")


def is_model_name(text: Any) -> bool:
    """True for a string that names a table entry and is neither a file nor named like one."""
    if not isinstance(text, str) or Path(text).suffix.lower() in _FILE_SUFFIXES:
        return False
    return not Path(text).exists() and text in model_table()


# ------------------------------------------------------------------------------------ the cache

def download_path(entry: ModelEntry) -> Path:
    """Where the released file is kept, and where a file downloaded by hand is picked up."""
    return cache_home() / "downloads" / entry.source_name


def converted_path(entry: ModelEntry) -> Path:
    """The converted posekit checkpoint; its name changes with the released file (its hash, or
    its name where no hash is known) and the config it is converted onto."""
    source = entry.sha256 or entry.source_name
    key = hashlib.sha256(f"{source}\n{entry.config}".encode()).hexdigest()
    return cache_home() / "models" / f"{entry.name}-{key[:8]}.pt"


def cache_state(entry: ModelEntry) -> str:
    """``"yes"`` (converted checkpoint cached), ``"file"`` (only the released file) or ``"no"``."""
    if converted_path(entry).is_file():
        return "yes"
    return "file" if download_path(entry).is_file() else "no"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``path`` (created if missing) while the block runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_error(url: str | None, expected: str, got: str, path: Path) -> DownloadError:
    return DownloadError(
        f"{url or path.name}: SHA-256 mismatch, expected {expected}{'…' * (len(expected) < 64)} "
        f"got {got}; the file was deleted from {path}")


def download(url: str, target: Path, sha256: str | None) -> Path:
    """Download ``url`` to ``target``: a temp file beside it, checked, then renamed into place.

    A progress bar shows on a terminal. On any failure (HTTP error, a connection that drops,
    a short body, a hash mismatch) the temp file is removed and nothing is left at ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    by_hand = f"download it by hand and place it at {target}"
    try:
        digest = hashlib.sha256()
        received = 0
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                size = response.headers.get("Content-Length")
                total = int(size) if size and size.isdigit() else None
                with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=target.name, disable=None, leave=False) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}; "
                                f"{by_hand}") from None
        except urllib.error.URLError as exc:
            raise DownloadError(f"cannot reach {url} ({exc.reason}); {by_hand}") from None
        except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
            raise DownloadError(f"download of {url} broke off after {received} bytes "
                                f"({type(exc).__name__}); run again or {by_hand}") from None
        if total is not None and received != total:
            raise DownloadError(f"download of {url} is truncated: {received} of {total} bytes; "
                                f"run again or {by_hand}")
        got = digest.hexdigest()
        if sha256 is not None and not got.startswith(sha256):
            raise _hash_error(url, sha256, got, target)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def fetch(entry: ModelEntry) -> Path:
    """The entry's released file under ``downloads/``, checked: from an earlier download, a file
    placed there by hand, or a new download (refused when offline)."""
    target = download_path(entry)
    if target.is_file():
        if entry.sha256 is not None:
            got = sha256_of(target)
            if not got.startswith(entry.sha256):
                target.unlink()
                raise _hash_error(entry.url, entry.sha256, got, target)
        return target
    if entry.url is None:
        raise DownloadError(f"{entry.name}: {entry.note}; place it at {target}")
    if _offline():
        raise DownloadError(f"{entry.name} is not in the cache and POSEKIT_OFFLINE is set: "
                            f"download {entry.url} and place it at {target}")
    return download(entry.url, target, entry.sha256)


def resolve(name: str | ModelEntry) -> Path:
    """The posekit checkpoint of a table model: cached, or fetched, checked and converted once.

    Concurrent calls (threads or processes) for files of the same name wait for each other; the
    later ones find the converted checkpoint.
    """
    entry = name if isinstance(name, ModelEntry) else find_model(name)
    out = converted_path(entry)
    if out.is_file():
        return out
    lock = cache_home() / "downloads" / f".{entry.source_name}.lock"
    with _locked(lock):
        if out.is_file():  # another process converted it while this one waited
            return out
        source = fetch(entry)
        convert_checkpoint(source, entry.config, out)
    return out


def checkpoint_or_model(checkpoint: str | None, model: str | None) -> str:
    """The one of ``--checkpoint`` / ``--model`` that was given (a model stays a name)."""
    if checkpoint is not None and model is not None:
        raise ValueError(f"give either --checkpoint ({checkpoint}) or --model ({model}), "
                         "not both")
    if checkpoint is None and model is None:
        raise ValueError("give --checkpoint CKPT (a posekit .pt or .onnx) or --model NAME "
                         "(`posekit models` lists the names)")
    return str(checkpoint if checkpoint is not None else model)


# ---------------------------------------------------------------------------------- the listing

def table_records(table: dict[str, ModelEntry] | None = None) -> list[dict[str, Any]]:
    """One dict per entry: every field plus ``cached`` and the two cache paths."""
    table = model_table() if table is None else table
    return [{**dataclasses.asdict(e), "cached": cache_state(e),
             "download_path": str(download_path(e)), "checkpoint_path": str(converted_path(e))}
            for e in table.values()]


def format_table(table: dict[str, ModelEntry] | None = None) -> str:
    """The table as ``posekit models`` prints it: name, paradigm, AP, params, input, cached."""
    table = model_table() if table is None else table
    rows = [("name", "paradigm", "COCO AP", "params", "input", "cached")]
    for e in table.values():
        ap = f"{e.coco_ap:.3f}" if e.coco_ap is not None else "-"
        rows.append((e.name, e.paradigm, ap, f"{e.params_m:.2f} M", e.input_size,
                     cache_state(e)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    notes = [f"  {e.name}: {e.note}" for e in table.values()
             if e.note and e.note != "simple decoder"]
    return "\n".join(lines + (["notes:", *notes] if notes else [])
                     + [f"cache: {cache_home()} (POSEKIT_HOME)"])
