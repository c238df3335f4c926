"""The study: creating a database from a protocol, its templates, its users, signing in."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.protocol import (
    ProtocolError,
    new_template_problems,
    parse_protocol,
    parse_template_file,
    template_from_data,
    template_to_data,
)
from ..domain.schedule import Template
from ..results import StudyInfo
from ..storage.engine import Database, open_database
from ..storage.models import ScheduleTemplate, Study, User, UserSite
from ..storage.uow import UnitOfWork, retry_on_conflict
from .audit import AuditTrail, utc_now
from .auth import (
    ROLES,
    SYSTEM,
    Actor,
    check_password_rules,
    hash_password,
    verify_dummy_password,
    verify_password,
)
from .context import ServiceContext
from .errors import (
    AuthenticationFailed,
    FirstPasswordNotChanged,
    NotFound,
    PermissionDenied,
    Problem,
    ServiceError,
    ValidationError,
)
from .saving import saving
from .settings import settings_in_session

log = logging.getLogger(__name__)


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


@saving("create a study")
def create_study(db_path: str | Path, protocol_text: str, admin_username: str,
                 admin_full_name: str, admin_password: str, *, protocol_source: str = "protocol",
                 clock: Callable[[], datetime] = utc_now) -> Database:
    """A new database holding the study of ``protocol_text`` and its first administrator."""
    try:
        protocol = parse_protocol(protocol_text, protocol_source)
    except ProtocolError as exc:
        raise ValidationError([Problem("protocol", p) for p in exc.problems]) from None
    refused = new_template_problems(protocol.templates, protocol_source)
    if refused:
        raise ValidationError([Problem("protocol", p) for p in refused])
    _check_username(admin_username)
    check_password_rules(admin_password)
    if not protocol.templates:
        raise ValidationError([Problem("protocol", "the protocol defines no [[template]]")])
    db = open_database(db_path, create=True)
    try:
        now = clock()
        with UnitOfWork(db) as uow:
            audit = AuditTrail(uow.session, admin_username, clock)
            study = Study(id=1, name=protocol.study, protocol_version=protocol.protocol_version,
                          protocol_toml=protocol_text, created_at=_naive(now))
            uow.session.add(study)
            audit.add_fields("create_study", "study", 1, [
                ("name", None, protocol.study),
                ("protocol_version", None, protocol.protocol_version)])
            _add_user_row(uow, audit, admin_username, admin_full_name, "admin", admin_password,
                          must_change=False, now=now)
            for template in protocol.templates:
                _add_template_row(uow, audit, template, admin_username, now)
            uow.commit()
    except Exception:
        db.dispose()
        raise
    return db


def load_study(db: Database) -> StudyInfo:
    with UnitOfWork(db, write=False) as uow:
        study = uow.session.get(Study, 1)
        if study is None:
            raise ServiceError("this database holds no study; create one with 'taper-app init'")
        rows = uow.session.scalars(select(ScheduleTemplate).order_by(ScheduleTemplate.id)).all()
        templates = {r.id: template_from_data(json.loads(r.definition_json)) for r in rows}
        return StudyInfo(study.name, study.protocol_version,
                         parse_protocol(study.protocol_toml, "stored protocol"), templates)


def _add_template_row(uow: UnitOfWork, audit: AuditTrail, template: Template, username: str,
                      now: datetime) -> None:
    if uow.session.get(ScheduleTemplate, template.id) is not None:
        raise ValidationError([Problem("template", f"a template with id {template.id!r} "
                                       "already exists")])
    definition = json.dumps(template_to_data(template), sort_keys=True)
    uow.session.add(ScheduleTemplate(id=template.id, name=template.name, kind=template.kind,
                                     definition_json=definition, added_at=_naive(now),
                                     added_by=username))
    audit.add("add_template", "schedule_template", template.id, "definition", None, definition)


@saving("add templates")
def import_templates(ctx: ServiceContext, text: str, source: str) -> list[str]:
    """Add every template of a ``[[template]]`` file; an id that exists refuses the whole file."""
    ctx.actor.require("add_template")
    try:
        templates = parse_template_file(text, source)
    except ProtocolError as exc:
        raise ValidationError([Problem("template", p) for p in exc.problems]) from None
    refused = new_template_problems(templates, source)
    if refused:
        raise ValidationError([Problem("template", p) for p in refused])
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        for template in templates:
            _add_template_row(uow, audit, template, ctx.actor.username, ctx.clock())
        uow.commit()
    return [t.id for t in templates]


def _check_username(username: str) -> None:
    ok = 2 <= len(username) <= 64 and all(c.isalnum() or c in "._-@" for c in username)
    if not ok:
        raise ValidationError([Problem("username", "2-64 letters, digits or . _ - @")])


def _add_user_row(uow: UnitOfWork, audit: AuditTrail, username: str, full_name: str, role: str,
                  password: str, *, must_change: bool, now: datetime) -> None:
    _check_username(username)
    if role not in ROLES:
        raise ValidationError([Problem("role", f"must be one of {', '.join(ROLES)}")])
    if not full_name.strip():
        raise ValidationError([Problem("full_name", "the printed name is required "
                                       "(it appears on signatures)")])
    check_password_rules(password)
    if uow.session.scalars(select(User).where(User.username == username)).first() is not None:
        raise ValidationError([Problem("username", f"{username!r} already exists")])
    user = User(username=username, full_name=full_name.strip(), role=role,
                password_hash=hash_password(password), active=True,
                must_change_password=must_change, failed_logins=0, created_at=_naive(now))
    uow.session.add(user)
    audit.add_fields("add_user", "user", username, [
        ("role", None, role), ("full_name", None, full_name.strip()),
        ("password", None, "(set)")])


@saving("add a user")
def add_user(ctx: ServiceContext, username: str, role: str, full_name: str,
             password: str, sites: list[str] | None = None) -> None:
    """An admin adds a user; the first password must be changed at first sign-in.

    ``sites`` limits a user to those sites' patients; none means every site.
    """
    ctx.actor.require("manage_users")
    with UnitOfWork(ctx.db) as uow:
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        _add_user_row(uow, audit, username, full_name, role, password, must_change=True,
                      now=ctx.clock())
        if sites:
            user = uow.session.scalars(select(User).where(User.username == username)).one()
            for site in sorted(set(sites)):
                uow.session.add(UserSite(user_id=user.id, site_code=site))
            audit.add("set_sites", "user", username, "sites", "(all)",
                      ", ".join(sorted(set(sites))))
        uow.commit()


def authenticate(db: Database, username: str, password: str,
                 clock: Callable[[], datetime] = utc_now, *,
                 first_password_refused: bool = False) -> Actor:
    """Check a user's password; failures are counted, audited and lock the account.

    ``first_password_refused`` (the command line, which cannot ask for a new password):
    a user who still has the first password an administrator set is not signed in; the
    refusal is audited (``sign_in_refused``) and raised as `FirstPasswordNotChanged`.
    The window signs such a user in and makes them choose a password at once.
    """
    return _check_password(db, username, password, clock, "sign_in",
                           first_password_refused=first_password_refused)


def reauthenticate(db: Database, username: str, password: str,
                   clock: Callable[[], datetime] = utc_now) -> Actor:
    """The signed-in user proves again who they are (unlocking an idle window).

    The same rules as signing in: a wrong password is audited (``unlock_failed``) and
    counts toward locking the account; a locked or deactivated account cannot unlock.
    """
    return _check_password(db, username, password, clock, "unlock")


@saving("record a sign-out")
def record_sign_out(db: Database, username: str, how: str,
                    clock: Callable[[], datetime] = utc_now) -> None:
    """Audit that the user's session ended (``how``: e.g. from the idle lock)."""
    with UnitOfWork(db) as uow:
        AuditTrail(uow.session, username, clock).add("sign_out", "user", username, "sign_out",
                                                     None, how)
        uow.commit()


