"""Nothing lost: killed writers, two writers at once, backup and restore."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from taper_app.services.audit import verify_chain
from taper_app.services.patients import enroll_patient
from taper_app.storage.engine import open_database
from taper_app.storage.models import AuditEntry, DoseRecordRow
from taper_app.storage.sqlite_copies import (
    integrity_check,
    list_backups,
    make_backup,
    newest_good_backup,
    restore_backup,
)
from taper_app.storage.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.sqlite_only  # about the SQLite file: WAL, kills, file copies


def _writer(db_path: Path, subject: str, first: int, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.dose_writer", str(db_path), subject,
         str(first), str(count)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def _saved_ids(output: str) -> set[int]:
    return {int(line.split()[1]) for line in output.splitlines() if line.startswith("saved ")}


@pytest.fixture
def enrolled(db, nurse, study, db_path):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2020-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    db.dispose()
    return db_path


def _check_database(db_path: Path, reported: set[int]) -> None:
    assert integrity_check(db_path).ok
    db = open_database(db_path)
    try:
        with UnitOfWork(db, write=False) as uow:
            ids = set(uow.session.scalars(select(DoseRecordRow.id)))
            missing = reported - ids
            assert not missing, f"saves reported as done are missing: {sorted(missing)[:10]}"
            # every stored dose has its audit rows: data and audit were one transaction
            audited = set(uow.session.scalars(select(AuditEntry.entity_id).where(
                AuditEntry.entity == "dose_record", AuditEntry.field == "dose_mg")))
            assert {str(i) for i in ids} == audited
            check = verify_chain(uow.session)
            assert check.ok, check.problem
    finally:
        db.dispose()


@pytest.mark.slow
def test_killing_a_writer_fifty_times_loses_nothing_reported_and_breaks_nothing(enrolled):
    rng = random.Random(11)
    reported: set[int] = set()
    for round_no in range(50):
        proc = _writer(enrolled, "101-001", round_no * 1000, 1000)
        # Wait until it has saved at least one dose, then kill it at a random moment.
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("saved "), proc.stderr.read() if proc.stderr else first
        reported |= _saved_ids(first)
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        reported |= _saved_ids(out)
    assert len(reported) >= 50
    _check_database(enrolled, reported)


def test_two_processes_writing_the_same_file_lose_no_update(enrolled):
    a = _writer(enrolled, "101-001", 0, 25)
    b = _writer(enrolled, "101-001", 5000, 25)
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    reported = _saved_ids(out_a) | _saved_ids(out_b)
    assert len(reported) == 50
    _check_database(enrolled, reported)
    db = open_database(enrolled)
    with UnitOfWork(db, write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(DoseRecordRow)) == 50
    db.dispose()


def test_backup_rotation_and_restore_round_trip(enrolled, tmp_path):
    folder = tmp_path / "backups"
    times = [datetime(2026, 7, 2, 10, m, tzinfo=UTC) for m in range(5)]
    for t in times:
        make_backup(enrolled, folder, t, "auto", keep=3)
    kept = list_backups(folder, enrolled.stem)
    assert len(kept) == 3 and "20260702T1004" in kept[0].name
    # damage the study file; the newest good backup restores it and the app opens it
    with enrolled.open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\xff" * 8192)
    for side in ("-wal", "-shm"):
        Path(str(enrolled) + side).unlink(missing_ok=True)
    assert not integrity_check(enrolled).ok
    backup = newest_good_backup(folder, enrolled.stem)
    assert backup is not None
    replaced = restore_backup(backup, enrolled, datetime(2026, 7, 2, 11, 0, tzinfo=UTC))
    assert replaced.exists(), "the damaged file is kept aside, never deleted"
    assert integrity_check(enrolled).ok
    db = open_database(enrolled)
    with UnitOfWork(db, write=False) as uow:
        assert verify_chain(uow.session).ok
    db.dispose()
