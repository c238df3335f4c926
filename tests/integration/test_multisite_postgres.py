"""The central server: two clients at once, and moving a site's file to the server and back."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from taper_app.services.audit import verify_chain
from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.errors import StaleData
from taper_app.services.figures import summary
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.records import load_patient
from taper_app.services.signatures import sign_record, signatures_for
from taper_app.services.study import load_study
from taper_app.storage.engine import open_database
from taper_app.storage.models import DoseRecordRow, User
from taper_app.storage.study_transfer import copy_database
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, TODAY, _pg_exec, fixed_clock

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO"}


def _enroll(ctx, study, subject="101-001"):
    enroll_patient(ctx, study, {"subject_id": subject, "site": subject[:3],
                                "day1_date": "2026-01-01", "baseline_mg": "20",
                                "template_id": "stepdown-a"})


def _nurse_on_own_connection(url: str) -> ServiceContext:
    """A second client: its own engine and connections, as another laptop would have."""
    return ServiceContext(open_database(url), Actor("nurse", "Nurse Example", "nurse"),
                          fixed_clock, lambda: TODAY)


@pytest.mark.postgres_only
def test_two_clients_writing_at_once_lose_nothing_and_keep_one_chain(db, db_url, study, nurse):
    _enroll(nurse, study)
    clients = [_nurse_on_own_connection(db_url) for _ in range(2)]
    errors: list[BaseException] = []

    def write(ctx: ServiceContext, first_day: int) -> None:
        try:
            for i in range(15):
                day = date(2026, 1, 1).toordinal() + first_day + i
                d = date.fromordinal(day).isoformat()
                record_dose(ctx, study, "101-001", {**DOSE, "dose_mg": "20", "start_date": d,
                                                    "end_date": d})
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(c, 40 * n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.db.dispose()
    assert not errors, errors
    with UnitOfWork(db, write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(DoseRecordRow)) == 30
        check = verify_chain(uow.session)
        assert check.ok, check.problem


@pytest.mark.postgres_only
def test_the_second_of_two_clients_editing_one_patient_is_refused_not_lost(db, db_url, study,
                                                                          nurse):
    _enroll(nurse, study)
    first, second = _nurse_on_own_connection(db_url), _nurse_on_own_connection(db_url)
    try:
        with UnitOfWork(first.db, write=False) as uow:
            seen_by_both = load_patient(uow.session, "101-001").version
        record_dose(first, study, "101-001", {**DOSE, "dose_mg": "20",
                                              "start_date": "2026-01-01"},
                    patient_version=seen_by_both)
        with pytest.raises(StaleData, match="changed by someone else"):
            record_dose(second, study, "101-001", {**DOSE, "dose_mg": "18",
                                                   "start_date": "2026-01-01"},
                        patient_version=seen_by_both)
    finally:
        first.db.dispose()
        second.db.dispose()
    with UnitOfWork(db, write=False) as uow:
        doses = load_patient(uow.session, "101-001").doses
    assert [d.dose_mg for d in doses] == [20]


@pytest.mark.postgres
@pytest.mark.sqlite_only  # the source is a SQLite file; the server is requested explicitly
def test_db_copy_sqlite_to_postgres_and_back_keeps_figures_chain_and_signatures(
        db, nurse, investigator, study, postgres, tmp_path):
    _enroll(nurse, study)
    _enroll(nurse, study, "102-001")
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "20", "start_date": "2026-01-01",
                                          "end_date": "2026-01-28"})
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "16", "start_date": "2026-01-29"})
    record_dose(nurse, study, "102-001", {"drug": "methylprednisolone", "dose_mg": "500",
                                          "frequency": "ONCE", "route": "IV",
                                          "start_date": "2026-02-03"})
    sign_record(investigator, "101-001", date(2026, 6, 30), "approved", PASSWORD)
    expected = summary(db, study, TODAY)
    _pg_exec(postgres, "CREATE DATABASE copy_target")
    server = postgres.url("copy_target")
    copy_database(db.url, server)
    back = tmp_path / "back.sqlite"
    copy_database(server, str(back))
    for url in (server, str(back)):
        copied = open_database(url)
        try:
            assert summary(copied, load_study(copied), TODAY) == expected
            with UnitOfWork(copied, write=False) as uow:
                check = verify_chain(uow.session)
            assert check.ok, check.problem
            [sig] = signatures_for(copied, "101-001")
            assert sig.valid and sig.printed_name == "Investigator Example"
        finally:
            copied.dispose()
    # the server copy takes new work, and its chain goes on from the copied head
    moved = open_database(server)
    try:
        ctx = ServiceContext(moved, Actor("nurse", "Nurse Example", "nurse"), fixed_clock,
                             lambda: TODAY)
        record_dose(ctx, load_study(moved), "102-001", {**DOSE, "dose_mg": "10",
                                                        "start_date": "2026-02-04"})
        with UnitOfWork(moved, write=False) as uow:
            assert verify_chain(uow.session).ok
    finally:
        moved.dispose()


def test_copy_refuses_a_target_that_already_holds_a_study(db, tmp_path):
    from taper_app.storage.study_transfer import CopyError

    other = tmp_path / "other.sqlite"
    copy_database(db.url, str(other))
    with pytest.raises(CopyError, match="already exists"):
        copy_database(db.url, str(other))


@pytest.mark.postgres_only
def test_on_the_server_reading_commands_need_a_user_and_show_only_their_sites(
        db, db_url, study, nurse, monkeypatch):
    import io
    import json

    from taper_app.cli import run
    from taper_app.services.study import add_user

    _enroll(nurse, study, "101-001")
    _enroll(nurse, study, "102-001")
    admin = ServiceContext(db, Actor("admin", "Ada Admin", "admin"), fixed_clock, lambda: TODAY)
    add_user(admin, "nora", "nurse", "Nora N", PASSWORD, sites=["101"])
    with UnitOfWork(db) as uow:  # they have chosen their own passwords already
        for user in uow.session.scalars(select(User).where(User.username.in_(
                ("nora", "monitor")))):
            user.must_change_password = False
        uow.commit()
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)

    def taper(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        return run([*argv, "--db", db_url], out, err, io.StringIO()), out.getvalue(), \
            err.getvalue()

    status, _, err = taper("summary", "--json", "--as-of", "2026-02-01")
    assert status == 2 and "--user" in err
    status, out, _ = taper("summary", "--json", "--as-of", "2026-02-01", "--user", "nora")
    assert status == 0
    assert [r["subject_id"] for r in json.loads(out)] == ["101-001"]
    status, out, _ = taper("summary", "--json", "--as-of", "2026-02-01", "--user", "monitor")
    assert [r["subject_id"] for r in json.loads(out)] == ["101-001", "102-001"]
