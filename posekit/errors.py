"""Turn any exception into the one short ``error:`` line the command line prints.

Library code raises ordinary exceptions with messages that name the file and field; this module
only reshapes what other libraries produce: DataLoader workers wrap the real error in a
multi-line traceback, torch's ``weights_only`` refusals add paragraphs of advice, and ``OSError``
spells disk-full and permission problems as errno text.
"""

from __future__ import annotations

import errno
import re
import warnings

__all__ = ["one_line_error", "format_warning", "shorten_torch_load_error", "DataWarning",
           "DetailedError"]

_WORKER_PREFIX = re.compile(r"^Caught \w+ in DataLoader worker process \d+\.?$")
_EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Warning)):\s*(.*)$")


class DataWarning(UserWarning):
    """A dataset problem that training survives (printed as one ``warning:`` line by the CLI)."""


class DetailedError(ValueError):
    """A ``ValueError`` whose lines after the first are details the user needs to act on (the
    keys a checkpoint lacks); the CLI prints every line instead of cutting at the first."""


# torch's wordings of a refused global: "WeightsUnpickler error: Unsupported global: GLOBAL x was
# not an allowed global by default. Please use …" (on its own line or mid-line) and "Trying to
# load unsupported GLOBAL x whose module y is blocked." (torch 2.13).
_UNPICKLER = re.compile(r"WeightsUnpickler error:\s*(.+?)(?:\.\s*Please use\b.*)?$")
_BLOCKED = re.compile(r"Trying to load unsupported GLOBAL (\S+)(.*?)\.?\s*$")


def shorten_torch_load_error(message: str) -> str:
    """The one informative line of a ``torch.load(weights_only=True)`` failure.

    torch explains its ``weights_only`` default in several paragraphs, including advice to load
    with ``weights_only=False`` (which would run the file's pickled code); what matters is the
    global the file asked for. Else the first line.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", message)  # torch bolds part of its advice
    for line in text.splitlines():
        line = line.strip()
        found = _UNPICKLER.search(line)
        if found:
            return found.group(1).rstrip(".") + " (refused by weights_only=True)"
        found = _BLOCKED.search(line)
        if found:
            return (f"Unsupported global: GLOBAL {found.group(1)}{found.group(2).rstrip('.')} "
                    "(refused by weights_only=True)")
    first = text.strip().splitlines()[0] if text.strip() else text
    return first.strip()


def _os_error(exc: OSError) -> str | None:
    name = exc.filename
    target = f" {name}" if name else ""
    if exc.errno == errno.ENOSPC:
        return f"disk full while writing{target}"
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded while writing{target}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied:{target}" if name else "permission denied"
    if exc.errno == errno.EROFS:
        return f"read-only file system:{target}" if name else "read-only file system"
    return None


def one_line_error(exc: BaseException) -> str:
    """A single line describing ``exc`` (without the ``error:`` prefix)."""
    if isinstance(exc, OSError):
        short = _os_error(exc)
        if short is not None:
            return short
    text = str(exc)
    if isinstance(exc, KeyError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        text = exc.args[0]  # str(KeyError) adds quotes
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and _WORKER_PREFIX.match(lines[0].strip()):
        # "Caught ValueError in DataLoader worker process 0. Original Traceback …": the real
        # message is the last "SomeError: message" line of the worker's traceback.
        for line in reversed(lines):
            m = _EXC_LINE.match(line.strip())
            if m:
                return m.group(2) or m.group(1)
        return lines[-1].strip()
    if "Weights only load failed" in text or "WeightsUnpickler" in text:
        return shorten_torch_load_error(text)
    if isinstance(exc, DetailedError):
        return "\n".join(line.rstrip() for line in lines)
    if not lines:
        return type(exc).__name__
    if len(lines) == 1:
        return lines[0].strip()
    return lines[0].strip() + " …"


def format_warning(message: Warning | str, category: type[Warning], *args, **kwargs) -> str:
    """``warnings.formatwarning`` replacement: ``warning: message`` on one line."""
    return f"warning: {message}\n"


def install_warning_format() -> None:
    """Print warnings as one ``warning: …`` line (the CLI calls this)."""
    warnings.formatwarning = format_warning  # type: ignore[assignment]
