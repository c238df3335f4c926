"""Field-by-field checks shared by the dose form, enrollment and the CSV import.

Each check takes the raw text a person typed (or a file held) and returns typed values
or :class:`Problem` s naming the field, so the window can mark the field and the import
can report ``FILE:LINE: column: message``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ..domain.equivalence import (
    FREQUENCIES,
    ROUTES,
    SOURCES,
    EquivalenceTable,
    UnknownDrugError,
    per_day,
)
from ..domain.units import QuantityError, mg_to_ug, parse_mg
from .errors import Problem

MAX_DAILY_PEQ_MG = Decimal(2000)
#: The longest comment, reason, note or query text kept (characters, after trimming): a
#: page and a half of print, more than any clinical note needs, and a bound on what one
#: field can make a report, an export or the audit trail carry.
MAX_TEXT_LENGTH = 5000
EARLIEST_DATE = date(1900, 1, 1)
SUBJECT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
SITE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


@dataclass(frozen=True)
class ValidDose:
    drug: str
    dose_ug: int
    frequency: str
    route: str
    start_date: date
    end_date: date | None
    source: str | None
    comment: str | None
    deviation_reason: str | None = None


@dataclass(frozen=True)
class ValidEnrollment:
    subject_id: str
    site: str
    day1_date: date
    baseline_ug: int
    template_id: str
    kit_number: str | None
    notes: str | None


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@functools.lru_cache(maxsize=4096)
def _iso_date(text: str) -> date | str:
    """The date ``text`` names, or why it names none (remembered: an imported diary repeats
    the same few hundred days patient after patient)."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return f"{text!r} is not a date (YYYY-MM-DD)"
    try:
        return date.fromisoformat(text)
    except ValueError:
        return f"{text!r} is not a real date"


def parse_date(value: object, field: str, today: date, problems: list[Problem],
               required: bool = True) -> date | None:
    if _blank(value):
        if required:
            problems.append(Problem(field, "is required (YYYY-MM-DD)"))
        return None
    if isinstance(value, date):
        d = value
    else:
        found = _iso_date(str(value).strip())
        if isinstance(found, str):
            problems.append(Problem(field, found))
            return None
        d = found
    if d < EARLIEST_DATE:
        problems.append(Problem(field, f"{d.isoformat()} is before 1900"))
        return None
    if d > today:
        problems.append(Problem(field, f"{d.isoformat()} is in the future "
                                       f"(today is {today.isoformat()})"))
        return None
    return d


def parse_amount(value: object, field: str, problems: list[Problem],
                 positive: bool = False) -> Decimal | None:
    """An amount in mg as the strict text form of domain.units.parse_mg_text (a file, the
    command line, a form after its decimal comma was made a point: units.decimal_point)."""
    if _blank(value):
        problems.append(Problem(field, "is required (mg)"))
        return None
    try:
        mg = parse_mg(value if isinstance(value, (int, float, Decimal)) else str(value))
    except QuantityError as exc:
        problems.append(Problem(field, str(exc)))
        return None
    if mg < 0:
        problems.append(Problem(field, f"{mg} is negative"))
        return None
    if positive and mg == 0:
        problems.append(Problem(field, "must be more than 0"))
        return None
    return mg


