"""The client of the application server: sign in, call a use case, sign out (httpx).

A refusal comes back as the same service error the call raises on a file, with the same
message, so the command line and the window print what they print on a file.
"""

from __future__ import annotations

from typing import Any

import httpx

from ..services.auth import Actor
from ..services.errors import (
    AuthenticationFailed,
    FirstPasswordNotChanged,
    NotFound,
    PermissionDenied,
    Problem,
    ServiceError,
    StaleData,
    ValidationError,
)
from .wire import decode, encode


class ServerRefused(ServiceError):
    """The server refused the request itself: no session, a malformed request, or its
    database could not be used. The message says which."""


class SessionEnded(ServerRefused):
    """The server holds no session for this token any more: signed out, expired after the
    idle time, or revoked."""


class ServerUnreachable(ServiceError):
    """The application server did not answer."""


_ERRORS: dict[str, type[ServiceError]] = {
    "FirstPasswordNotChanged": FirstPasswordNotChanged,
    "AuthenticationFailed": AuthenticationFailed, "PermissionDenied": PermissionDenied,
    "NotFound": NotFound, "StaleData": StaleData, "ServiceError": ServiceError,
}


class RemoteStudy:
    """One signed-in session on the application server at ``url``."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, transport=transport, timeout=timeout)
        self.token: str | None = None
        self.actor: Actor | None = None

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            response = self._http.post(path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach the application server at {self.url} "
                                    f"({exc.__class__.__name__})") from None
        try:
            data = response.json()
        except ValueError:
            raise ServerRefused(f"the server at {self.url} answered {response.status_code} "
                                "without a result") from None
        if "error" in data:
            raise _refusal(data["error"])
        return data

    def sign_in(self, username: str, password: str, *,
                first_password_refused: bool = False) -> Actor:
        data = self._post("/v1/sign-in", {"username": username, "password": password,
                                          "first_password_refused": first_password_refused})
        self.token = data["token"]
        actor = decode(data["actor"])
        assert isinstance(actor, Actor)
        self.actor = actor
        return actor

    def change_password(self, username: str, old_password: str, new_password: str) -> None:
        """The user's own new password (no session needed: the current one proves it)."""
        self._post("/v1/change-password", {"username": username, "old_password": old_password,
                                           "new_password": new_password})

    def unlock(self, password: str) -> Actor:
        actor = decode(self._post("/v1/unlock", {"password": password})["actor"])
        assert isinstance(actor, Actor)
        return actor

    def call(self, use_case: str, **args: Any) -> Any:
        return decode(self._post(f"/v1/call/{use_case}", {"args": encode(args)})["result"])

    def sign_out(self, how: str | None = None) -> None:
        """End the session; ``how`` (one of the server's SIGN_OUT_WORDS) is audited."""
        if self.token is not None:
            try:
                self._post("/v1/sign-out", {} if how is None else {"how": how})
            finally:
                self.token = None

    def close(self) -> None:
        """Sign out (a session already ended or revoked has nothing to end) and close."""
        try:
            self.sign_out()
        except ServerRefused:
            pass
        finally:
            self._http.close()

    def __enter__(self) -> RemoteStudy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _refusal(payload: Any) -> ServiceError:
    kind = payload.get("kind") if isinstance(payload, dict) else None
    message = str(payload.get("message", "")) if isinstance(payload, dict) else str(payload)
    if kind == "ValidationError":
        return ValidationError([Problem(p["field"], p["message"], p.get("line"), p.get("file"))
                                for p in payload.get("problems", [])])
    if kind == "SessionRefused":
        return SessionEnded(message)
    return _ERRORS.get(str(kind), ServerRefused)(message)
