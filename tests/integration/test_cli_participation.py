"""``patient end`` / ``patient reopen`` and ``summary --json``'s ``participation``, through
the command line in-process, on SQLite, on a real PostgreSQL server and through a real
application server (the ``location`` fixture of tests/integration/conftest.py)."""

from __future__ import annotations

import json

import pytest

from taper_app.services.patients import enroll_patient
from taper_app.storage.engine import Database
from tests.cli_door import taper
from tests.conftest import context

pytestmark = pytest.mark.through_server

AS_OF = "2026-06-01"


@pytest.fixture
def cli_study_data(db: Database, study) -> None:  # type: ignore[no-untyped-def]
    enroll_patient(context(db, "nurse"), study, {
        "subject_id": "101-001", "site": "101", "day1_date": "2026-01-05",
        "baseline_mg": "20", "template_id": "stepdown-a"})


def _summary(location: str) -> dict[str, object]:
    status, out, err = taper("summary", "--json", "--subject", "101-001", "--as-of", AS_OF,
                             "--db", location, "--user", "monitor")
    assert status == 0, err
    return json.loads(out)[0]  # type: ignore[no-any-return]


def test_end_then_reopen(location: str) -> None:
    assert _summary(location)["participation"] == {"status": "active", "end_date": None}
    status, out, err = taper("patient", "end", "--subject", "101-001", "--date", "2026-03-01",
                             "--disposition", "withdrawal_by_subject", "--reason", "moved",
                             "--db", location, "--user", "investigator")
    assert (status, err) == (0, "")
    assert "ended 101-001's participation on 2026-03-01" in out
    row = _summary(location)
    assert row["participation"] == {"status": "withdrawal_by_subject",
                                    "end_date": "2026-03-01"}
    assert row["as_of"] == "2026-03-01"
    assert row["target"]["status"] == "discontinued"  # type: ignore[index]

    status, out, err = taper("patient", "reopen", "--subject", "101-001", "--reason", "back",
                             "--db", location, "--user", "investigator")
    assert status == 0, err
    row = _summary(location)
    assert row["participation"] == {"status": "active", "end_date": None}
    assert row["as_of"] == AS_OF


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["--disposition", "completed", "--date", "2026-03-01", "--user", "nurse"], 1,
     "may not end participation"),
    (["--disposition", "completed", "--date", "2026-13-01", "--user", "investigator"], 1,
     "is not a date"),
    (["--disposition", "bored", "--date", "2026-03-01", "--user", "investigator"], 2,
     "invalid choice"),
    (["--disposition", "completed", "--date", "2026-03-01"], 2, "give --user"),
])
def test_refusals(location: str, argv: list[str], code: int, words: str,
                  capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = taper("patient", "end", "--subject", "101-001", "--reason", "r",
                           "--db", location, *argv)
    err += capsys.readouterr().err  # argparse writes usage errors to sys.stderr
    assert status == code and words in err
    assert _summary(location)["participation"] == {"status": "active", "end_date": None}
