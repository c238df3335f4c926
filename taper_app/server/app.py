"""The HTTP side of the application server (Starlette on uvicorn).

The routes: ``POST /v1/sign-in`` (makes a session), ``POST /v1/sign-out``,
``POST /v1/unlock`` (the idle lock's password), ``POST /v1/change-password`` (a user's own,
proven by the current one) and ``POST /v1/call/{use case}`` (the session's bearer token;
the use case from server/usecases.py's explicit list). Every refusal is a JSON
``{"error": {kind, message, problems}}`` with the services' own message; nothing else is
ever run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..remote.wire import WireError, decode, encode
from ..services import accounts
from ..services.audit import utc_now
from ..services.context import ServiceContext, local_today
from ..services.errors import (
    AuthenticationFailed,
    FirstPasswordNotChanged,
    NotFound,
    PermissionDenied,
    ServiceError,
    StaleData,
    ValidationError,
)
from ..services.settings import load_settings
from ..services.study import authenticate, get_actor, reauthenticate, record_sign_out
from ..storage.engine import Database
from ..storage.errors import DatabaseError
from ..storage.models import User
from ..storage.uow import UnitOfWork
from .sessions import SessionRefused, SessionStore
from .usecases import USE_CASES, BadArguments, Call, checked_arguments

log = logging.getLogger(__name__)

#: How a window's session may end, as its sign-out audit row says it (the same words as
#: on a file: ui/main_window.py and ui/idle_lock.py).
SIGN_OUT_WORDS = frozenset({"signed out", "sign out", "switch user", "reset the demo",
                            "from the idle lock"})

#: The largest request body accepted: a CSV import's files (base64, a third larger) are
#: the largest expected.
MAX_BODY = 8 << 20

_KINDS: tuple[tuple[type[Exception], str, int], ...] = (
    (FirstPasswordNotChanged, "FirstPasswordNotChanged", 401),
    (AuthenticationFailed, "AuthenticationFailed", 401),
    (PermissionDenied, "PermissionDenied", 403),
    (NotFound, "NotFound", 404),
    (StaleData, "StaleData", 409),
    (ValidationError, "ValidationError", 422),
    (ServiceError, "ServiceError", 400),
)


def error(kind: str, message: str, status: int, problems: list[dict[str, Any]] | None = None
          ) -> JSONResponse:
    return JSONResponse({"error": {"kind": kind, "message": message,
                                   "problems": problems or []}}, status_code=status)


def _service_error(exc: ServiceError) -> JSONResponse:
    for kind, name, status in _KINDS:
        if isinstance(exc, kind):
            problems = ([{"field": p.field, "message": p.message, "line": p.line,
                          "file": p.file} for p in exc.problems]
                        if isinstance(exc, ValidationError) else None)
            return error(name, str(exc), status, problems)
    raise AssertionError(exc)  # pragma: no cover: ServiceError is the last kind


class _Malformed(Exception):
    pass


#: What a handler turns into a refusal (``_refused``); anything else is a bug.
REFUSALS = (_Malformed, WireError, BadArguments, SessionRefused, ServiceError, DatabaseError)


async def _body(request: Request, *, may_be_empty: bool = False) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise _Malformed("the request is too large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _Malformed("the request is too large")
        chunks.append(chunk)
    if may_be_empty and not size:
        return {}
    try:
        data = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError):
        raise _Malformed("the request is not JSON") from None
    if not isinstance(data, dict):
        raise _Malformed("the request is not a JSON object")
    return data


def _refused(exc: Exception) -> JSONResponse:
    """The answer to a refused request: what was wrong with it (400), no session (401), the
    service's own refusal, or a database the server could not use (503)."""
    if isinstance(exc, (_Malformed, WireError, BadArguments)):
        return error("Malformed", str(exc), 400)
    if isinstance(exc, SessionRefused):
        return error("SessionRefused", str(exc), 401)
    if isinstance(exc, ServiceError):
        return _service_error(exc)
    if isinstance(exc, DatabaseError):
        return error("DatabaseError", str(exc), 503)
    raise exc


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def make_app(db: Database, *, clock: Callable[[], datetime] = utc_now,
             today: Callable[[], date] = local_today) -> Starlette:
    """The server's application on ``db``; ``clock`` and ``today`` injectable for tests."""
    sessions = SessionStore(clock)

    def session_user(request: Request) -> tuple[str, str]:
        """The token and the signed-in user's name; SessionRefused if there is none."""
        token = _bearer(request)
        session, expired = sessions.use(token, load_settings(db)["idle_lock_minutes"])
        if expired:
            record_sign_out(db, session.username, "session expired on the server", clock)
            raise SessionRefused("the session expired after the idle time: sign in again")
        assert token is not None
        with UnitOfWork(db, write=False) as uow:
            user = uow.session.scalars(select(User).where(User.username == session.username)
                                       ).first()
            if user is None or not user.active:
                sessions.close(token)
                raise SessionRefused("the account is no longer active")
        return token, session.username

    async def sign_in(request: Request) -> JSONResponse:
        try:
            body = await _body(request)
            username, password = body.get("username"), body.get("password")
            refuse_first = body.get("first_password_refused", False)
            if (set(body) - {"username", "password", "first_password_refused"}
                    or not isinstance(username, str) or not isinstance(password, str)
                    or not isinstance(refuse_first, bool)):
                raise _Malformed("sign-in takes a username and a password")
            actor = await run_in_threadpool(authenticate, db, username, password, clock,
                                            first_password_refused=refuse_first)
        except REFUSALS as exc:
            return _refused(exc)
        return JSONResponse({"token": sessions.open(actor.username), "actor": encode(actor)})

    async def change_password(request: Request) -> JSONResponse:
        """A user's own new password, proven by the current one (as ``user passwd`` on a
        file): counted and locked out like a sign-in; no session is made or needed."""
        try:
            body = await _body(request)
            names = ("username", "old_password", "new_password")
            if set(body) != set(names) or not all(isinstance(body[n], str) for n in names):
                raise _Malformed("a password change takes the username, the current "
                                 "password and the new one")
            await run_in_threadpool(accounts.change_password, db, body["username"],
                                    body["old_password"], body["new_password"], clock)
        except REFUSALS as exc:
            return _refused(exc)
        return JSONResponse({"ok": True})

    async def sign_out(request: Request) -> JSONResponse:
        try:
            body = await _body(request, may_be_empty=True)
            how = body.get("how", "signed out")
            if set(body) - {"how"} or how not in SIGN_OUT_WORDS:
                raise _Malformed(f"sign-out takes how, one of {sorted(SIGN_OUT_WORDS)}")
        except _Malformed as exc:
            return error("Malformed", str(exc), 400)
        token = _bearer(request)
        session = sessions.close(token) if token else None
        if session is None:
            return error("SessionRefused", "not signed in", 401)
        await run_in_threadpool(record_sign_out, db, session.username, how, clock)
        return JSONResponse({"ok": True})

    def run(use_case: Any, username: str, args: dict[str, Any]) -> Any:
        ctx = ServiceContext(db, get_actor(db, username), clock, today)
        return use_case.run(Call(ctx, sessions), **args)

    async def call(request: Request) -> JSONResponse:
        use_case = USE_CASES.get(request.path_params["name"])
        if use_case is None:
            return error("Malformed", "no such use case", 404)
        try:
            body = await _body(request)
            _, username = await run_in_threadpool(session_user, request)
            if set(body) != {"args"}:
                raise _Malformed("a call's body is {\"args\": {...}}")
            args = checked_arguments(use_case, decode(body["args"]))
            result = await run_in_threadpool(run, use_case, username, args)
            return JSONResponse({"result": encode(result)})
        except REFUSALS as exc:
            return _refused(exc)

    async def unlock(request: Request) -> JSONResponse:
        """The idle lock's password: the session's own user proves again who they are."""
        try:
            body = await _body(request)
            _, username = await run_in_threadpool(session_user, request)
            password = body.get("password")
            if set(body) != {"password"} or not isinstance(password, str):
                raise _Malformed("unlock takes the password")
            actor = await run_in_threadpool(reauthenticate, db, username, password, clock)
        except REFUSALS as exc:
            return _refused(exc)
        return JSONResponse({"actor": encode(actor)})

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return error("Malformed", "no such use case", 404)

    async def not_allowed(request: Request, exc: Exception) -> JSONResponse:
        return error("Malformed", "the server takes POST requests only", 405)

    return Starlette(exception_handlers={404: not_found, 405: not_allowed}, routes=[
        Route("/v1/sign-in", sign_in, methods=["POST"]),
        Route("/v1/sign-out", sign_out, methods=["POST"]),
        Route("/v1/change-password", change_password, methods=["POST"]),
        Route("/v1/unlock", unlock, methods=["POST"]),
        Route("/v1/call/{name}", call, methods=["POST"]),
    ])


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(db: Database, host: str, port: int, certfile: str | None = None,
          keyfile: str | None = None) -> None:
    """Run the server until stopped; plain HTTP only on a loopback address."""
    import uvicorn

    if (certfile is None) != (keyfile is None):
        raise ValueError("give both --certfile and --keyfile")
    if certfile is None and host not in LOOPBACK:
        raise ValueError(f"plain HTTP is allowed only on a loopback address, not {host}: "
                         "give --certfile and --keyfile")
    uvicorn.run(make_app(db), host=host, port=port, ssl_certfile=certfile,
                ssl_keyfile=keyfile, log_level="warning", access_log=False)
