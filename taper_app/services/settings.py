"""Administrator settings, declared as data: key, default, type, label. Changes are audited."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..storage.engine import Database
from ..storage.models import AppSetting
from ..storage.uow import UnitOfWork
from .audit import AuditTrail
from .context import ServiceContext
from .errors import Problem, ValidationError
from .saving import saving
from .validation import check_reason


@dataclass(frozen=True)
class Setting:
    key: str
    default: int
    label: str
    minimum: int
    maximum: int


SETTINGS: tuple[Setting, ...] = (
    Setting("max_failed_logins", 5, "Failed sign-ins before the account locks", 1, 20),
    Setting("lockout_minutes", 15, "Minutes an account stays locked", 1, 24 * 60),
    Setting("idle_lock_minutes", 15, "Minutes idle before the window locks", 1, 240),
    Setting("backup_interval_hours", 4, "Hours between automatic backups", 1, 48),
    Setting("backups_kept", 20, "Automatic backups kept", 2, 500),
)
_BY_KEY = {s.key: s for s in SETTINGS}


def settings_in_session(session: Session) -> dict[str, int]:
    values = {s.key: s.default for s in SETTINGS}
    for row in session.scalars(select(AppSetting)):
        if row.key in values:
            values[row.key] = int(row.value)
    return values


def load_settings(db: Database) -> dict[str, int]:
    with UnitOfWork(db, write=False) as uow:
        return settings_in_session(uow.session)


@saving("change a setting")
def set_setting(ctx: ServiceContext, key: str, value: str, reason: str) -> None:
    ctx.actor.require("manage_users")
    setting = _BY_KEY.get(key)
    if setting is None:
        raise ValidationError([Problem("key", f"unknown setting {key!r}; known: "
                                              f"{', '.join(_BY_KEY)}")])
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,9}", text):  # int() also takes 1_0, ١٠ and +5
        shown = text if len(text) <= 24 else text[:20] + "…"
        raise ValidationError([Problem("value", f"{shown!r} is not a whole number "
                                                "(digits 0-9)")])
    number = int(text)
    if not setting.minimum <= number <= setting.maximum:
        raise ValidationError([Problem("value", f"must be from {setting.minimum} to "
                                                f"{setting.maximum}")])
    problems = check_reason(reason)
    if problems:
        raise ValidationError(problems)
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        row = uow.session.get(AppSetting, key)
        old = settings_in_session(uow.session)[key]
        if row is None:
            uow.session.add(AppSetting(key=key, value=str(number)))
        else:
            row.value = str(number)
        audit.add("change_setting", "setting", key, "value", old, number, reason=reason.strip())
        uow.commit()
