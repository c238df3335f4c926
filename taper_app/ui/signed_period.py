"""Before a save that changes a signed period: say whose signature it breaks, and that the
record will then need a new signature (the save goes ahead only if the user says so)."""

from __future__ import annotations

import logging
from datetime import date

from ..services.context import ServiceContext
from ..services.errors import ServiceError
from ..services.gateway import StudyGateway, local_study
from ..services.signatures import SignatureView
from ..storage.errors import DatabaseError
from . import messages
from .qt import QWidget

log = logging.getLogger(__name__)


def confirm_change_of_signed_period(parent: QWidget, door: ServiceContext | StudyGateway,
                                    subject_id: str,
                                    first_changed: date | None, what: str) -> bool:
    """True to go on with the save. ``first_changed``: the earliest date the change
    touches (None: the schedule, which every signature covers); ``what``: the change in
    a few words ("This dose", "Voiding this record")."""
    try:
        broken = local_study(door).signatures_a_change_breaks(subject_id, first_changed)
    except (DatabaseError, ServiceError) as exc:
        # The save itself will meet the same trouble and say so, input kept.
        log.warning("signatures of %s not checked before saving: %s", subject_id, exc)
        return True
    return ask_about_broken_signatures(parent, subject_id, broken, what)


def ask_about_broken_signatures(parent: QWidget, subject_id: str,
                                broken: list[SignatureView], what: str) -> bool:
    """True to go on: none broken, or the user says to save anyway."""
    if not broken:
        return True
    signed = "; ".join(f"{v.printed_name} ({v.meaning}, through "
                       f"{v.signed_through.isoformat()})" for v in broken)
    many = len(broken) != 1
    return messages.ask(
        parent, "A signed period",
        f"{what} changes {subject_id}'s record inside the period signed by {signed}.",
        f"The signature{'s' * many} will no longer be valid, and the record will need "
        "a new signature by an investigator. Save the change anyway?",
        yes="&Save and ask for a new signature", no="&Go back")
