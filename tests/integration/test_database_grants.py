"""Defence in depth on the central PostgreSQL: the application server's own role cannot
change the audit trail, its head or the signatures, by its grants and by the triggers.

Everything runs on the real PostgreSQL server the tests start, with a real login role
made for each test and given its privileges by ``taper-app db grant`` (what IT runs).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from taper_app.services.audit import verify_chain
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.signatures import sign_record
from taper_app.services.study import load_study
from taper_app.storage.engine import open_database
from taper_app.storage.grants import grant_application_role
from taper_app.storage.uow import UnitOfWork
from tests.cli_door import taper as _run
from tests.conftest import PASSWORD, context
from tests.unit.services.test_patients import dump

pytestmark = pytest.mark.postgres_only

DOSE = {"drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-05", "end_date": "2026-01-10", "source": "clinic"}


def _admin_sql(db_url: str, sql: str) -> None:
    engine = create_engine(db_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.fixture
def signed(db):
    """A patient with a dose and an investigator's signature: rows in every guarded table."""
    study = load_study(db)
    enroll_patient(context(db, "nurse"), study, {
        "subject_id": "101-001", "site": "101", "day1_date": "2026-01-05",
        "baseline_mg": "20", "template_id": "stepdown-a"})
    record_dose(context(db, "nurse"), study, "101-001", DOSE)
    sign_record(context(db, "investigator"), "101-001", date(2026, 1, 10), "reviewed",
                PASSWORD)
    return db


@pytest.fixture
def app_url(signed, app_role_url: str) -> str:
    """The URL of a fresh login role given the application's privileges by ``db grant``
    (tests/integration/conftest.py), once the guarded tables hold rows."""
    return app_role_url


def _refused(url: str, sql: str) -> str:
    """Run ``sql`` in one transaction on ``url``; the SQLSTATE it was refused with."""
    engine = create_engine(url)
    try:
        with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()
    return str(getattr(caught.value.orig, "sqlstate", ""))


GUARDED = [
    "UPDATE audit_log SET reason = 'rewritten' WHERE id = 2",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "TRUNCATE audit_log",
    "UPDATE signature SET username = 'someone-else'",
    "DELETE FROM signature",
    "TRUNCATE signature",
    "DELETE FROM audit_head",
    "TRUNCATE audit_head",
    "INSERT INTO audit_head (id, last_id, last_hash) VALUES (2, 0, 'x')",
    "DELETE FROM dose_record",
    "TRUNCATE patient CASCADE",
]


@pytest.mark.parametrize("sql", GUARDED)
def test_the_application_role_has_no_grant_to_change_the_trail_or_signatures(
        signed, app_url, sql):
    before = dump(signed)
    assert _refused(app_url, sql) == "42501"  # insufficient_privilege: the grant says no
    assert dump(signed) == before


@pytest.mark.parametrize("sql", GUARDED)
def test_the_triggers_refuse_the_same_even_to_the_tables_owner(signed, db_url, sql):
    before = dump(signed)
    assert _refused(db_url, sql) == "P0001"  # raise_exception: the trigger says no
    assert dump(signed) == before


@pytest.mark.parametrize("url_of", ["owner", "application"])
def test_the_head_moves_only_with_the_trail_for_any_role(signed, db_url, app_url, url_of):
    url = db_url if url_of == "owner" else app_url
    before = dump(signed)
    for sql in ("UPDATE audit_head SET last_id = last_id - 1",
                "UPDATE audit_head SET last_hash = repeat('0', 64)",
                "UPDATE audit_head SET last_id = last_id + 5"):
        assert _refused(url, sql) == "P0001"  # checked at commit by the deferred trigger
    assert dump(signed) == before


