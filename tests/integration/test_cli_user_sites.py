"""``user sites`` and the sites in ``user list``, in-process on SQLite and PostgreSQL (the
command line through a real application server too): the change is audited with its
reason, the user then reads only those sites, and ``audit verify`` still agrees with the
data."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from taper_app.services.accounts import list_users, set_user_sites
from taper_app.services.errors import PermissionDenied, ServiceError, ValidationError
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork
from tests.cli_door import taper
from tests.conftest import context


def test_sites_are_set_audited_and_listed(db: Database) -> None:
    admin = context(db, "admin")
    set_user_sites(admin, "nurse", ["102", " 101 ", "101"], "covers both wards")
    assert next(u for u in list_users(db) if u.username == "nurse").sites == ("101", "102")
    with UnitOfWork(db, write=False) as uow:
        row = uow.session.execute(select(
            models.AuditEntry.old_value, models.AuditEntry.new_value,
            models.AuditEntry.reason).where(models.AuditEntry.action == "set_sites")
            .order_by(models.AuditEntry.id)).all()[-1]
    assert tuple(row) == ("(all)", "101, 102", "covers both wards")
    set_user_sites(admin, "nurse", [], "every site again")
    assert next(u for u in list_users(db) if u.username == "nurse").sites == ()
    with pytest.raises(ServiceError, match="already works for every site"):
        set_user_sites(admin, "nurse", [], "again")
    with pytest.raises(ValidationError, match="reason"):
        set_user_sites(admin, "nurse", ["101"], " ")
    with pytest.raises(PermissionDenied):
        set_user_sites(context(db, "monitor"), "nurse", ["101"], "r")


@pytest.mark.through_server
def test_user_sites_on_the_command_line(location: str) -> None:
    status, out, err = taper("user", "sites", "monitor", "--site", "101", "--reason",
                             "site 101's monitor", "--db", location, "--user", "admin")
    assert (status, err, out) == (0, "", "monitor works for site(s) 101\n")
    status, out, err = taper("user", "list", "--db", location, "--user", "admin")
    assert status == 0, err
    assert "Monitor Example (101)" in out and "Nurse Example (every site)" in out
    status, out, err = taper("audit", "verify", "--db", location, "--user", "monitor")
    assert status == 0 and "data agree with it" in out, out + err
    status, _, err = taper("user", "sites", "monitor", "--reason", "r", "--db", location,
                           "--user", "nurse")
    assert status == 1 and "may not manage users" in err
