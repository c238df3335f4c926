"""Server-side sessions: made at sign-in, ended at sign-out, expired when idle, revocable.

A session is a random token (256 bits) the client holds; the server keeps only its
SHA-256, with who signed in and when the session was last used. The acting user of every
call comes from here, never from the request's arguments.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class Session:
    username: str
    signed_in_at: datetime
    last_used: datetime


class SessionRefused(Exception):
    """No valid session: missing, unknown (forged or signed out), expired or revoked."""


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, username: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._sessions[_key(token)] = Session(username, now, now)
        return token

    def use(self, token: str | None, idle_minutes: int) -> tuple[Session, bool]:
        """The session of ``token``, marked used now; the flag is True when it had just
        expired (then it is ended, and the caller records that, and refuses)."""
        if not token:
            raise SessionRefused("not signed in: sign in first")
        now = self._clock()
        with self._lock:
            session = self._sessions.get(_key(token))
            if session is None:
                raise SessionRefused("the session is not valid (signed out, revoked or never "
                                     "issued): sign in again")
            if now - session.last_used > timedelta(minutes=idle_minutes):
                del self._sessions[_key(token)]
                return session, True
            session.last_used = now
            return session, False

    def close(self, token: str) -> Session | None:
        with self._lock:
            return self._sessions.pop(_key(token), None)

    def revoke_user(self, username: str) -> int:
        with self._lock:
            keys = [k for k, s in self._sessions.items() if s.username == username]
            for k in keys:
                del self._sessions[k]
            return len(keys)
