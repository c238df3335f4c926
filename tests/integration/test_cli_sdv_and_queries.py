"""``sdv`` and ``query open|answer|close|list`` through the command line (in-process), on
SQLite, on a real PostgreSQL server and through a real application server (the
``location`` fixture of tests/integration/conftest.py), exactly as interfaces.md words
them."""

from __future__ import annotations

import json

import pytest

from taper_app.services.patients import enroll_patient, record_dose
from taper_app.storage.engine import Database
from tests.cli_door import ok, taper
from tests.conftest import context

pytestmark = pytest.mark.through_server


@pytest.fixture
def cli_study_data(db: Database, study) -> None:  # type: ignore[no-untyped-def]
    nurse = context(db, "nurse")
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-01-05", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    for start, end in (("2026-01-05", "2026-01-31"), ("2026-02-01", "")):
        record_dose(nurse, study, "101-001", {"drug": "prednisone", "dose_mg": "20",
                                              "frequency": "QD", "route": "PO",
                                              "start_date": start, "end_date": end})


def test_sdv_through_a_date(location: str) -> None:
    out = ok(taper("sdv", "--subject", "101-001", "--through", "2026-01-31", "--db", location,
                   "--user", "monitor"))
    assert "1 dose record(s) marked source-verified (through 2026-01-31)" in out
    status, _, err = taper("sdv", "--subject", "101-001", "--through", "2026-01-31",
                           "--db", location, "--user", "nurse")
    assert status == 1 and "may not verify source" in err


def test_a_query_from_open_to_closed(location: str) -> None:
    qid = int(ok(taper("query", "open", "--subject", "101-001", "--text", "Source for Day 1?",
                       "--db", location, "--user", "monitor")).strip())
    listed = json.loads(ok(taper("query", "list", "--state", "open", "--json",
                                 "--db", location, "--user", "monitor")))
    assert [q["id"] for q in listed] == [qid]
    assert list(listed[0]) == ["id", "subject_id", "record_id", "state", "opened_by",
                               "opened_at", "text", "answers"]
    assert (listed[0]["record_id"], listed[0]["answers"]) == (None, [])
    status, _, err = taper("query", "close", str(qid), "--db", location, "--user", "nurse")
    assert status == 1 and "may not raise query" in err
    ok(taper("query", "answer", str(qid), "--text", "Clinic note, visit 1",
             "--db", location, "--user", "nurse"))
    ok(taper("query", "close", str(qid), "--db", location, "--user", "monitor"))
    [q] = json.loads(ok(taper("query", "list", "--subject", "101-001", "--json",
                              "--db", location, "--user", "investigator")))
    assert q["state"] == "closed"
    assert [(a["by"], a["text"]) for a in q["answers"]] == [("nurse", "Clinic note, visit 1")]
    status, _, err = taper("query", "answer", str(qid), "--text", "x", "--db", location,
                           "--user", "nurse")
    assert status == 1 and "is closed" in err
