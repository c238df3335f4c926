"""Keeping a SQLite study file safe: the start-up integrity check, restores and automatic backups.

The window calls these; they return results and never ask anything. A PostgreSQL study
has none of this: the server's own backups cover it (docs/multi-site.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..storage.backup_heads import file_holds, record_head, recorded_head
from ..storage.engine import Database, resolve_url, sqlite_path
from ..storage.sqlite_copies import (
    backup_folder,
    integrity_check,
    list_backups,
    make_backup,
    newest_good_backup,
    restore_backup,
)
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .context import ServiceContext
from .saving import saving
from .settings import load_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileCheck:
    """What the start-up check found: a sound file, or a damaged one and what can replace it."""

    path: Path
    ok: bool
    problem: str = ""
    newest_good_backup: Path | None = None
    #: Could not be checked (another program holds it, or it cannot be opened): not damage.
    busy: bool = False
    #: Set when the file is sound but its audit trail does not extend its newest backup's
    #: head: an older copy put in its place, or a trail cut or rewritten. Says which.
    behind_backup: str = ""


@dataclass(frozen=True)
class Restored:
    """A restore done before anyone signed in; audited once someone has."""

    backup: Path
    damaged_kept_as: Path
    problem: str


def check_study_file(location: str) -> FileCheck | None:
    """``PRAGMA integrity_check`` on the study file before anything writes to it.

    None when there is no file to check (a PostgreSQL server, or a file that does not
    exist yet: opening it says so).
    """
    path = sqlite_path(resolve_url(location))
    if path is None:
        log.info("%s is a database server: no integrity check or automatic backups here; "
                 "the server's own backups cover it (docs/multi-site.md)", location)
        return None
    if not path.exists():
        return None
    result = integrity_check(path)
    if result.ok:
        return FileCheck(path, True, behind_backup=trail_behind_backup(path))
    if not result.damaged:
        log.warning("integrity check of %s not possible now: %s", path, result.message)
        return FileCheck(path, False, result.message, busy=True)
    log.error("integrity check of %s failed: %s", path, result.message)
    return FileCheck(path, False, result.message,
                     newest_good_backup(backup_folder(path), path.stem))


def trail_behind_backup(path: Path) -> str:
    """"" when the file's audit trail extends the head of its newest backup that records one;
    otherwise what is wrong, in words (the start-up check flags it)."""
    for backup in list_backups(backup_folder(path), path.stem):
        head = recorded_head(backup)
        if head is None:
            continue  # a damaged backup: the next one says what the file must hold
        rows, digest = head
        holds = file_holds(path, rows, digest)
        if holds is None or holds:
            return ""
        problem = (f"The audit trail of {path.name} does not extend that of its newest backup "
                   f"{backup.name}, which holds audit head {rows}:{digest[:16]}. The file may "
                   "be an older copy put in its place, or its audit trail was cut or rewritten "
                   "outside the application.")
        log.error("%s", problem)
        return problem
    return ""


def restore_newest_good_backup(check: FileCheck, when: datetime) -> Restored:
    """Put the newest good backup in place of the damaged file, which is kept aside."""
    if check.newest_good_backup is None:
        raise OSError(f"there is no good backup of {check.path.name}")
    kept = restore_backup(check.newest_good_backup, check.path, when)
    log.warning("restored %s from %s; the damaged file is kept as %s", check.path,
                check.newest_good_backup, kept)
    return Restored(check.newest_good_backup, kept, check.problem)


@saving("record a restore")
def record_restore(ctx: ServiceContext, restored: Restored) -> None:
    """One audit row saying the study file was put back from a backup, and why."""
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        audit.add("restore_backup", "database", "study file", "restored_from", None,
                  restored.backup.name,
                  reason=f"integrity check failed ({restored.problem[:200]}); the damaged "
                         f"file is kept as {restored.damaged_kept_as.name}")
        uow.commit()


@dataclass(frozen=True)
class BackupPlan:
    """How often to back up and how many to keep (administrator settings)."""

    interval_hours: int
    keep: int


def backup_plan(db: Database) -> BackupPlan:
    values = load_settings(db)
    return BackupPlan(values["backup_interval_hours"], values["backups_kept"])


def automatic_backup(db: Database, reason: str, clock: Callable[[], datetime],
                     keep: int) -> Path | None:
    """An online copy of a SQLite study into its backup folder, rotated to ``keep``.

    None for a database server (its own backups cover it).
    """
    path = db.path
    if path is None:
        return None
    made = make_backup(path, backup_folder(path), clock(), reason, keep)
    record_head(made)  # the head it holds, for the next start-up check
    return made


def backups_of(path: Path) -> list[Path]:
    """The automatic backups of a study file, newest first."""
    return list_backups(backup_folder(path), path.stem)
