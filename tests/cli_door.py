"""The command line run in-process (``cli.run``), as the command-line suites drive it."""

from __future__ import annotations

import io

from sqlalchemy import update

from taper_app.cli import run
from taper_app.storage import models
from taper_app.storage.engine import Database
from taper_app.storage.uow import UnitOfWork


def taper(*argv: str, stdin: str = "") -> tuple[int, str, str]:
    """``taper-app ARGV``: its exit status, standard output and standard error."""
    out, err = io.StringIO(), io.StringIO()
    status = run(list(argv), out, err, io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue()


def ok(result: tuple[int, str, str]) -> str:
    """The output of a command that must succeed."""
    status, out, err = result
    assert status == 0, err
    return out


def passwords_chosen(db: Database) -> None:
    """Every account has chosen its own password (the first-password rule has its own
    tests in test_cli_accounts_and_sites.py)."""
    with UnitOfWork(db) as uow:
        uow.session.execute(update(models.User).values(must_change_password=False))
        uow.commit()
