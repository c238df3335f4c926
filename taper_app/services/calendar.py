"""The patient's dosing calendar as use cases: see it, print it (audited), take it back in.

``dosing_calendar`` is what the window previews; ``print_dosing_calendar`` is the same
calendar as a PDF (and CSV), with an audit row saying who printed which dates; and
``enter_returned_calendar`` turns the returned sheet's days into dose records. Each takes
``ctx`` first, plain arguments, and returns plain values (the application server sends them
over HTTP).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import select

from .. import __version__
from ..domain.calendar import ASK_NURSE, Calendar, build_calendar
from ..domain.calendar import format_mg as format_exact_mg
from ..domain.equivalence import UnknownDrugError
from ..domain.units import MG_COMPARE, mg_to_ug
from ..results import CalendarLine, DosingCalendar
from ..storage.models import AuditEntry, DoseRecordRow
from ..storage.uow import UnitOfWork
from .audit import AuditTrail, head_of
from .context import ServiceContext
from .errors import Problem, ServiceError, StaleData, ValidationError
from .records import PatientRecord, load_patient
from .saving import saving
from .study import StudyInfo, load_study
from .validation import MAX_DAILY_PEQ_MG, ValidDose, check_length

DEFAULT_WEEKS = 4
MAX_WEEKS = 26
DEFAULT_DRUG = "prednisone"


def schedule_version(record: PatientRecord) -> str:
    """The schedule's version as printed: the last amendment (number, day, date)."""
    if not record.amendments:
        return "as at enrolment (no changes)"
    last = record.amendments[-1]
    return (f"change {last.seq}, from Day {last.day} "
            f"(made {last.created_at.date().isoformat()})")


def calendar_drug(record: PatientRecord, study: StudyInfo, today: date,
                  drug: str | None) -> tuple[str, str]:
    """The calendar's drug and why: ``drug`` if given, else the patient's current oral
    record (the one taken today, else the latest started before), else prednisone."""
    table = study.equivalence
    if drug is not None and drug.strip():
        try:
            return table.normalise(drug), "chosen"
        except UnknownDrugError as exc:
            raise ValidationError([Problem("drug", str(exc))]) from None
    oral = [d for d in record.valid_doses
            if d.route == "PO" and d.frequency != "ONCE" and d.start_date <= today]
    taken_today = [d for d in oral if d.end_date is None or d.end_date >= today]
    chosen = max(taken_today or oral, key=lambda d: (d.start_date, d.id), default=None)
    if chosen is not None:
        return chosen.drug, "current oral record"
    return DEFAULT_DRUG, "default"


def make_calendar(study: StudyInfo, record: PatientRecord, first_date: date, weeks: int,
                  drug: str, drug_from: str) -> DosingCalendar:
    """The calendar of ``record``'s stored schedule (after its amendments)."""
    factor = study.equivalence.factor(drug)
    strengths = study.protocol.tablet_strengths(drug)
    calendar = build_calendar(record.steps, record.baseline_mg, record.day1_date, first_date,
                              7 * weeks, drug, factor, strengths)
    return DosingCalendar(
        subject_id=record.subject_id, site=record.site, study=study.name, drug=drug,
        drug_from=drug_from, strengths=calendar.strengths, first_date=calendar.first_date,
        last_date=calendar.last_date, weeks=weeks, schedule_version=schedule_version(record),
        patient_version=record.version, lines=_lines(calendar))


def _lines(calendar: Calendar) -> tuple[CalendarLine, ...]:
    return tuple(CalendarLine(
        date=d.date, study_day=d.study_day, scheduled_peq_mg=d.scheduled_peq_mg,
        dose_mg=d.dose_mg if not d.none else Decimal(0), times=0 if d.none else d.times,
        tablets=d.tablets.text() if d.tablets is not None and not d.none else "",
        tablet_words=tuple(d.tablets.words()) if d.tablets is not None else (),
        new_dose=d.new_dose, none=d.none, ask_nurse=not d.none and d.tablets is None,
        note=d.note(), every=d.every, exact=d.exact) for d in calendar.days)