def test_the_application_role_may_replace_an_accounts_sites_and_delete_nothing_else(
        signed, app_url):
    """``user sites`` replaces the account's user_site rows (audited by the service); no
    other table, the accounts' own included, grants the application role DELETE."""
    engine = create_engine(app_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM user_site WHERE site_code = 'none'"))
    finally:
        engine.dispose()
    assert _refused(app_url, "DELETE FROM app_user WHERE username = 'nurse'") == "42501"


def test_the_append_path_works_with_the_application_role(signed, app_url):
    db = open_database(app_url)
    try:
        study = load_study(db)
        saved = record_dose(context(db, "nurse"), study, "101-001",
                            {**DOSE, "dose_mg": "15", "start_date": "2026-01-11",
                             "end_date": ""})
        sign_record(context(db, "investigator"), "101-001", date(2026, 1, 12), "approved",
                    PASSWORD)
        with UnitOfWork(db, write=False) as uow:
            check = verify_chain(uow.session)
        assert saved.record_id and check.ok and check.rows > 0
    finally:
        db.dispose()


def test_the_role_may_not_be_the_owner_or_a_superuser(signed, db_url):
    owner = make_url(db_url).username
    code, _, err = _run("db", "grant", "--role", str(owner), "--db", db_url)
    assert code == 1 and "superuser" in err
    code, _, err = _run("db", "grant", "--role", "nobody_here", "--db", db_url)
    assert code == 1 and "there is no database role 'nobody_here'" in err


def _below_the_head_guard() -> str:
    """The revision migration 0010_head follows (re-chained as others are merged)."""
    import re

    from taper_app.storage.engine import MIGRATIONS_DIR

    script = (MIGRATIONS_DIR / "versions" / "0010_audit_head_guard.py").read_text()
    found = re.search(r"^down_revision = '([^']+)'", script, re.MULTILINE)
    assert found is not None
    return found.group(1)


def test_a_set_up_from_the_old_guide_is_brought_down_by_the_next_migration(
        signed, db_url, app_url):
    role = make_url(app_url).username
    _admin_sql(db_url, f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
    from alembic import command

    from taper_app.storage.engine import _alembic_config

    engine = create_engine(db_url)
    try:
        command.downgrade(_alembic_config(engine), _below_the_head_guard())
    finally:
        engine.dispose()
    open_database(db_url).dispose()  # the owner opens it: migrated, grants set again
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            held = {(table, privilege) for table in ("audit_log", "signature", "audit_head",
                                                     "dose_record", "patient")
                    for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
                    if conn.scalar(text("SELECT has_table_privilege(:r, :t, :p)"),
                                   {"r": role, "t": table, "p": privilege})}
    finally:
        engine.dispose()
    assert held == {("audit_log", "SELECT"), ("audit_log", "INSERT"),
                    ("signature", "SELECT"), ("signature", "INSERT"),
                    ("audit_head", "SELECT"), ("audit_head", "UPDATE"),
                    ("dose_record", "SELECT"), ("dose_record", "INSERT"),
                    ("dose_record", "UPDATE"),
                    ("patient", "SELECT"), ("patient", "INSERT"), ("patient", "UPDATE")}
    assert _refused(app_url, "DELETE FROM dose_record") == "42501"


def test_grant_application_role_refuses_a_sqlite_file(tmp_path):
    from taper_app.storage.grants import GrantError

    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with engine.connect() as conn, pytest.raises(GrantError, match="PostgreSQL"):
            grant_application_role(conn, "taper_app")
    finally:
        engine.dispose()


# ------------------------------------------------------------------ no password shown

def _new_database(db_url: str, name: str, password: str) -> str:
    _admin_sql(db_url, f"CREATE DATABASE {name}")
    return make_url(db_url).set(database=name, password=password).render_as_string(
        hide_password=False)


@pytest.mark.parametrize("demo", [False, True], ids=["init", "init --demo"])
def test_init_prints_the_url_with_its_password_masked(db_url, monkeypatch, demo,
                                                      _own_log_folder):
    from tests.conftest import EXAMPLE_PROTOCOL

    name = f"{make_url(db_url).database}_{'demo' if demo else 'init'}"
    url = _new_database(db_url, name, "s3cret-pw")  # trust auth: the password is not asked
    role = f"app_{name}"
    _admin_sql(db_url, f"CREATE ROLE {role} LOGIN")
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    how = (["--demo", "--as-of", "2026-07-02"] if demo
           else ["--protocol", str(EXAMPLE_PROTOCOL), "--admin", "ada"])
    code, out, err = _run("init", "--db", url, *how, "--app-role", role)
    try:
        assert code == 0, err
        assert "s3cret-pw" not in out + err
        masked = make_url(url).render_as_string(hide_password=True)
        assert "***" in masked and masked in out
        assert f"granted {role} the application's privileges" in out
        logged = "".join(p.read_text(errors="replace") for p in _own_log_folder.rglob("*")
                         if p.is_file())
        assert "s3cret-pw" not in logged
    finally:
        _admin_sql(url, f"DROP OWNED BY {role}")
        _admin_sql(db_url, f"DROP ROLE {role}")


def test_an_unreachable_server_url_never_shows_its_password(_own_log_folder):
    url = "postgresql+psycopg://taper:s3cret-pw@127.0.0.1:9/taper_study?connect_timeout=2"
    for argv in (["summary", "--db", url, "--user", "admin"],
                 ["init", "--db", url, "--demo"],
                 ["db", "grant", "--role", "taper_app", "--db", url]):
        code, out, err = _run(*argv)
        assert code != 0
        assert "s3cret-pw" not in out + err, argv
    logged = "".join(p.read_text(errors="replace") for p in _own_log_folder.rglob("*")
                     if p.is_file())
    assert "s3cret-pw" not in logged


# ------------------------------------------------------------------ db copy out of a server

def test_db_copy_from_a_server_needs_an_administrator_and_is_audited(
        signed, db_url, tmp_path, monkeypatch):
    from taper_app.services.study import add_user
    from taper_app.storage.models import User

    add_user(context(signed, "admin"), "sita", "admin", "Site Admin", PASSWORD,
             sites=["101"])
    with UnitOfWork(signed) as uow:
        uow.session.execute(update(User).values(must_change_password=False))
        uow.commit()
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    target = tmp_path / "copy.sqlite"
    before = dump(signed)
    code, _, err = _run("db", "copy", "--from", db_url, "--to", str(target))
    assert code == 2 and "needs an administrator" in err
    code, _, err = _run("db", "copy", "--from", db_url, "--to", str(target), "--user", "nurse")
    assert (code, err) == (1, "taper-app db: nurse (nurse) may not manage users\n")
    code, _, err = _run("db", "copy", "--from", db_url, "--to", str(target), "--user", "sita")
    assert code == 1 and "may not copy every site's data" in err
    monkeypatch.setenv("TAPER_PASSWORD", "wrong-password-1")
    code, _, err = _run("db", "copy", "--from", db_url, "--to", str(target), "--user", "admin")
    assert code == 1 and "wrong password" in err
    assert not target.exists()
    after_refusals = dump(signed)
    assert {t: r for t, r in after_refusals.items() if t != "audit_log" and t != "app_user"
            and t != "audit_head"} == {t: r for t, r in before.items() if t != "audit_log"
                                       and t != "app_user" and t != "audit_head"}
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    code, out, err = _run("db", "copy", "--from", db_url, "--to", str(target), "--user",
                          "admin")
    assert code == 0, err
    assert out.startswith("copied ") and str(target) in out
    for where in (db_url, str(target)):
        copy = open_database(where)
        try:
            with UnitOfWork(copy, write=False) as uow:
                assert verify_chain(uow.session).ok
                copied = uow.session.execute(text(
                    "SELECT username, new_value FROM audit_log WHERE action = 'copy_study'"
                )).all()
        finally:
            copy.dispose()
        assert copied == [("admin", str(target))]
