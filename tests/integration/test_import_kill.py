"""An import killed while it writes leaves nothing of itself and breaks nothing.

The doses go in batch after batch inside one transaction; a ``kill -9`` in the middle of
the batches must leave the file as it was: no dose row, no audit row, the chain whole.
The real command line in a subprocess, killed once its writing has begun (its SQLite
write-ahead log is growing).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from taper_app.services.audit import verify_chain
from taper_app.services.patients import enroll_patient
from taper_app.storage.engine import open_database
from taper_app.storage.models import AuditEntry, DoseRecordRow, User
from taper_app.storage.sqlite_copies import integrity_check
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000
pytestmark = pytest.mark.sqlite_only  # about the SQLite file: WAL, a killed writer


@pytest.fixture
def enrolled(db, nurse, study, db_path: Path) -> Path:
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2020-01-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    with UnitOfWork(db) as uow:  # the nurse has chosen her own password already
        uow.session.execute(update(User).values(must_change_password=False))
        uow.commit()
    db.dispose()
    return db_path


def doses_file(path: Path) -> Path:
    """``ROWS`` diary rows: twenty 1 mg records on each of a thousand days."""
    lines = ["subject_id,drug,dose_mg,frequency,route,start_date,end_date,source"]
    for k in range(ROWS):
        when = (date(2020, 1, 1) + timedelta(days=k // 20)).isoformat()
        lines.append(f"101-001,prednisone,1,QD,PO,{when},{when},diary")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_import(db_path: Path, doses: Path, home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAPER_PASSWORD": PASSWORD,
           "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
           "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache")}
    env.pop("TAPER_DB", None)
    return subprocess.Popen([sys.executable, "-m", "taper_app", "import", "--db", str(db_path),
                             "--user", "nurse", "--doses", str(doses)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def state(db_path: Path) -> tuple[int, int]:
    """Dose rows and their audit rows, once the file is checked sound and its chain whole."""
    assert integrity_check(db_path).ok
    db = open_database(db_path)
    try:
        with UnitOfWork(db, write=False) as uow:
            check = verify_chain(uow.session)
            assert check.ok, check.problem
            doses = uow.session.scalar(select(func.count()).select_from(DoseRecordRow))
            audited = uow.session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "record_dose"))  # (each sign-in is audited too)
    finally:
        db.dispose()
    return int(doses or 0), int(audited or 0)


@pytest.mark.slow
def test_an_import_killed_while_it_writes_leaves_nothing_and_breaks_nothing(
        enrolled: Path, tmp_path: Path) -> None:
    doses = doses_file(tmp_path / "doses.csv")
    wal = Path(str(enrolled) + "-wal")
    rng = random.Random(17)
    before = state(enrolled)
    assert before == (0, 0)
    kills = 0
    for _ in range(3):
        start_size = wal.stat().st_size if wal.exists() else 0
        proc = start_import(enrolled, doses, tmp_path / "home")
        deadline = time.monotonic() + 120
        # The checks come first and write nothing; the batches grow the write-ahead log.
        while proc.poll() is None and time.monotonic() < deadline:
            if wal.exists() and wal.stat().st_size > start_size + 1_000_000:
                break
            time.sleep(0.02)
        if proc.poll() is not None:  # finished before it could be killed: no kill to test
            pytest.fail(f"the import ended before it was killed: {proc.communicate()}")
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        kills += proc.returncode == -signal.SIGKILL
        assert state(enrolled) == before, "a killed import left rows behind"
    assert kills >= 1
    # The same file, not killed, goes in whole: one dose row per line, each audited.
    proc = start_import(enrolled, doses, tmp_path / "home")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"{ROWS} dose records" in out
    stored, audited = state(enrolled)
    assert stored == ROWS and audited == ROWS * 7
