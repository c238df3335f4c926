"""Users and signing in: password rules, salted scrypt hashes, failure count and lock-out."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from taper_app.services.auth import PERMISSIONS, verify_password
from taper_app.services.errors import AuthenticationFailed, PermissionDenied, ValidationError
from taper_app.services.study import add_user, authenticate, create_study
from taper_app.storage import models
from taper_app.storage.engine import Database
from tests.conftest import EXAMPLE_PROTOCOL, NOW, PASSWORD, context, fixed_clock

LOCKOUT = timedelta(minutes=15)  # the default lock-out after 5 failed sign-ins


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: a refused change must change none of them."""
    with db.engine.connect() as conn:
        return {table.name: [tuple(r) for r in conn.execute(
                    select(table).order_by(*table.primary_key.columns))]
                for table in models.Base.metadata.sorted_tables}


def user_row(db: Database, username: str) -> tuple[str, int, datetime | None]:
    users = models.User.__table__
    with db.engine.connect() as conn:
        row = conn.execute(select(users.c.password_hash, users.c.failed_logins,
                                  users.c.locked_until).where(users.c.username == username)).one()
    return row[0], row[1], row[2]


def audit_rows(db: Database, username: str) -> list[tuple[Any, ...]]:
    audit = models.AuditEntry.__table__
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(audit.c.action, audit.c.field, audit.c.old_value, audit.c.new_value)
            .where(audit.c.username == username, audit.c.action != "add_user")
            .order_by(audit.c.id))]


def at(minutes: float):  # type: ignore[no-untyped-def]
    return lambda: NOW + timedelta(minutes=minutes)


# ---------------------------------------------------------------- passwords

def test_a_password_under_10_characters_is_refused_and_nothing_is_written(
        db: Database) -> None:
    before = dump(db)
    with pytest.raises(ValidationError) as excinfo:
        add_user(context(db, "admin"), "nora", "nurse", "Nora Nurse", "123456789")
    assert excinfo.value.for_field("password") == ["must be at least 10 characters"]
    assert dump(db) == before
    add_user(context(db, "admin"), "nora", "nurse", "Nora Nurse", "1234567890")


def test_adding_a_user_is_audited_without_the_password(db: Database) -> None:
    add_user(context(db, "admin"), "nora", "nurse", "Nora Nurse", "a-long-password")
    audit = models.AuditEntry.__table__
    with db.engine.connect() as conn:
        rows = conn.execute(select(
            audit.c.username, audit.c.at_utc, audit.c.action, audit.c.entity,
            audit.c.entity_id, audit.c.field, audit.c.old_value, audit.c.new_value)
            .where(audit.c.entity_id == "nora").order_by(audit.c.id)).all()
    assert [tuple(r) for r in rows] == [
        ("admin", "2026-07-02T14:30:00.000000Z", "add_user", "user", "nora", "role", None,
         "nurse"),
        ("admin", "2026-07-02T14:30:00.000000Z", "add_user", "user", "nora", "full_name", None,
         "Nora Nurse"),
        ("admin", "2026-07-02T14:30:00.000000Z", "add_user", "user", "nora", "password", None,
         "(set)")]


