"""Account management: password change and reset, role change, deactivation. All audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from ..storage.engine import Database
from ..storage.models import User, UserSite
from ..storage.uow import UnitOfWork
from .audit import AuditTrail, utc_now
from .auth import ROLES, check_password_rules, hash_password
from .context import ServiceContext
from .errors import AuthenticationFailed, NotFound, Problem, ServiceError, ValidationError
from .saving import saving
from .study import check_password_in_session
from .validation import check_reason


@dataclass(frozen=True)
class UserView:
    username: str
    full_name: str
    role: str
    active: bool
    must_change_password: bool
    locked_until: datetime | None
    #: The sites the user works for; empty: every site.
    sites: tuple[str, ...] = ()


def list_users(db: Database) -> list[UserView]:
    with UnitOfWork(db, write=False) as uow:
        sites: dict[int, list[str]] = {}
        for link in uow.session.scalars(select(UserSite).order_by(UserSite.site_code)):
            sites.setdefault(link.user_id, []).append(link.site_code)
        return [UserView(u.username, u.full_name, u.role, u.active, u.must_change_password,
                         u.locked_until, tuple(sites.get(u.id, ())))
                for u in uow.session.scalars(select(User).order_by(User.username))]


def _user(uow: UnitOfWork, username: str) -> User:
    user = uow.session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


@saving("change a password")
def change_password(db: Database, username: str, old_password: str, new_password: str,
                    clock: Callable[[], datetime] = utc_now) -> None:
    """The user changes their own password (required after a reset or a first sign-in)."""
    check_password_rules(new_password, "new_password")
    if new_password == old_password:
        raise ValidationError([Problem("new_password", "must differ from the old password")])
    with UnitOfWork(db) as uow:
        user = uow.session.scalars(select(User).where(User.username == username)).first()
        audit = AuditTrail(uow.session, username, clock)
        # A wrong current password is a failed sign-in: audited, counted towards the
        # lockout, refused while locked; an unknown user gets the same answer.
        refused = check_password_in_session(uow.session, audit, user, username,
                                            old_password, clock(), "change_password")
        if refused is not None:
            uow.commit()
            raise AuthenticationFailed(f"{refused}; the password was not changed")
        assert user is not None
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        audit.add("change_password", "user", username, "password", "(set)", "(changed)")
        uow.commit()


@saving("reset a password")
def reset_password(ctx: ServiceContext, username: str, temporary_password: str,
                   reason: str) -> None:
    """An admin sets a temporary password; the user must change it at next sign-in."""
    ctx.actor.require("manage_users")
    check_password_rules(temporary_password)
    _require_reason(reason)
    with UnitOfWork(ctx.db) as uow:
        user = _user(uow, username)
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        user.password_hash = hash_password(temporary_password)
        user.must_change_password = True
        user.failed_logins = 0
        user.locked_until = None
        audit.add("reset_password", "user", username, "password", "(set)", "(reset; change "
                  "required)", reason=reason.strip())
        uow.commit()


@saving("change a role")
def change_role(ctx: ServiceContext, username: str, role: str, reason: str) -> None:
    ctx.actor.require("manage_users")
    if role not in ROLES:
        raise ValidationError([Problem("role", f"must be one of {', '.join(ROLES)}")])
    _require_reason(reason)
    with UnitOfWork(ctx.db) as uow:
        user = _user(uow, username)
        if user.role == role:
            raise ServiceError(f"{username} already has the role {role}")
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        audit.add("change_role", "user", username, "role", user.role, role, reason=reason.strip())
        user.role = role
        uow.commit()


@saving("deactivate a user")
def deactivate_user(ctx: ServiceContext, username: str, reason: str) -> None:
    """Users are never deleted: a deactivated user can no longer sign in."""
    ctx.actor.require("manage_users")
    _require_reason(reason)
    if username == ctx.actor.username:
        raise ServiceError("you cannot deactivate your own account")
    with UnitOfWork(ctx.db) as uow:
        user = _user(uow, username)
        if not user.active:
            raise ServiceError(f"{username} is already inactive")
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        user.active = False
        audit.add("deactivate_user", "user", username, "active", True, False,
                  reason=reason.strip())
        uow.commit()


@saving("change a user's sites")
def set_user_sites(ctx: ServiceContext, username: str, sites: list[str],
                   reason: str) -> None:
    """The sites ``username`` works for (none: every site); audited with the reason."""
    ctx.actor.require("manage_users")
    _require_reason(reason)
    wanted = sorted({s.strip() for s in sites if s.strip()})
    with UnitOfWork(ctx.db) as uow:
        user = _user(uow, username)
        current = sorted(uow.session.scalars(select(UserSite.site_code).where(
            UserSite.user_id == user.id)))
        if current == wanted:
            raise ServiceError(f"{username} already works for "
                               f"{', '.join(wanted) if wanted else 'every site'}")
        uow.session.execute(delete(UserSite).where(UserSite.user_id == user.id))
        for site in wanted:
            uow.session.add(UserSite(user_id=user.id, site_code=site))
        AuditTrail(uow.session, ctx.actor.username, ctx.clock).add(
            "set_sites", "user", username, "sites", ", ".join(current) or "(all)",
            ", ".join(wanted) or "(all)", reason=reason.strip())
        uow.commit()


def _require_reason(reason: str) -> None:
    problems = check_reason(reason)
    if problems:
        raise ValidationError(problems)
