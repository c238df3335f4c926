"""The dosing calendar's words (dates, doses, tablets) as the printed sheet says them.

Plain text, no ReportLab: the window's calendar preview and returned-calendar form use the
same words as the PDF without loading the PDF library at start-up.
"""

from __future__ import annotations

from datetime import date

from ..domain.calendar import format_mg
from ..results import CalendarLine

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")


def long_date(d: date) -> str:
    """``Monday 6 July 2026``: plain words, the same in every locale."""
    return f"{WEEKDAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}"


def short_date(d: date) -> str:
    """``Mon 6 Jul``."""
    return f"{WEEKDAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]}"


def week_span(first: date, last: date) -> str:
    """``Monday 6 July to Sunday 12 July 2026`` (a year on each end only when they differ)."""
    def day(d: date, year: bool) -> str:
        return f"{WEEKDAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]}" + (
            f" {d.year}" if year else "")
    return f"{day(first, first.year != last.year)} to {day(last, True)}"


def dose_words(line: CalendarLine, drug: str) -> str:
    """The day's dose as the sheet says it."""
    if line.none:
        return "None today"
    if not line.exact:
        return "Ask your study nurse"
    amount = f"{format_mg(line.dose_mg)} mg"
    if line.times > 1:
        each = format_mg(line.dose_mg / line.times)
        amount = f"{each} mg {_times(line.times)} ({amount} in all)"
    return amount


def _times(times: int) -> str:
    return {2: "twice a day", 3: "3 times a day", 4: "4 times a day"}.get(times, "")


def tablet_words(line: CalendarLine) -> list[str]:
    if line.none:
        return ["No tablets"]
    if line.ask_nurse:
        return ["Ask your study nurse"]
    words = list(line.tablet_words)
    if line.times > 1:
        words.append(f"each time, {_times(line.times)}")
    if line.every == 2:
        words.append("(every other day)")
    elif line.every == 7:
        words.append("(once a week)")
    return words