def test_a_new_study_refuses_a_short_administrator_password(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    with pytest.raises(ValidationError):
        create_study(path, EXAMPLE_PROTOCOL.read_text(encoding="utf-8"), "admin", "Ada",
                     "short", clock=fixed_clock)
    assert not path.exists()


def test_password_hashes_are_salted_scrypt(db: Database) -> None:
    hashes = [user_row(db, name)[0] for name in ("nurse", "investigator", "monitor")]
    # the three fixture users share one password but no two hashes are alike
    assert len(set(hashes)) == 3
    for stored in hashes:
        scheme, n, r, p, salt, digest = stored.split("$")
        assert scheme == "scrypt"
        assert len(base64.b64decode(salt)) >= 16
        assert PASSWORD not in stored
        assert hashlib.scrypt(PASSWORD.encode(), salt=base64.b64decode(salt), n=int(n),
                              r=int(r), p=int(p), maxmem=256 * 1024 * 1024,
                              dklen=len(base64.b64decode(digest))) == base64.b64decode(digest)
        assert verify_password(PASSWORD, stored)
        assert not verify_password(PASSWORD + "!", stored)


def test_the_password_itself_is_stored_nowhere(db: Database) -> None:
    assert PASSWORD not in repr(dump(db))


def test_only_an_admin_manages_users(db: Database) -> None:
    before = dump(db)
    for role in ("nurse", "investigator", "monitor"):
        with pytest.raises(PermissionDenied):
            add_user(context(db, role), "eve", "admin", "Eve", "long-enough-password")
    assert dump(db) == before


def test_the_permission_table_matches_the_roles() -> None:
    assert "nurse" not in PERMISSIONS["amend_schedule"]
    assert "monitor" not in PERMISSIONS["record_dose"]
    assert "admin" not in PERMISSIONS["enroll_patient"]
    assert PERMISSIONS["amend_schedule"] == {"investigator"}


# ---------------------------------------------------------------- signing in

def test_a_right_password_signs_in_and_is_audited(db: Database) -> None:
    actor = authenticate(db, "nurse", PASSWORD, clock=fixed_clock)
    assert (actor.username, actor.role, actor.full_name) == ("nurse", "nurse", "Nurse Example")
    assert audit_rows(db, "nurse") == [("sign_in", "sign_in", None, "ok")]


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(db: Database) -> None:
    with pytest.raises(AuthenticationFailed) as unknown:
        authenticate(db, "nobody", PASSWORD, clock=fixed_clock)
    with pytest.raises(AuthenticationFailed) as wrong:
        authenticate(db, "nurse", "not-the-password", clock=fixed_clock)
    assert str(unknown.value) == str(wrong.value)


def test_failures_are_counted_and_the_fifth_locks_the_account(db: Database) -> None:
    for expected in range(1, 5):
        with pytest.raises(AuthenticationFailed):
            authenticate(db, "nurse", "not-the-password", clock=fixed_clock)
        assert user_row(db, "nurse")[1:] == (expected, None)
    with pytest.raises(AuthenticationFailed):
        authenticate(db, "nurse", "not-the-password", clock=fixed_clock)
    assert user_row(db, "nurse")[1:] == (0, (NOW + LOCKOUT).replace(tzinfo=None))
    assert audit_rows(db, "nurse") == [
        ("sign_in_failed", "failed_logins", "0", "1"),
        ("sign_in_failed", "failed_logins", "1", "2"),
        ("sign_in_failed", "failed_logins", "2", "3"),
        ("sign_in_failed", "failed_logins", "3", "4"),
        ("sign_in_failed", "failed_logins", "4", "5"),
        ("lock_account", "locked_until", None, "2026-07-02T14:45:00Z")]
    # locked: even the right password is refused until the lock-out has passed
    with pytest.raises(AuthenticationFailed, match="locked"):
        authenticate(db, "nurse", PASSWORD, clock=at(14))
    assert authenticate(db, "nurse", PASSWORD, clock=at(16)).username == "nurse"
    assert user_row(db, "nurse")[1:] == (0, None)


def test_a_successful_sign_in_resets_the_failure_count(db: Database) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            authenticate(db, "nurse", "not-the-password", clock=fixed_clock)
    authenticate(db, "nurse", PASSWORD, clock=fixed_clock)
    assert user_row(db, "nurse")[1:] == (0, None)
    with pytest.raises(AuthenticationFailed):
        authenticate(db, "nurse", "not-the-password", clock=fixed_clock)
    assert user_row(db, "nurse")[1:] == (1, None)


def test_an_unknown_user_takes_about_as_long_as_a_wrong_password(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """A dummy hash is checked for an unknown user, so timing does not tell them apart.

    At a real scrypt cost the hash dominates the answer's time; without the dummy hash an
    unknown user is answered several times faster."""
    import time

    from taper_app.services import auth

    monkeypatch.setattr(auth, "SCRYPT_N", 2**14)
    monkeypatch.setattr(auth, "_DUMMY_HASH", [])
    users = models.User.__table__
    with db.engine.begin() as conn:
        conn.execute(users.update().where(users.c.username == "nurse")
                     .values(password_hash=auth.hash_password(PASSWORD)))

    def timed(username: str) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            with pytest.raises(AuthenticationFailed):
                authenticate(db, username, "not-the-password", clock=fixed_clock)
            best = min(best, time.perf_counter() - start)
        return best

    timed("nobody")  # the dummy hash is made once, on first use
    unknown, wrong = timed("nobody"), timed("nurse")
    assert 0.5 * wrong < unknown < 2 * wrong, (unknown, wrong)