def _check_period(first_date: date | None, weeks: int, today: date) -> date:
    if isinstance(weeks, bool) or not isinstance(weeks, int) or not 1 <= weeks <= MAX_WEEKS:
        raise ValidationError([Problem("weeks", f"{weeks!r} is not a number of weeks from 1 "
                                                f"to {MAX_WEEKS}")])
    first = today if first_date is None else first_date
    if first.year < 1900:
        raise ValidationError([Problem("from", f"{first.isoformat()} is before 1900")])
    return first


def _read(ctx: ServiceContext, subject_id: str) -> tuple[StudyInfo, PatientRecord]:
    study = load_study(ctx.db)
    with UnitOfWork(ctx.db, write=False) as uow:
        record = load_patient(uow.session, subject_id)
    ctx.actor.require_site(record.site)
    return study, record


def dosing_calendar(ctx: ServiceContext, subject_id: str, first_date: date | None = None,
                    weeks: int = DEFAULT_WEEKS, drug: str | None = None) -> DosingCalendar:
    """The patient's calendar from ``first_date`` (default today) for ``weeks`` weeks, of
    ``drug`` (default: the current oral record's drug, else prednisone). Reading only."""
    first = _check_period(first_date, weeks, ctx.today())
    study, record = _read(ctx, subject_id)
    name, why = calendar_drug(record, study, ctx.today(), drug)
    return make_calendar(study, record, first, weeks, name, why)


@dataclass(frozen=True)
class CalendarPrintout:
    """A printed calendar: its days, the PDF (bytes), the CSV text, the data fingerprint."""

    calendar: DosingCalendar
    pdf: bytes
    pages: int
    csv: str
    fingerprint: str


def calendar_payload(calendar: DosingCalendar) -> dict[str, object]:
    """What the sheet's fingerprint covers: the identification and every day as printed."""
    return {"format": 1, "report": "dosing_calendar", "study": calendar.study,
            "subject_id": calendar.subject_id, "site": calendar.site, "drug": calendar.drug,
            "strengths_mg": [format_exact_mg(s) for s in calendar.strengths],
            "schedule_version": calendar.schedule_version,
            "days": [{"date": line.date.isoformat(), "study_day": line.study_day,
                      "scheduled_peq_mg": f"{line.scheduled_peq_mg:f}",
                      "dose_mg": f"{line.dose_mg:f}", "tablets": line.tablets,
                      "note": line.note} for line in calendar.lines]}


@saving("print a dosing calendar")
def print_dosing_calendar(ctx: ServiceContext, subject_id: str, first_date: date | None = None,
                          weeks: int = DEFAULT_WEEKS, drug: str | None = None, *,
                          patient_version: int | None = None) -> CalendarPrintout:
    """The calendar as a PDF and CSV; the audit trail records who printed which dates.

    With ``patient_version`` (what a preview showed), a schedule changed since is refused
    (``StaleData``): what is printed is what the nurse saw.
    """
    from ..reports.calendar_sheet import build_calendar_pdf, calendar_csv
    from .patients import lock_patient
    from .reporting import fingerprint

    first = _check_period(first_date, weeks, ctx.today())
    head = head_of(ctx.db)
    study, record = _read(ctx, subject_id)
    stale = StaleData(f"{subject_id} was changed since the calendar was shown (another "
                      "window or user). Nothing was printed: look at the new calendar, then "
                      "print again.")
    if patient_version is not None and record.version != patient_version:
        raise stale
    name, why = calendar_drug(record, study, ctx.today(), drug)
    calendar = make_calendar(study, record, first, weeks, name, why)
    digest = fingerprint(calendar_payload(calendar))
    # The sheet is built outside the writing transaction (it takes a moment); the audit row
    # is written only if the patient is still as the sheet shows them.
    built = build_calendar_pdf(calendar, printed_at=ctx.clock(), printed_on=ctx.today(),
                               fingerprint=digest, app_version=__version__, audit_head=head)
    asked = calendar.days_to_ask
    with UnitOfWork(ctx.db) as uow:
        try:
            lock_patient(uow.session, ctx.actor, subject_id=subject_id,
                         expected_version=record.version)
        except StaleData:
            raise stale from None
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        audit.add("print_calendar", "patient", subject_id, "dosing_calendar", None,
                  f"{calendar.first_date.isoformat()} to {calendar.last_date.isoformat()}, "
                  f"{calendar.drug}, schedule {calendar.schedule_version}"
                  + (f"; {len(asked)} day(s) say '{ASK_NURSE}'" if asked else "")
                  + f"; sha256 {digest}", subject_id=subject_id)
        uow.commit()
    return CalendarPrintout(calendar, built.pdf, built.pages, calendar_csv(calendar), digest)


