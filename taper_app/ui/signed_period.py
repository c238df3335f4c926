"""Before a save that changes a signed period: say whose signature it breaks, and that the
record will then need a new signature (the save goes ahead only if the user says so). The
signatures are read off the GUI thread (forms.ServiceDialog.confirm_signed_period_then),
or come back from the dose save itself (services/gateway.py record_dose_unless_breaking)."""

from __future__ import annotations

from ..services.signatures import SignatureView
from . import messages
from .qt import QWidget


def ask_about_broken_signatures(parent: QWidget, subject_id: str,
                                broken: list[SignatureView], what: str) -> bool:
    """True to go on: none broken, or the user says to save anyway. ``what``: the change
    in a few words ("This dose", "Voiding this record")."""
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
