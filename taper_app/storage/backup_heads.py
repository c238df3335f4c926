"""The audit trail's head each automatic backup holds, recorded beside it.

``NAME.sqlite`` in the backup folder gets ``NAME.head``: one line ``N HASH``, the backup's
row count and last row's hash. At start-up the study file must still hold row N with
that hash: a file whose trail does not extend its newest backup's (an older copy put in
its place, or a trail cut or rewritten) is flagged. Read-only, plain ``sqlite3``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

_LINE = re.compile(r"^(\d+) ([0-9a-f]{64})$")


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def file_head(path: Path) -> tuple[int, str] | None:
    """The head of the trail in a SQLite study file; None when it cannot be read."""
    try:
        conn = _connect(path)
        try:
            row = conn.execute("SELECT id, row_hash FROM audit_log ORDER BY id DESC "
                               "LIMIT 1").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("the audit head of %s cannot be read: %s", path, exc)
        return None
    return (0, "0" * 64) if row is None else (int(row[0]), str(row[1]))


def file_holds(path: Path, rows: int, digest: str) -> bool | None:
    """Whether the file's trail holds row ``rows`` with hash ``digest``; None: unreadable."""
    if rows == 0:
        return True
    try:
        conn = _connect(path)
        try:
            row = conn.execute("SELECT row_hash FROM audit_log WHERE id = ?",
                               (rows,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        log.warning("the audit trail of %s cannot be read: %s", path, exc)
        return None
    return row is not None and row[0] == digest


def head_file(backup: Path) -> Path:
    return backup.with_suffix(".head")


def record_head(backup: Path) -> tuple[int, str] | None:
    """Write ``NAME.head`` beside a backup with the head it holds; also drop the ``.head``
    files of backups rotated out."""
    head = file_head(backup)
    if head is not None:
        head_file(backup).write_text(f"{head[0]} {head[1]}\n", encoding="utf-8")
    for old in backup.parent.glob("*.head"):
        if not old.with_suffix(".sqlite").exists():
            old.unlink(missing_ok=True)
    return head


def recorded_head(backup: Path) -> tuple[int, str] | None:
    """The head recorded beside a backup, or (none recorded) the one the backup holds."""
    try:
        found = _LINE.match(head_file(backup).read_text(encoding="utf-8").strip())
    except OSError:
        found = None
    if found:
        return int(found[1]), found[2]
    return file_head(backup)
