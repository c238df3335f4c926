"""Fatal crashes leave a trace: :mod:`faulthandler` writes into the log folder.

A crash that kills the interpreter (a segmentation fault in a C library, an abort in Qt)
runs no Python handler and writes nothing to the usual log. ``faulthandler`` still can: at
start-up each process opens its own file ``faults-<pid>.log`` in the log folder and
faulthandler writes every thread's Python stack there if the process dies that way. A
clean exit deletes the file, still empty. A file that is not empty is the trace of a
crash (faulthandler writes nothing else into it): the next window start shows it
(:func:`previous_crashes`) and keeps it, renamed ``crash-<pid>-<when>.log``, for support.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import logging
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

FAULT_FILE = re.compile(r"faults-(\d+)\.log")
#: The most of a crash log a message shows (the whole file stays in the log folder).
SHOWN_CHARS = 4000

_open: list[tuple[TextIO, Path]] = []  # this process's fault file, while enabled


@dataclass(frozen=True)
class CrashReport:
    """A crash of an earlier run: its trace as faulthandler wrote it, and where it is kept."""

    path: Path
    when: datetime  # when the file was last written (UTC): the crash
    text: str

    def summary(self) -> str:
        """The first line saying what happened (``Fatal Python error: ...``)."""
        for line in self.text.splitlines():
            if line.strip():
                return line.strip()
        return "(no details)"


def fault_file(folder: Path, pid: int | None = None) -> Path:
    return folder / f"faults-{os.getpid() if pid is None else pid}.log"


def enable(folder: Path) -> Path | None:
    """Write this process's fatal crashes into ``folder`` (once; None if it cannot)."""
    if _open:
        return _open[0][1]
    path = fault_file(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stream = path.open("w", encoding="utf-8")
    except OSError as exc:
        log.warning("no crash log: %s cannot be written (%s)", path, exc)
        return None
    faulthandler.enable(file=stream, all_threads=True)
    _open.append((stream, path))
    atexit.register(disable)
    return path


def disable() -> None:
    """A clean exit: faulthandler off, and this process's (empty) fault file deleted."""
    while _open:
        stream, path = _open.pop()
        faulthandler.disable()
        stream.close()
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()


def previous_crashes(folder: Path) -> list[CrashReport]:
    """The crashes of earlier runs not shown yet (oldest first), each kept under a new
    name so it is shown once. Empty fault files of other processes are left alone: they
    may still be running (or were killed, which leaves nothing to show)."""
    reports = []
    try:
        candidates = sorted(folder.iterdir())
    except OSError:
        return []
    for path in candidates:
        match = FAULT_FILE.fullmatch(path.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            stat = path.stat()
            if stat.st_size == 0:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            when = datetime.fromtimestamp(stat.st_mtime, UTC)
            kept = folder / f"crash-{match.group(1)}-{when:%Y%m%d-%H%M%S}.log"
            path.replace(kept)
        except OSError as exc:
            log.warning("the crash log %s cannot be read: %s", path, exc)
            continue
        log.warning("the program crashed at %s UTC (pid %s): %s; its trace is in %s",
                    f"{when:%Y-%m-%d %H:%M:%S}", match.group(1),
                    text.strip().splitlines()[0] if text.strip() else "-", kept)
        reports.append(CrashReport(kept, when, text))
    return sorted(reports, key=lambda r: r.when)