def check_dose(raw: dict[str, object], table: EquivalenceTable, today: date) -> tuple[
        ValidDose | None, list[Problem]]:
    """Check one dose record's fields; returns the record or the problems (never both)."""
    problems: list[Problem] = []
    drug: str | None = None
    if _blank(raw.get("drug")):
        problems.append(Problem("drug", "is required"))
    else:
        try:
            drug = table.normalise(str(raw["drug"]))
        except UnknownDrugError as exc:
            problems.append(Problem("drug", str(exc)))
    dose = parse_amount(raw.get("dose_mg"), "dose_mg", problems)
    frequency = str(raw.get("frequency") or "").strip().upper()
    if frequency not in FREQUENCIES:
        problems.append(Problem("frequency", f"{raw.get('frequency')!r} is not one of "
                                              f"{', '.join(FREQUENCIES)}"))
        frequency = ""
    route = str(raw.get("route") or "").strip().upper()
    if route not in ROUTES:
        problems.append(Problem("route", f"{raw.get('route')!r} is not one of {', '.join(ROUTES)}"))
    start = parse_date(raw.get("start_date"), "start_date", today, problems)
    end = parse_date(raw.get("end_date"), "end_date", today, problems, required=False)
    if frequency == "ONCE" and end is not None and end != start:
        problems.append(Problem("end_date", "a ONCE dose has no end date"))
    if start is not None and end is not None and end < start:
        problems.append(Problem("end_date", f"{end.isoformat()} is before the start date "
                                            f"{start.isoformat()}"))
    source = raw.get("source")
    source_text = None if _blank(source) else str(source).strip().lower()
    if source_text is not None and source_text not in SOURCES:
        problems.append(Problem("source", f"{source!r} is not one of {', '.join(SOURCES)}"))
    problems += check_length(raw.get("comment"), "comment")
    problems += check_length(raw.get("deviation_reason"), "deviation_reason")
    if drug is not None and dose is not None and frequency:
        # The most taken on any one day: the daily amount, or one whole administration
        # (3,000 mg every other day is 3,000 mg on the days it is taken).
        in_one_day = _most_in_one_day(table.factor(drug), dose, frequency)
        if in_one_day > MAX_DAILY_PEQ_MG:
            problems.append(Problem("dose_mg", f"{dose} mg {drug} {frequency} is "
                                    f"{float(in_one_day):,.1f} mg prednisone-equivalent in one "
                                    f"day; over {MAX_DAILY_PEQ_MG:,} mg is not plausible"))
    if problems:
        return None, problems
    assert drug is not None and dose is not None and start is not None
    comment = None if _blank(raw.get("comment")) else str(raw["comment"]).strip()
    reason = raw.get("deviation_reason")
    return ValidDose(drug, mg_to_ug(dose), frequency, route, start,
                     None if frequency == "ONCE" else end, source_text, comment,
                     None if _blank(reason) else str(reason).strip()), []


@functools.lru_cache(maxsize=4096)
def _most_in_one_day(factor: Fraction, dose: Decimal, frequency: str) -> Fraction:
    """The PEQ of a record's busiest day, exactly (remembered: an import of a hundred
    thousand diary rows holds a few hundred distinct amounts)."""
    return max(Fraction(dose) * per_day(frequency), Fraction(dose)) * factor


def check_enrollment(raw: dict[str, object], template_ids: set[str], today: date) -> tuple[
        ValidEnrollment | None, list[Problem]]:
    problems: list[Problem] = []
    subject = str(raw.get("subject_id") or "").strip()
    if not SUBJECT_ID_RE.match(subject):
        problems.append(Problem("subject_id", f"{subject!r} is not a subject id (letters, digits, "
                                              ". _ -; at most 32)"))
    site = str(raw.get("site") or "").strip()
    if not SITE_RE.match(site):
        problems.append(Problem("site", f"{site!r} is not a site code (letters, digits, . _ -)"))
    day1 = parse_date(raw.get("day1_date"), "day1_date", today, problems)
    baseline = parse_amount(raw.get("baseline_mg"), "baseline_mg", problems, positive=True)
    if baseline is not None and baseline > MAX_DAILY_PEQ_MG:
        problems.append(Problem("baseline_mg", f"{baseline} mg/day is not plausible "
                                               f"(over {MAX_DAILY_PEQ_MG:,})"))
    template = str(raw.get("template_id") or "").strip()
    if template not in template_ids:
        known = ", ".join(sorted(template_ids))
        problems.append(Problem("template_id", f"unknown template {template!r} (known: {known})"))
    kit = None if _blank(raw.get("kit_number")) else str(raw["kit_number"]).strip()
    if kit is not None and len(kit) > 64:
        problems.append(Problem("kit_number", "at most 64 characters"))
    notes = None if _blank(raw.get("notes")) else str(raw["notes"]).strip()
    problems += check_length(notes, "notes")
    if problems:
        return None, problems
    assert day1 is not None and baseline is not None
    return ValidEnrollment(subject, site, day1, mg_to_ug(baseline), template, kit, notes), []


def check_length(value: object, field: str) -> list[Problem]:
    """A comment, reason, note or query text longer than MAX_TEXT_LENGTH (after trimming)."""
    if value is None:
        return []
    n = len(str(value).strip())
    if n <= MAX_TEXT_LENGTH:
        return []
    return [Problem(field, f"is {n:,} characters long; at most {MAX_TEXT_LENGTH:,} are "
                           "allowed: shorten it (a longer document belongs in the site file)")]


def check_reason(value: object, field: str = "reason") -> list[Problem]:
    """A required reason: not blank, and at most MAX_TEXT_LENGTH characters."""
    if _blank(value):
        return [Problem(field, "a reason is required")]
    return check_length(value, field)
