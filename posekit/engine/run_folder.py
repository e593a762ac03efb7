"""A training run's folder: the rule for reusing one, its metrics log and its preparation.

A run folder holds ``config.yaml``, ``metrics.csv`` (one row per logged iteration and per epoch),
``last.pt`` and ``best.pt``. :func:`check_run_dir` refuses a non-empty folder unless the run
continues it or starts over in it; :func:`open_run_folder` prepares it once everything has been
checked, and on a resume cuts the log back to the checkpoint (:func:`truncate_log`), so a run
killed at any point and resumed leaves the rows an uninterrupted run would.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from posekit.config import ExperimentConfig, save_config
from posekit.engine.checkpoint import clean_temp_files

__all__ = ["RUN_FILES", "CsvLog", "ScalarsLog", "check_run_dir", "never_checkpointed",
           "open_run_folder", "truncate_log"]

RUN_FILES = ("config.yaml", "metrics.csv", "scalars.jsonl", "last.pt", "best.pt")


@contextlib.contextmanager
def _writing(path: Path, tmp: Path | None = None) -> Iterator[None]:
    """Name ``path`` in an OSError raised while writing it (``write`` errors carry no file name,
    so a full disk would otherwise read "disk full while writing" with nothing after it), also
    when the error names ``tmp``, the temporary file that becomes ``path``."""
    try:
        yield
    except OSError as exc:
        unnamed = exc.filename is None or (tmp is not None and str(exc.filename) == str(tmp))
        if unnamed and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise


class CsvLog:
    """Append-only CSV of training events (rank 0); columns grow as new keys appear.

    A row with known columns is appended; a new column rewrites the file once (atomically) with
    the wider header. ``fresh`` starts a new file (a new run), else rows already there are kept
    (a resumed run; :meth:`filter` cuts them back to the checkpoint).
    """

    def __init__(self, path: Path, enabled: bool, fresh: bool = False) -> None:
        self.path, self.enabled, self.fresh = path, enabled, fresh
        self.rows: list[dict[str, Any]] = []
        self.keys: list[str] = []
        if enabled and not fresh and path.exists():
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.rows = list(reader)
                self.keys = list(reader.fieldnames or [])

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        with _writing(self.path, tmp), tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.keys, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.rows)
        with _writing(self.path, tmp):
            tmp.replace(self.path)
        self.fresh = False

    def filter(self, keep: Callable[[dict[str, Any]], bool]) -> int:
        """Keep only the rows for which ``keep(row)`` is true (rewrites the file); returns the
        number of rows dropped."""
        if not self.enabled:
            return 0
        before = len(self.rows)
        self.rows = [r for r in self.rows if keep(r)]
        dropped = before - len(self.rows)
        if dropped:
            self._rewrite()
        return dropped

    def __call__(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.rows.append(row)
        new = [k for k in row if k not in self.keys]
        if not new and not self.fresh and self.path.exists():
            with _writing(self.path), self.path.open("a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.keys).writerow(row)
            return
        self.keys.extend(new)
        self._rewrite()


def check_run_dir(out_dir: Path, *, resume: bool, exist_ok: bool) -> None:
    """The run-folder rule: a folder that already holds files is refused unless the run
    continues it (``resume``) or the user asked to start over in it (``exist_ok``)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"run folder {out_dir} exists and is not a directory")
    if resume or exist_ok or not out_dir.is_dir():
        return
    present = sorted(p.name for p in out_dir.iterdir())
    if present:
        shown = ", ".join(present[:4]) + (", …" if len(present) > 4 else "")
        resume_hint = (f"continue it with --resume {out_dir / 'last.pt'}, "
                       if (out_dir / "last.pt").is_file() else
                       "it holds no checkpoint to continue from (last.pt); ")
        raise FileExistsError(
            f"run folder {out_dir} is not empty ({shown}); {resume_hint}start over in it with "
            "--exist-ok, or pick another --out"
        )


def never_checkpointed(out_dir: Path, resume: Path) -> bool:
    """True when ``resume`` is the missing ``last.pt`` of the run in ``out_dir`` and that run
    stopped before its first checkpoint (config.yaml written, no last.pt or best.pt): resuming
    it means starting it over."""
    return (not resume.exists() and resume.name == "last.pt"
            and resume.parent.resolve() == out_dir.resolve()
            and (out_dir / "config.yaml").is_file() and not (out_dir / "best.pt").exists())


def truncate_log(log: CsvLog, epoch: int, validated: bool) -> int:
    """Drop the rows a crash after checkpoint ``epoch`` left behind; returns how many.

    Kept: every row of earlier epochs, the iteration rows of ``epoch`` itself and its epoch row
    only when the checkpoint says its validation was completed (else it is logged again).
    """
    def keep(row: dict[str, Any]) -> bool:
        try:
            e = int(row.get("epoch", ""))
        except ValueError:
            return False
        if e != epoch:
            return e < epoch
        return row.get("kind") != "epoch" or validated

    return log.filter(keep)


def open_run_folder(out_dir: Path, cfg: ExperimentConfig, *, enabled: bool,
                    resumed_epoch: int | None, validated: bool = True) -> CsvLog:
    """Prepare the run folder and return its metrics log (``enabled``: this process writes).

    Stale temp files of a killed save are removed; a new run (``resumed_epoch`` None) removes
    an earlier run's checkpoints and log, a resumed run cuts the log back to the checkpoint's
    epoch (its epoch row kept only when ``validated``); config.yaml is (re)written.
    """
    log = CsvLog(out_dir / "metrics.csv", enabled, fresh=resumed_epoch is None)
    if not enabled:
        return log
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_temp_files(out_dir)
    (out_dir / "metrics.tmp").unlink(missing_ok=True)
    if resumed_epoch is None:  # a new run (in an empty folder, or with exist_ok)
        for name in ("last.pt", "best.pt", "metrics.csv"):
            (out_dir / name).unlink(missing_ok=True)
    else:
        truncate_log(log, resumed_epoch, validated=validated)
    with _writing(out_dir / "config.yaml"):
        save_config(cfg, out_dir / "config.yaml")
    return log


class ScalarsLog:
    """RUN/scalars.jsonl: one json object per logged training iteration (rank 0 writes).

    A new run starts the file over; a resumed run keeps the lines of the epochs before
    ``resume_epoch``, so the file reads as one uninterrupted run.
    """

    def __init__(self, path: Path, enabled: bool, resume_epoch: int | None = None) -> None:
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        kept = []
        if resume_epoch is not None and path.exists():
            kept = [line for line in path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("epoch", 0) < resume_epoch]
        path.write_text("".join(line + "\n" for line in kept))

    def __call__(self, row: dict[str, Any]) -> None:
        if self.enabled:
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
