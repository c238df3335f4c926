"""What every service call needs: the database, who acts, and an injectable clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from ..storage.engine import Database
from .audit import utc_now
from .auth import Actor


def local_today() -> date:
    return date.today()


@dataclass
class ServiceContext:
    """``clock`` stamps audit rows (UTC); ``today`` is the site's date for "not in the future"."""

    db: Database
    actor: Actor
    clock: Callable[[], datetime] = field(default=utc_now)
    today: Callable[[], date] = field(default=local_today)
