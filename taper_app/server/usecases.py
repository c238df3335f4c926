"""The explicit list of use cases the server runs: name, typed arguments, service call.

Nothing else can be called: no SQL, no function named by the client. Each use case gets
a ServiceContext whose actor is the session's user, read again from the database at each
call (a changed role or a deactivation counts at once); the services check permissions
and sites exactly as for the window on a file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..services import accounts
from ..services.audit import verify_chain
from ..services.context import ServiceContext
from ..services.errors import PermissionDenied
from ..services.figures import summary
from ..services.patients import record_dose
from ..services.settings import load_settings, set_setting
from ..services.signatures import sign_record
from ..services.study import add_user, load_study
from ..storage.uow import UnitOfWork
from .sessions import SessionStore


class BadArguments(ValueError):
    """The arguments do not fit the use case (a malformed request)."""


def _optional(kind: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or kind(v)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_date(v: Any) -> bool:
    return isinstance(v, date)


def _is_fields(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and (x is None or isinstance(x, str))
                                       for k, x in v.items())


def _is_names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


@dataclass(frozen=True)
class UseCase:
    name: str
    params: Mapping[str, Callable[[Any], bool]]
    run: Callable[..., Any]


@dataclass(frozen=True)
class Call:
    """What a use case is run with: the context (the session's user) and the sessions."""

    ctx: ServiceContext
    sessions: SessionStore


def _summary(c: Call, as_of: date, subject_id: str | None) -> Any:
    return summary(c.ctx.db, load_study(c.ctx.db), as_of, subject_id, c.ctx.actor.sites)


def _record_dose(c: Call, subject_id: str, fields: dict[str, object], close_ongoing: bool,
                 patient_version: int | None) -> Any:
    return record_dose(c.ctx, load_study(c.ctx.db), subject_id, fields,
                       close_ongoing=close_ongoing, patient_version=patient_version)


def _audit_verify(c: Call) -> Any:
    with UnitOfWork(c.ctx.db, write=False) as uow:
        return verify_chain(uow.session)


def _settings_set(c: Call, key: str, value: str, reason: str) -> Any:
    set_setting(c.ctx, key, value, reason)
    return load_settings(c.ctx.db)


def _user_add(c: Call, name: str, role: str, full_name: str, password: str,
              sites: list[str] | None) -> None:
    add_user(c.ctx, name, role, full_name, password, sites=sites)


def _revoke(c: Call, username: str) -> int:
    c.ctx.actor.require("manage_users")
    return c.sessions.revoke_user(username)


def _sign(c: Call, subject_id: str, through: date, meaning: str, password: str) -> Any:
    # The signer is the session's user; the password re-authenticates that same user.
    return sign_record(c.ctx, subject_id, through, meaning, password)


def _user_list(c: Call) -> Any:
    return accounts.list_users(c.ctx.db)


S, N, B, D = _is_str, _is_int, _is_bool, _is_date
USE_CASES: Mapping[str, UseCase] = {u.name: u for u in (
    UseCase("summary", {"as_of": D, "subject_id": _optional(S)}, _summary),
    UseCase("record_dose", {"subject_id": S, "fields": _is_fields, "close_ongoing": B,
                            "patient_version": _optional(N)}, _record_dose),
    UseCase("audit_verify", {}, _audit_verify),
    UseCase("settings_show", {}, lambda c: load_settings(c.ctx.db)),
    UseCase("settings_set", {"key": S, "value": S, "reason": S}, _settings_set),
    UseCase("user_list", {}, _user_list),
    UseCase("user_add", {"name": S, "role": S, "full_name": S, "password": S,
                         "sites": _optional(_is_names)}, _user_add),
    UseCase("user_role", {"name": S, "role": S, "reason": S},
            lambda c, name, role, reason: accounts.change_role(c.ctx, name, role, reason)),
    UseCase("user_sites", {"name": S, "sites": _is_names, "reason": S},
            lambda c, name, sites, reason: accounts.set_user_sites(c.ctx, name, sites,
                                                                   reason)),
    UseCase("user_deactivate", {"name": S, "reason": S},
            lambda c, name, reason: accounts.deactivate_user(c.ctx, name, reason)),
    UseCase("user_reset", {"name": S, "password": S, "reason": S},
            lambda c, name, password, reason: accounts.reset_password(c.ctx, name, password,
                                                                      reason)),
    UseCase("sessions_revoke", {"username": S}, _revoke),
    UseCase("sign_record", {"subject_id": S, "through": D, "meaning": S, "password": S},
            _sign),
)}


def checked_arguments(use_case: UseCase, args: Any) -> dict[str, Any]:
    """``args`` if they are exactly the use case's, each of its type; else BadArguments."""
    if not isinstance(args, dict):
        raise BadArguments("the arguments must be a mapping")
    missing = sorted(set(use_case.params) - set(args))
    unknown = sorted(set(args) - set(use_case.params))
    if missing or unknown:
        raise BadArguments(f"{use_case.name}: missing {missing}, unknown {unknown}")
    for name, fits in use_case.params.items():
        if not fits(args[name]):
            raise BadArguments(f"{use_case.name}: {name} has the wrong type")
    return args


__all__ = ["USE_CASES", "BadArguments", "Call", "PermissionDenied", "UseCase",
           "checked_arguments"]
