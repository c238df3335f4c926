"""Every service call that saves: tried once more after a deadlock, logged when it fails.

``@saving("record a dose")`` on a use case that writes. A deadlock or serialization
failure is made again once (the server rolled the first attempt back whole); any failure
that reaches the caller is logged with its cause: a refusal (validation, permission, a
stale record) as a warning with the reason the user is shown, a database failure with
its kind (the driver's original and its traceback were logged where it was translated),
a bug with its traceback.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ..storage.errors import DatabaseError, DatabaseFault
from ..storage.uow import retry_on_conflict
from .errors import ServiceError, ValidationError

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def _who(signature: inspect.Signature, args: tuple[Any, ...],
         kwargs: dict[str, Any]) -> str:
    """The acting user of a call: ``ctx.actor`` or a ``username`` argument."""
    try:
        bound = signature.bind_partial(*args, **kwargs).arguments
    except TypeError:
        return "?"
    ctx = bound.get("ctx")
    actor = getattr(ctx, "actor", None)
    if actor is not None:
        return str(actor.username)
    return str(bound.get("username", "?"))


def cause(exc: BaseException) -> str:
    """An error as one log line: its kind and what it says (every problem of a refusal)."""
    if isinstance(exc, ValidationError):
        text = "; ".join(str(p) for p in exc.problems)
    else:
        text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"


def saving(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a use case that writes (``what``: the action in words, for the log)."""

    def decorate(call: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(call)
        attempt = retry_on_conflict(call)

        @functools.wraps(call)
        def logged(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return attempt(*args, **kwargs)
            except ServiceError as exc:
                log.warning("not saved: %s by %s: %s", what, _who(signature, args, kwargs),
                            cause(exc))
                raise
            except DatabaseError as exc:
                level = logging.ERROR if isinstance(exc, DatabaseFault) else logging.WARNING
                log.log(level, "not saved: %s by %s: %s", what, _who(signature, args, kwargs),
                        cause(exc))
                raise
            except Exception:
                log.exception("not saved: %s by %s: a program fault", what,
                              _who(signature, args, kwargs))
                raise

        return logged

    return decorate
