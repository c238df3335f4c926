"""Study-day arithmetic (CDISC --DY convention: Day 1 is the first dose, there is no Day 0)."""

from __future__ import annotations

from datetime import date, timedelta


def study_day(d: date, day1: date) -> int:
    """The study day of date ``d`` for a patient whose Day 1 is ``day1``."""
    delta = (d - day1).days
    return delta + 1 if delta >= 0 else delta


def date_of_day(day: int, day1: date) -> date:
    """The calendar date of study day ``day`` (inverse of :func:`study_day`)."""
    if day == 0:
        raise ValueError("there is no study day 0")
    return day1 + timedelta(days=day - 1 if day > 0 else day)


def week_end_day(week: int) -> int:
    """Week N ends on Day 7N."""
    return 7 * week
