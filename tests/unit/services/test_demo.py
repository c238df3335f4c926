"""The demo study: deterministic for a given date, and rich enough to show every feature."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from taper_app.services.audit import verify_chain
from taper_app.services.demo import create_demo
from taper_app.services.figures import summary
from taper_app.services.study import load_study
from taper_app.storage.uow import UnitOfWork
from tests.conftest import fixed_clock

DEMO_TODAY = date(2026, 7, 2)
CLINICAL_TABLES = ("site", "patient", "schedule_step", "amendment", "dose_record")


def _make(path: Path) -> tuple[str, bool]:
    db = create_demo(path, DEMO_TODAY, clock=fixed_clock)
    try:
        rows = summary(db, load_study(db), DEMO_TODAY)
        with UnitOfWork(db, write=False) as uow:
            chain_ok = verify_chain(uow.session).ok
    finally:
        db.dispose()
    return json.dumps(rows, indent=1), chain_ok


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str, bool]:
    folder = tmp_path_factory.mktemp("demo")
    first, second = folder / "first.sqlite", folder / "second.sqlite"
    summary_1, chain_1 = _make(first)
    summary_2, chain_2 = _make(second)
    return first, second, summary_1, summary_2, chain_1 and chain_2


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_two_demos_made_on_the_same_day_give_the_same_figures(demo) -> None:  # type: ignore[no-untyped-def]
    first, second, summary_1, summary_2, _ = demo
    assert summary_1 == summary_2
    for table in CLINICAL_TABLES:
        sql = f"SELECT * FROM {table} ORDER BY 1"
        assert _query(first, sql) == _query(second, sql), table


def test_the_demo_has_three_sites_and_about_40_patients(demo) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(demo[2])
    assert {r["site"] for r in rows} == {"101", "102", "103"}
    assert 35 <= len(rows) <= 45
    assert [r["subject_id"] for r in rows] == sorted(r["subject_id"] for r in rows)


def test_the_demo_shows_a_flare_a_pulse_and_missing_days(demo) -> None:  # type: ignore[no-untyped-def]
    first, _, summary_1, _, chain_ok = demo
    reasons = [r[0] for r in _query(first, "SELECT reason FROM amendment")]
    assert any("flare" in reason.lower() for reason in reasons)
    pulses = _query(first, "SELECT dose_ug FROM dose_record WHERE drug = 'methylprednisolone' "
                           "AND route = 'IV' AND frequency = 'ONCE' AND voided = 0")
    assert pulses
    assert sum(r["missing_days"] for r in json.loads(summary_1)) > 0
    assert chain_ok


def test_no_demo_record_is_dated_after_today(demo) -> None:  # type: ignore[no-untyped-def]
    first = demo[0]
    (latest,) = _query(first, "SELECT max(max(start_date, coalesce(end_date, start_date))) "
                              "FROM dose_record")[0]
    assert date.fromisoformat(str(latest)) <= DEMO_TODAY
    (latest_day1,) = _query(first, "SELECT max(day1_date) FROM patient")[0]
    assert date.fromisoformat(str(latest_day1)) <= DEMO_TODAY