@dataclass(frozen=True)
class PrintedCalendar:
    """A calendar printed for the patient, as the audit trail has it (newest first)."""

    first_date: date
    last_date: date
    drug: str
    printed_by: str
    printed_at_utc: str
    #: The schedule version printed on it: if it is not the current one, the sheet's doses
    #: are not the ones the window pre-fills.
    schedule_version: str = ""

    @property
    def weeks(self) -> int:
        return ((self.last_date - self.first_date).days + 1) // 7


_PRINTED = re.compile(r"^(\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2}), ([a-z]+), "
                      r"schedule (.*?)(?:; \d+ day\(s\) say|; sha256 )")


def printed_calendars(ctx: ServiceContext, subject_id: str) -> list[PrintedCalendar]:
    """The patient's printed calendars, newest first: the returned one is usually the
    last, and the nurse enters it for the dates it was printed for."""
    with UnitOfWork(ctx.db, write=False) as uow:
        record = load_patient(uow.session, subject_id)
        ctx.actor.require_site(record.site)
        rows = uow.session.execute(select(AuditEntry.new_value, AuditEntry.username,
                                          AuditEntry.at_utc).where(
            AuditEntry.action == "print_calendar", AuditEntry.entity == "patient",
            AuditEntry.entity_id == subject_id).order_by(AuditEntry.id.desc())).all()
    out = []
    for value, username, at_utc in rows:
        found = _PRINTED.match(value or "")
        if found is not None:
            out.append(PrintedCalendar(date.fromisoformat(found[1]),
                                       date.fromisoformat(found[2]), found[3], username,
                                       at_utc, found[4]))
    return out


# ---------------------------------------------------------------- the diary back in

@dataclass(frozen=True)
class ReturnedDay:
    """One day of a returned calendar as the nurse read it.

    ``taken_mg`` is the mg of the calendar's drug taken that day (0: none); None when the
    day was not ticked nor written on: the day stays missing.
    """

    date: date
    taken_mg: Decimal | None
    reason: str = ""


@dataclass(frozen=True)
class PlannedRecord:
    """A dose record the returned days make (consecutive equal days together)."""

    drug: str
    dose_mg: Decimal
    frequency: str
    start_date: date
    end_date: date
    days: int
    differs_from_schedule: bool
    reason: str


