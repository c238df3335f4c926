"""Backups of a SQLite study file: online copies, rotation, integrity checks and restore.

Copies use SQLite's online backup API, so they are consistent while other windows or the
command line are writing. A damaged file is never written to: it is moved aside on restore.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .engine import copy_sqlite_file
from .errors import sqlite_code
from .file_lock import StudyFileInUse, sole_use

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntegrityResult:
    ok: bool
    message: str
    #: False when the file could not be checked at all (locked by another program, not
    #: openable): that is no evidence of damage, and no reason to replace it.
    damaged: bool = True


def integrity_check(path: Path) -> IntegrityResult:
    """``PRAGMA integrity_check`` on a file, read-only; anything but 'ok' is damage."""
    if not path.exists():
        return IntegrityResult(False, f"{path} does not exist")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if (sqlite_code(exc) or 0) & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return IntegrityResult(False, f"{path.name} is not a readable database ({exc})")
        # Locked, busy, cannot open, an I/O error: no evidence of damage.
        log.warning("integrity check of %s not possible: %s", path, exc, exc_info=exc)
        return IntegrityResult(False, f"{path.name} cannot be checked now ({exc})",
                               damaged=False)
    text = "; ".join(str(r[0]) for r in rows)
    return IntegrityResult(text == "ok", "ok" if text == "ok" else text[:500])


def backup_folder(db_path: Path) -> Path:
    return db_path.parent / f"{db_path.stem}-backups"


def make_backup(db_path: Path, folder: Path, when: datetime, reason: str, keep: int) -> Path:
    """An online copy named by UTC time and reason, checked; old automatic ones rotated out."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = when.strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{db_path.stem}-{stamp}-{reason}.sqlite"
    twin = 1
    while target.exists():  # two backups in one clock tick (a coarse clock): keep both
        twin += 1
        target = folder / f"{db_path.stem}-{stamp}~{twin}-{reason}.sqlite"  # sorts after
    partial = target.with_suffix(".partial")
    copy_sqlite_file(db_path, partial)
    result = integrity_check(partial)
    if not result.ok:
        partial.unlink(missing_ok=True)
        raise OSError(f"the backup copy failed its integrity check: {result.message}")
    partial.replace(target)
    backups = list_backups(folder, db_path.stem)
    for old in backups[keep:]:
        old.unlink(missing_ok=True)
        log.info("rotated out old backup %s", old)
    return target


def list_backups(folder: Path, stem: str) -> list[Path]:
    """Backups newest first."""
    if not folder.exists():
        return []
    return sorted(folder.glob(f"{stem}-*.sqlite"), key=lambda p: p.name, reverse=True)


def newest_good_backup(folder: Path, stem: str) -> Path | None:
    for candidate in list_backups(folder, stem):
        if integrity_check(candidate).ok:
            return candidate
    return None


def _refuse_if_another_program_writes(db_path: Path) -> None:
    """A program that is not Taper Tracker (a SQLite browser, say) holds no in-use lock;
    refuse while it is in the middle of a write, which SQLite's own lock shows."""
    try:
        conn = sqlite3.connect(db_path, timeout=1, isolation_level=None)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if (sqlite_code(exc) or 0) & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise StudyFileInUse(db_path, [], "a program writing to it that is not Taper "
                                 "Tracker (a SQLite browser, say)") from None
        # A file too damaged to lock is not in use by this application either.
        log.info("%s could not be locked before the restore (%s): not in use", db_path, exc)


def restore_backup(backup: Path, db_path: Path, when: datetime) -> Path:
    """Put a backup in place of the study file; the file it replaces is kept beside it.

    Refused with :class:`StudyFileInUse`, naming the programs, while any other window or
    command has the file open: it would go on writing into the file moved aside, and its
    later saves would vanish from the study. Nobody can open the file during the restore.
    """
    if not integrity_check(backup).ok:
        raise OSError(f"{backup} is damaged too; choose another backup")
    kept = db_path.with_name(f"{db_path.stem}.replaced-{when.strftime('%Y%m%dT%H%M%SZ')}"
                             f"{db_path.suffix}")
    with sole_use(db_path):
        if db_path.exists():
            _refuse_if_another_program_writes(db_path)
            shutil.move(str(db_path), kept)
            for suffix in ("-wal", "-shm"):
                side = db_path.with_name(db_path.name + suffix)
                if side.exists():
                    shutil.move(str(side), kept.with_name(kept.name + suffix))
        copy_sqlite_file(backup, db_path)
    return kept