@saving("record a copy of the study")
def record_study_copy(ctx: ServiceContext, target: str) -> None:
    """An administrator who works for every site copies the whole study out (``db copy``
    from a database server): refused for anyone else, and audited before the copy."""
    ctx.actor.require("manage_users")
    if ctx.actor.sites is not None:
        raise PermissionDenied(f"{ctx.actor.username} works for some sites only and may not "
                               "copy every site's data")
    with UnitOfWork(ctx.db) as uow:
        AuditTrail(uow.session, ctx.actor.username, ctx.clock).add(
            "copy_study", "study", 1, "copied_to", None, target)
        uow.commit()


def check_password_in_session(session: Session, audit: AuditTrail, user: User | None,
                              username: str, password: str, now: datetime,
                              action: str) -> str | None:
    """Count, audit and (after too many failures) lock; None if the password is right,
    else why not, as the user may be told.

    The caller commits either way, so a failure's audit rows and count are kept.
    """
    limits = settings_in_session(session)
    failed = f"{action}_failed"
    if user is None or not user.active:
        verify_dummy_password(password)
        audit.add(failed, "user", username, action, None, "unknown or inactive")
        log.warning("%s refused for %r: %s", action, username,
                    "unknown user" if user is None else "account deactivated")
        return "unknown user or wrong password"
    if user.locked_until is not None and user.locked_until > _naive(now):
        audit.add(failed, "user", username, action, None, "account locked")
        log.warning("%s refused for %r: account locked until %s UTC", action, username,
                    f"{user.locked_until:%Y-%m-%d %H:%M}")
        return (f"the account is locked until {user.locked_until:%H:%M} UTC after repeated "
                "failed sign-ins")
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        audit.add(failed, "user", username, "failed_logins",
                  user.failed_logins - 1, user.failed_logins)
        log.warning("%s refused for %r: wrong password (%d of %d before the account locks)",
                    action, username, user.failed_logins, limits["max_failed_logins"])
        if user.failed_logins >= limits["max_failed_logins"]:
            user.locked_until = _naive(now + timedelta(minutes=limits["lockout_minutes"]))
            user.failed_logins = 0
            audit.add("lock_account", "user", username, "locked_until", None,
                      f"{user.locked_until:%Y-%m-%dT%H:%M:%SZ}")
            log.warning("account %r locked until %s UTC after repeated failed sign-ins",
                        username, f"{user.locked_until:%Y-%m-%d %H:%M}")
        return "unknown user or wrong password"
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins = 0
        user.locked_until = None
    return None