@dataclass(frozen=True)
class ReturnedCalendarPlan:
    """What saving the returned days would write, and what stops it."""

    records: tuple[PlannedRecord, ...]
    missing_days: tuple[date, ...]
    #: Valid records (ids) with no end date that started before the first day and would be
    #: closed the day before it.
    closes_record_ids: tuple[int, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ReturnedCalendarSaved:
    record_ids: tuple[int, ...]
    closed_record_ids: tuple[int, ...]
    missing_days: tuple[date, ...]


def _printed_lines(calendar: DosingCalendar) -> dict[date, CalendarLine]:
    return {line.date: line for line in calendar.lines}


def prefilled_days(calendar: DosingCalendar) -> list[ReturnedDay]:
    """Each day of the calendar with its printed dose, as the nurse starts from them (a day
    whose dose cannot be given exactly starts empty: the nurse types what was taken)."""
    return [ReturnedDay(line.date, line.dose_mg if line.exact else None)
            for line in calendar.lines]


def _as_printed(d: ReturnedDay, line: CalendarLine) -> bool:
    return d.taken_mg is not None and line.exact and d.taken_mg == line.dose_mg


def plan_returned_calendar(study: StudyInfo, record: PatientRecord, calendar: DosingCalendar,
                           days: Sequence[ReturnedDay], today: date,
                           close_ongoing: bool = True) -> ReturnedCalendarPlan:
    """The dose records the returned days make, checked; nothing is written.

    Consecutive days with the same dose (and reason) become one daily record. Days taken as
    printed on an every-other-day stretch (the dose on its days, none between) become one
    QOD record: the figures count it as half the dose each day, exactly as they count the
    schedule. Days left empty stay missing. ``close_ongoing``: a valid record with no end
    date that started before the first day ends the day before it.
    """
    problems: list[Problem] = []
    printed = _printed_lines(calendar)
    ordered = sorted(days, key=lambda d: d.date)
    dates = [d.date for d in ordered]
    if len(set(dates)) != len(dates):
        problems.append(Problem("days", "a day is given twice"))
    factor = study.equivalence.factor(calendar.drug)
    tolerance = float(study.protocol.settings.tolerance_mg) + MG_COMPARE
    for d in ordered:
        where = d.date.isoformat()
        if d.date not in printed:
            problems.append(Problem(where, f"{where} is not on this calendar"))
        elif d.date > today and d.taken_mg is not None:
            problems.append(Problem(where, f"{where} is in the future (today is "
                                           f"{today.isoformat()}): leave it empty"))
        if d.taken_mg is not None and d.taken_mg < 0:
            problems.append(Problem(where, "a dose cannot be negative"))
        elif d.taken_mg is not None and Fraction(d.taken_mg) * factor > MAX_DAILY_PEQ_MG:
            problems.append(Problem(where, f"{d.taken_mg} mg {calendar.drug} is over "
                                           f"{MAX_DAILY_PEQ_MG:,} mg prednisone-equivalent in "
                                           "one day; not plausible"))
    if problems:
        return ReturnedCalendarPlan((), (), (), tuple(problems))

    def qod_as_printed(d: ReturnedDay) -> bool:
        line = printed[d.date]
        return line.every == 2 and _as_printed(d, line)

    def differs(d: ReturnedDay) -> bool:
        if d.taken_mg is None or qod_as_printed(d):
            return False
        peq = float(Fraction(d.taken_mg) * factor)
        return abs(peq - float(printed[d.date].scheduled_peq_mg)) > tolerance

    for d in ordered:
        if differs(d) and not d.reason.strip():
            problems.append(Problem(d.date.isoformat(), "differs from the calendar's dose: "
                                                        "a reason is required"))
        problems += check_length(d.reason, d.date.isoformat())
    records: list[PlannedRecord] = []
    i, n = 0, len(ordered)
    while i < n:
        d = ordered[i]
        if d.taken_mg is None:
            i += 1
            continue
        j = i + 1

        def follows(k: int) -> bool:
            return ordered[k].date == ordered[k - 1].date + timedelta(days=1) and \
                ordered[k].taken_mg is not None

        if qod_as_printed(d):
            # One step's every-other-day stretch, taken as printed (a new step starts anew).
            while j < n and follows(j) and qod_as_printed(ordered[j]) \
                    and not printed[ordered[j].date].new_dose:
                j += 1
            run = ordered[i:j]
            dose = next(printed[r.date].dose_mg for r in run if not printed[r.date].none) \
                if any(not printed[r.date].none for r in run) else \
                _qod_dose(calendar, printed[d.date])
            records.append(PlannedRecord(calendar.drug, dose, "QOD", run[0].date, run[-1].date,
                                         len(run), False, ""))
        else:
            while j < n and follows(j) and not qod_as_printed(ordered[j]) \
                    and ordered[j].taken_mg == d.taken_mg \
                    and ordered[j].reason.strip() == d.reason.strip():
                j += 1
            run = ordered[i:j]
            assert d.taken_mg is not None
            records.append(PlannedRecord(calendar.drug, d.taken_mg, "QD", run[0].date,
                                         run[-1].date, len(run), any(differs(r) for r in run),
                                         d.reason.strip()))
        i = j
    missing = tuple(d.date for d in ordered if d.taken_mg is None and d.date <= today)
    first_day = ordered[0].date if ordered else None
    closes = [] if not close_ongoing or first_day is None else sorted(
        d.id for d in record.valid_doses
        if d.end_date is None and d.frequency != "ONCE" and d.start_date < first_day)
    taken = [d.date for d in ordered if d.taken_mg is not None]
    for stored in record.valid_doses:
        if stored.id in closes or stored.frequency == "ONCE":
            continue  # a pulse (ONCE) comes on top of the daily dose
        end = stored.end_date or today
        overlap = [t for t in taken if stored.start_date <= t <= end]
        if overlap:
            problems.append(Problem("days", f"{overlap[0].isoformat()} already has a dose "
                                    f"record ({format_exact_mg(stored.dose_mg)} mg "
                                    f"{stored.drug} {stored.frequency} from "
                                    f"{stored.start_date.isoformat()}); correct or void it "
                                    "first, or leave those days empty"))
    return ReturnedCalendarPlan(tuple(records), missing, tuple(closes), tuple(problems))


def _qod_dose(calendar: DosingCalendar, line: CalendarLine) -> Decimal:
    """The dose of the every-other-day step ``line`` is in, from its taken days."""
    for other in calendar.lines:
        if other.every == 2 and not other.none and other.scheduled_peq_mg == \
                line.scheduled_peq_mg:
            return other.dose_mg
    return line.scheduled_peq_mg * 2


@saving("enter a returned calendar")
def enter_returned_calendar(ctx: ServiceContext, subject_id: str, first_date: date,
                            weeks: int, drug: str | None, days: list[ReturnedDay], *,
                            close_ongoing: bool = True,
                            patient_version: int | None = None) -> ReturnedCalendarSaved:
    """Save a returned calendar's days as dose records from the patient's diary, in one
    transaction (see :func:`plan_returned_calendar`); days left empty stay missing."""
    from .patients import add_dose_in_session, lock_patient, over_daily_limit, touch

    ctx.actor.require("record_dose")
    first = _check_period(first_date, weeks, ctx.today())
    study = load_study(ctx.db)
    with UnitOfWork(ctx.db) as uow:
        patient = lock_patient(uow.session, ctx.actor, subject_id=subject_id,
                               expected_version=patient_version)
        record = load_patient(uow.session, subject_id)
        name, why = calendar_drug(record, study, ctx.today(), drug)
        calendar = make_calendar(study, record, first, weeks, name, why)
        plan = plan_returned_calendar(study, record, calendar, days, ctx.today(), close_ongoing)
        if plan.problems:
            raise ValidationError(list(plan.problems))
        if not plan.records:
            raise ServiceError("No day of the calendar has a dose taken: nothing to save "
                               "(days left empty stay missing).")
        touch(patient)
        audit = AuditTrail(uow.session, ctx.actor.username, ctx.clock)
        first_day = min(d.date for d in days)
        for row_id in plan.closes_record_ids:
            row = uow.session.get(DoseRecordRow, row_id, with_for_update=True)
            assert row is not None and row.end_date is None and row.patient_id == patient.id
            row.end_date = first_day - timedelta(days=1)
            audit.add("close_dose", "dose_record", row.id, "end_date", None,
                      row.end_date.isoformat(), reason="closed when a returned dosing "
                      "calendar was entered", subject_id=subject_id)
        rows = []
        for planned in plan.records:
            dose = ValidDose(planned.drug, mg_to_ug(planned.dose_mg), planned.frequency, "PO",
                             planned.start_date, planned.end_date, "diary",
                             "from the returned dosing calendar",
                             planned.reason or None if planned.differs_from_schedule else None)
            rows.append(add_dose_in_session(uow.session, audit, patient, dose,
                                            ctx.actor.username, ctx.clock()))
        over = over_daily_limit(uow.session, study, patient, rows, ctx.today())
        if over:
            raise ValidationError([Problem(r.start_date.isoformat(), over[r.id])
                                   for r in rows if r.id in over])
        uow.commit()
        return ReturnedCalendarSaved(tuple(r.id for r in rows), plan.closes_record_ids,
                                     plan.missing_days)


__all__ = [
    "CalendarLine",
    "CalendarPrintout",
    "DosingCalendar",
    "PrintedCalendar",
    "ReturnedCalendarPlan",
    "ReturnedCalendarSaved",
    "ReturnedDay",
    "dosing_calendar",
    "enter_returned_calendar",
    "plan_returned_calendar",
    "prefilled_days",
    "print_dosing_calendar",
    "printed_calendars",
]
