"""How values read on screen: milligrams, percentages, dates, statuses. No figures here.

Numbers arrive already computed and rounded by the services (``summary_dict``); this
module only turns them into text, so the window shows what ``summary --json`` prints.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ..domain.studyday import date_of_day
from ..results import SignatureState

DASH = "–"

#: The triage flags of the patient list (services/triage.py): key -> (label, colour), most
#: urgent first. Colour is never the only carrier of meaning: the badge has its words.
STATUS_BADGES: dict[str, tuple[str, str]] = {
    "above": ("above", "#c62828"),
    "below": ("below", "#1565c0"),
    "missing": ("missing", "#6d4c41"),
    "pulse": ("pulse", "#ad1457"),
    "reason": ("no reason", "#e65100"),
    "signature": ("to sign", "#4527a0"),
    "on_schedule": ("on schedule", "#2e7d32"),
}
STATUS_ORDER = tuple(STATUS_BADGES)

#: What each flag means, for tooltips and the filter's choices.
FLAG_TEXT = {"above": "above the schedule today", "below": "below the schedule today",
             "missing": "missing days", "pulse": "a pulse today",
             "reason": "a deviation without a reason", "signature": "needs a signature"}

SIGNATURE_LABELS = {"unsigned": "never signed", "signed": "signed", "changed": "changed",
                    "new_data": "new data"}

TARGET_LABELS = {"met": "met", "not_met": "not met", "not_evaluable": "not evaluable",
                 "pending": "pending", "discontinued": "discontinued"}


def mg(value: float | Decimal | None) -> str:
    """Milligrams to at most 3 decimals without trailing zeros: 20, 12.5, 7.125."""
    if value is None:
        return DASH
    text = f"{value:f}" if isinstance(value, Decimal) else f"{value:.3f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def pct(value: float | None) -> str:
    """A percentage as reported: to 0.1."""
    return DASH if value is None else f"{value:.1f}"


def iso(d: date | None, empty: str = "") -> str:
    return empty if d is None else d.isoformat()


def step_date(day1: date, day: int) -> date:
    """The calendar date of a study day (domain.md §1: there is no Day 0)."""
    return date_of_day(day, day1)


def status_label(key: str) -> str:
    return STATUS_BADGES.get(key, (key.replace("_", " "), "#555555"))[0]


def flags_label(flags: tuple[str, ...]) -> str:
    """Every flag of a patient in words, most urgent first: ``above · missing · to sign``."""
    return " · ".join(status_label(f) for f in flags) if flags else status_label("on_schedule")


def status_colour(key: str) -> str:
    return STATUS_BADGES.get(key, ("", "#555555"))[1]


def signature_state_text(state: SignatureState) -> str:
    """Where a record stands with signatures, in a few words."""
    through = iso(state.signed_through)
    if state.state == "changed":
        return f"changed since it was signed through {through}"
    if state.state == "new_data":
        return f"new data after the signed date ({through})"
    if state.state == "signed":
        return f"signed through {through}"
    return "never signed"
