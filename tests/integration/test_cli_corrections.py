"""``patient correct`` and ``patient withdraw-amendment`` through the command line
in-process, on SQLite, on a real PostgreSQL server and through a real application server
(the ``location`` fixture of tests/integration/conftest.py): the figures of ``summary
--json`` follow, ``audit verify`` still agrees, refusals exit 1 with the message."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from taper_app.domain.schedule import generate_schedule, scheduled_doses
from taper_app.services.patients import amend_patient_schedule, enroll_patient
from taper_app.services.study import StudyInfo
from taper_app.storage.engine import Database
from tests.cli_door import taper
from tests.conftest import context

pytestmark = pytest.mark.through_server

AS_OF = "2026-06-01"


@pytest.fixture
def cli_study_data(db: Database, study: StudyInfo) -> None:
    enroll_patient(context(db, "nurse"), study, {
        "subject_id": "101-001", "site": "101", "day1_date": "2026-01-05",
        "baseline_mg": "20", "template_id": "stepdown-a"})
    amend_patient_schedule(context(db, "investigator"), study, "101-001",
                           {"day": "40", "dose_mg": "25", "reason": "flare"})


def _summary(location: str) -> dict[str, object]:
    status, out, err = taper("summary", "--json", "--subject", "101-001", "--as-of", AS_OF,
                             "--db", location, "--user", "monitor")
    assert status == 0, err
    return json.loads(out)[0]  # type: ignore[no-any-return]


def _verified(location: str) -> None:
    status, out, err = taper("audit", "verify", "--db", location, "--user", "monitor")
    assert status == 0, out + err
    assert "data agree with it" in out


def test_withdraw_then_correct(location: str, study: StudyInfo) -> None:
    as_enrolled = generate_schedule(study.templates["stepdown-a"], Decimal(20))
    day = 148  # 2026-06-01 from Day 1 2026-01-05
    unamended = float(scheduled_doses(as_enrolled, 20.0, np.array([day]))[0])
    assert _summary(location)["scheduled_mg"] != unamended  # the amendment is in force
    status, out, err = taper("patient", "correct", "--subject", "101-001", "--baseline", "30",
                             "--reason", "misread", "--db", location, "--user", "investigator")
    assert status == 1
    assert "amendment 1 in force" in err and "Withdraw the amendment(s) first" in err
    assert _summary(location)["baseline_mg"] == 20.0

    status, out, err = taper("patient", "withdraw-amendment", "--subject", "101-001",
                             "--amendment", "1", "--reason", "not a flare", "--db", location,
                             "--user", "investigator")
    assert (status, err) == (0, "")
    assert out.startswith("withdrew amendment 1 of 101-001; schedule now: day 29: 16 mg")
    assert _summary(location)["scheduled_mg"] == unamended
    _verified(location)

    status, out, err = taper("patient", "correct", "--subject", "101-001", "--baseline", "30",
                             "--day1", "2026-01-06", "--reason", "misread", "--db", location,
                             "--user", "investigator")
    assert (status, err) == (0, "")
    assert out.strip() == "corrected 101-001: baseline_mg, day1_date"
    row = _summary(location)
    assert row["baseline_mg"] == 30.0
    assert row["as_of_day"] == 147  # 2026-06-01 from Day 1 2026-01-06
    _verified(location)


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["correct", "--baseline", "30", "--user", "nurse"], 1, "may not correct enrollment"),
    (["correct", "--baseline", "x", "--user", "investigator"], 1, "baseline_mg"),
    (["correct", "--user", "investigator"], 1, "give at least one"),
    (["withdraw-amendment", "--amendment", "2", "--user", "investigator"], 1, "no amendment 2"),
    (["withdraw-amendment", "--amendment", "one", "--user", "investigator"], 2, "invalid int"),
    (["withdraw-amendment", "--amendment", "1"], 2, "give --user"),
])
def test_refusals(location: str, argv: list[str], code: int, words: str,
                  capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = taper("patient", argv[0], "--subject", "101-001", "--reason", "r",
                           "--db", location, *argv[1:])
    err += capsys.readouterr().err  # argparse writes usage errors to sys.stderr
    assert status == code and words in err, err
    assert _summary(location)["baseline_mg"] == 20.0


def test_a_wrong_password_saves_nothing(location: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAPER_PASSWORD", "not the password")
    status, _, err = taper("patient", "withdraw-amendment", "--subject", "101-001",
                           "--amendment", "1", "--reason", "r", "--db", location,
                           "--user", "investigator")
    assert status == 1 and "wrong password" in err