@retry_on_conflict
def _check_password(db: Database, username: str, password: str,
                    clock: Callable[[], datetime], action: str, *,
                    first_password_refused: bool = False) -> Actor:
    now = clock()
    with UnitOfWork(db) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        audit = AuditTrail(uow.session, username, clock)
        refused = check_password_in_session(uow.session, audit, user, username, password, now,
                                            action)
        if refused is not None:
            uow.commit()
            raise AuthenticationFailed(refused)
        assert user is not None
        if first_password_refused and user.must_change_password:
            audit.add(f"{action}_refused", "user", username, action, None,
                      "first password not yet changed")
            log.warning("%s refused for %r: the first password is not yet changed", action,
                        username)
            uow.commit()
            raise FirstPasswordNotChanged(
                f"{username} still has the first password an administrator set")
        audit.add(action, "user", username, action, None, "ok")
        actor = Actor(user.username, user.full_name, user.role, user.must_change_password,
                      user_sites(uow.session, user.id))
        uow.commit()
        return actor


def user_sites(session: Session, user_id: int) -> frozenset[str] | None:
    codes = session.scalars(select(UserSite.site_code).where(UserSite.user_id == user_id)).all()
    return frozenset(codes) if codes else None


def get_actor(db: Database, username: str) -> Actor:
    with UnitOfWork(db, write=False) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"no user {username!r}")
        return Actor(user.username, user.full_name, user.role, user.must_change_password,
                     user_sites(uow.session, user.id))


__all__ = ["SYSTEM", "StudyInfo", "add_user", "authenticate", "create_study", "import_templates",
           "load_study", "reauthenticate",
           "record_sign_out"]
