"""Accounts: lockout after failures (configurable), password change/reset, deactivation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from taper_app.services import accounts
from taper_app.services.audit import head_of
from taper_app.services.audit_query import AuditFilter, export_audit_csv, query_audit
from taper_app.services.errors import AuthenticationFailed, ServiceError, ValidationError
from taper_app.services.settings import load_settings, set_setting
from taper_app.services.study import add_user, authenticate
from taper_app.storage.models import User
from taper_app.storage.uow import UnitOfWork
from tests.conftest import NOW, PASSWORD


def clock_at(moment: datetime):
    return lambda: moment


def test_five_failures_lock_the_account_for_fifteen_minutes_and_are_audited(db):
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            authenticate(db, "nurse", "wrong-password", clock_at(NOW))
    with pytest.raises(AuthenticationFailed, match="locked"):
        authenticate(db, "nurse", PASSWORD, clock_at(NOW + timedelta(minutes=14)))
    actor = authenticate(db, "nurse", PASSWORD, clock_at(NOW + timedelta(minutes=16)))
    assert actor.role == "nurse"
    failures = query_audit(db, AuditFilter(username="nurse"))
    actions = [r.action for r in failures]
    assert actions.count("sign_in_failed") == 6 and "lock_account" in actions


def test_lockout_settings_are_configurable_and_the_change_is_audited(db, admin):
    set_setting(admin, "max_failed_logins", "2", "site policy")
    set_setting(admin, "lockout_minutes", "60", "site policy")
    assert load_settings(db)["max_failed_logins"] == 2
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            authenticate(db, "nurse", "wrong-password", clock_at(NOW))
    with pytest.raises(AuthenticationFailed, match="locked"):
        authenticate(db, "nurse", PASSWORD, clock_at(NOW + timedelta(minutes=59)))
    rows = query_audit(db, AuditFilter(entity="setting"))
    assert {(r.entity_id, r.old_value, r.new_value) for r in rows} == {
        ("max_failed_logins", "5", "2"), ("lockout_minutes", "15", "60")}


def test_admin_reset_forces_a_password_change(db, admin):
    accounts.reset_password(admin, "nurse", "temporary-pass-1", "forgotten")
    actor = authenticate(db, "nurse", "temporary-pass-1", clock_at(NOW))
    assert actor.must_change_password
    with pytest.raises(ValidationError):
        accounts.change_password(db, "nurse", "temporary-pass-1", "short")
    accounts.change_password(db, "nurse", "temporary-pass-1", "my-own-password-9")
    assert not authenticate(db, "nurse", "my-own-password-9", clock_at(NOW)).must_change_password


def test_deactivated_users_cannot_sign_in_and_are_never_deleted(db, admin):
    accounts.deactivate_user(admin, "monitor", "left the study")
    with pytest.raises(AuthenticationFailed):
        authenticate(db, "monitor", PASSWORD, clock_at(NOW))
    with UnitOfWork(db, write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == "monitor")).one()
        assert user.active is False
    with pytest.raises(ServiceError):
        accounts.deactivate_user(admin, "admin", "oops")


def test_role_change_is_audited_with_old_and_new_role(db, admin):
    accounts.change_role(admin, "monitor", "investigator", "promoted to sub-investigator")
    [row] = [r for r in query_audit(db, AuditFilter(entity="user")) if r.action == "change_role"]
    assert (row.old_value, row.new_value, row.reason) == ("monitor", "investigator",
                                                          "promoted to sub-investigator")


def test_audit_export_writes_filtered_rows_in_order(db, admin, tmp_path):
    accounts.change_role(admin, "monitor", "nurse", "site work")
    rows = query_audit(db, AuditFilter(username="admin", since=NOW.date(), until=NOW.date()))
    path = export_audit_csv(rows, tmp_path / "audit.csv", head=head_of(db))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith(f"# audit trail head: {head_of(db).short} ")
    assert lines[2].startswith("id,at_utc,username,action")
    assert len(lines) == len(rows) + 3
    assert query_audit(db, AuditFilter(since=datetime(2030, 1, 1, tzinfo=UTC).date())) == []


def test_user_names_are_unique_and_never_reused_after_deactivation(db, admin):
    with pytest.raises(ValidationError, match="already exists"):
        add_user(admin, "nurse", "nurse", "Another Nurse", "a-long-password")
    accounts.deactivate_user(admin, "monitor", "left the study")
    with pytest.raises(ValidationError, match="already exists"):
        add_user(admin, "monitor", "monitor", "New Monitor", "a-long-password")
    assert [u.username for u in accounts.list_users(db)].count("monitor") == 1


# ------------------------------------------- a wrong current password is a failed sign-in

def test_a_wrong_current_password_is_audited_and_counts_towards_the_lockout(db):
    for _ in range(4):
        with pytest.raises(AuthenticationFailed, match="was not changed"):
            accounts.change_password(db, "nurse", "wrong-password", "my-own-password-9",
                                     clock_at(NOW))
    rows = [r for r in query_audit(db, AuditFilter(username="nurse"))
            if r.action == "change_password_failed"]
    assert sorted((r.old_value, r.new_value) for r in rows) == [("0", "1"), ("1", "2"), ("2", "3"),
                                                          ("3", "4")]
    # The fifth failure, at sign-in, locks the account: the four above counted.
    with pytest.raises(AuthenticationFailed):
        authenticate(db, "nurse", "wrong-password", clock_at(NOW))
    with pytest.raises(AuthenticationFailed, match="locked"):
        authenticate(db, "nurse", PASSWORD, clock_at(NOW + timedelta(minutes=1)))


def test_changing_a_password_is_refused_while_the_account_is_locked(db):
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            accounts.change_password(db, "nurse", "wrong-password", "my-own-password-9",
                                     clock_at(NOW))
    # Even the right current password cannot change it while locked (no oracle there).
    with pytest.raises(AuthenticationFailed, match="locked"):
        accounts.change_password(db, "nurse", PASSWORD, "my-own-password-9",
                                 clock_at(NOW + timedelta(minutes=1)))
    actions = [r.action for r in query_audit(db, AuditFilter(username="nurse"))]
    assert "lock_account" in actions and "change_password" not in actions
    assert authenticate(db, "nurse", PASSWORD, clock_at(NOW + timedelta(minutes=16)))


def test_an_unknown_user_changing_a_password_gets_the_wrong_password_answer(db):
    with pytest.raises(AuthenticationFailed) as unknown:
        accounts.change_password(db, "nobody", "wrong-password", "my-own-password-9",
                                 clock_at(NOW))
    with pytest.raises(AuthenticationFailed) as wrong:
        accounts.change_password(db, "nurse", "wrong-password", "my-own-password-9",
                                 clock_at(NOW))
    assert str(unknown.value) == str(wrong.value)
