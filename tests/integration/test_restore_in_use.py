"""A restore refuses while any other program has the study file open, and says which.

The other program is a real second process: an idle window (tests/integration/
file_holder.py, which holds no SQLite lock at all between transactions), or one saving
doses in a loop (dose_writer.py). Old code took a short BEGIN EXCLUSIVE, which found the
idle one not there and slipped between the saving one's transactions."""

from __future__ import annotations

import getpass
import hashlib
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from taper_app.services.patients import enroll_patient
from taper_app.storage.engine import copy_sqlite_file, open_database
from taper_app.storage.errors import DatabaseBusy
from taper_app.storage.file_lock import ConnectionLock, StudyFileInUse, lock_folder, sole_use
from taper_app.storage.models import DoseRecordRow
from taper_app.storage.sqlite_copies import restore_backup
from taper_app.storage.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
WHEN = datetime(2026, 7, 2, 11, 0, tzinfo=UTC)
pytestmark = pytest.mark.sqlite_only  # about a SQLite file and the programs that open it


def _child(module: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", f"tests.integration.{module}", *args], cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(proc.stderr.read())
    return line.strip()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dose_ids(path: Path) -> set[int]:
    db = open_database(path)
    try:
        with UnitOfWork(db, write=False) as uow:
            return set(uow.session.scalars(select(DoseRecordRow.id)))
    finally:
        db.dispose()


@pytest.fixture
def study_file(db, nurse, study, db_path: Path) -> tuple[Path, Path]:
    """The study file with one patient, a good backup of it, and nothing of ours open."""
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2020-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    db.dispose()
    backup = db_path.with_name("good-backup.sqlite")
    copy_sqlite_file(db_path, backup)
    return db_path, backup


def test_a_restore_is_refused_while_an_idle_window_has_the_file_open(study_file) -> None:
    path, backup = study_file
    holder = _child("file_holder", str(path))
    try:
        assert _first_line(holder) == "open"
        before = _digest(path)
        with pytest.raises(StudyFileInUse) as refused:
            restore_backup(backup, path, WHEN)
        message = str(refused.value)
        assert f"process {holder.pid}" in message and "file_holder" in message
        assert f"user {getpass.getuser()}" in message
        assert "Close it there first" in message and "Nothing was changed" in message
        [named] = refused.value.holders
        assert named.pid == holder.pid
        assert _digest(path) == before, "the study file was not touched"
        assert list(path.parent.glob("*.replaced-*")) == []
    finally:
        out, err = holder.communicate(input="", timeout=60)  # the window closes
    assert holder.returncode == 0 and out.strip() == "closed", err
    kept = restore_backup(backup, path, WHEN)  # nobody has it open now
    assert kept.exists() and _digest(path) == _digest(backup)


def test_a_restore_is_refused_while_another_program_saves_and_no_save_is_lost(
        study_file) -> None:
    """The writer's saves go on into the study file itself, not into a file moved aside."""
    path, backup = study_file
    writer = _child("dose_writer", str(path), "101-001", "0", "100000")
    try:
        assert _first_line(writer).startswith("saved ")
        for _attempt in range(20):  # between its transactions, too
            with pytest.raises(StudyFileInUse, match=f"process {writer.pid}"):
                restore_backup(backup, path, WHEN)
        assert list(path.parent.glob("*.replaced-*")) == []
    finally:
        writer.send_signal(signal.SIGTERM)
        out, _err = writer.communicate(timeout=60)
    saved = {int(line.split()[1]) for line in out.splitlines() if line.startswith("saved ")}
    assert saved and _dose_ids(path) >= saved, "every save it reported is in the study file"
    restore_backup(backup, path, WHEN)
    assert _dose_ids(path) == set()


def test_a_program_that_crashed_is_not_in_the_way(study_file) -> None:
    """A killed program's OS lock goes with its process; the note it left is cleared."""
    path, backup = study_file
    holder = _child("file_holder", str(path))
    assert _first_line(holder) == "open"
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=60)
    assert list(lock_folder(path).glob("*.json")), "the crashed program's note was left"
    restore_backup(backup, path, WHEN)
    assert list(lock_folder(path).glob("*.json")) == []


def test_a_database_open_in_this_process_is_in_the_way_too(study_file) -> None:
    path, backup = study_file
    db = open_database(path)
    try:
        with pytest.raises(StudyFileInUse, match=f"process {os.getpid()}"):
            restore_backup(backup, path, WHEN)
    finally:
        db.dispose()
    restore_backup(backup, path, WHEN)


def test_a_program_opening_the_file_during_a_restore_waits_then_says_busy(study_file) -> None:
    path, _backup = study_file
    with sole_use(path), pytest.raises(DatabaseBusy, match="being replaced by a backup"):
        ConnectionLock.take(path, wait_s=0.1)
    held = ConnectionLock.take(path, wait_s=0.1)
    assert held is not None
    held.release()


def test_a_command_that_never_closes_its_database_leaves_no_note_behind(study_file) -> None:
    """A command never closes its database (the process ends): its note goes at exit."""
    path, _backup = study_file
    done = subprocess.run([sys.executable, "-m", "taper_app", "summary", "--db", str(path),
                           "--as-of", "2026-07-02", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert list(lock_folder(path).glob("*.json")) == []


def test_a_holder_whose_note_is_empty_is_still_in_the_way(study_file) -> None:
    """Its note not written yet (or a full disk): refused all the same, said plainly."""
    path, backup = study_file
    held = ConnectionLock.take(path, wait_s=0.1)
    assert held is not None
    try:
        [note] = lock_folder(path).glob("*.json")
        note.write_bytes(b"")
        with pytest.raises(StudyFileInUse, match="its note is not written yet"):
            restore_backup(backup, path, WHEN)
    finally:
        held.release()
