"""The dosing calendar's use cases on a real database: from the stored schedule (after
amendments), the drug, printing audited, the PDF read back, and the diary taken back in."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from taper_app.domain.studyday import date_of_day
from taper_app.reports.calendar_sheet import CSV_COLUMNS, dose_words, short_date, tablet_words
from taper_app.services.auth import Actor
from taper_app.services.calendar import (
    ReturnedDay,
    dosing_calendar,
    enter_returned_calendar,
    plan_returned_calendar,
    prefilled_days,
    print_dosing_calendar,
)
from taper_app.services.context import ServiceContext
from taper_app.services.errors import (
    PermissionDenied,
    ServiceError,
    StaleData,
    ValidationError,
)
from taper_app.services.figures import analyse_patient, summary
from taper_app.services.patients import amend_patient_schedule, enroll_patient, record_dose
from taper_app.services.records import load_patient
from taper_app.services.study import add_user
from taper_app.storage.models import AuditEntry, DoseRecordRow
from taper_app.storage.uow import UnitOfWork
from tests.conftest import TODAY, fixed_clock

D = Decimal
QD_PO = {"frequency": "QD", "route": "PO", "source": "clinic"}


def enroll(ctx, study, subject="101-001", day1="2026-05-01", template="table-12wk",
           baseline="20", site="101") -> None:
    enroll_patient(ctx, study, {"subject_id": subject, "site": site, "day1_date": day1,
                                "baseline_mg": baseline, "template_id": template})


def figures_scheduled(db, study, subject: str, through: date) -> dict[date, float]:
    """S(d) of every day Day 1..``through`` as the figures (the window, summary) have it."""
    analysis = analyse_patient(db, study, subject, through)
    day1 = analysis.record.day1_date
    return {date_of_day(int(day), day1): float(s)
            for day, s in zip(analysis.curves.study_days, analysis.curves.scheduled,
                              strict=True)}


# ---------------------------------------------------------------- from the stored schedule

@pytest.mark.parametrize("template", ["stepdown-a", "stepdown-slow", "table-12wk",
                                      "fraction-26wk"])
def test_the_calendar_and_the_figures_agree_on_every_day(db, study, nurse, investigator,
                                                         template):
    enroll(nurse, study, day1="2026-01-05", template=template)
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "60", "dose_mg": "17.5", "reason": "flare"})
    cal = dosing_calendar(nurse, "101-001", date(2026, 1, 5), 26)
    s = figures_scheduled(db, study, "101-001", cal.last_date)
    assert [line.date for line in cal.lines] == sorted(s)
    for line in cal.lines:
        assert float(line.scheduled_peq_mg) == pytest.approx(s[line.date], abs=1e-9), line
        if line.every == 1:
            assert line.dose_mg == line.scheduled_peq_mg  # prednisone: factor 1
        else:
            assert line.dose_mg == (2 * line.scheduled_peq_mg if not line.none else 0)
    assert cal.schedule_version.startswith("change 1, from Day 60")


def test_the_calendar_follows_an_amendment_at_once(db, study, nurse, investigator):
    enroll(nurse, study)  # Day 1 2026-05-01: today is Day 63, the QOD step starts on Day 71
    before = dosing_calendar(nurse, "101-001")
    assert (before.first_date, before.last_date, before.weeks) == (TODAY, TODAY + timedelta(
        days=27), 4)
    assert [(line.study_day, line.dose_mg, line.new_dose) for line in before.lines[7:10]] == [
        (70, 10, False), (71, 5, True), (72, 0, False)]
    assert before.lines[9].none and before.lines[9].tablets == ""
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "66", "dose_mg": "12.5", "reason": "flare"})
    after = dosing_calendar(nurse, "101-001")
    assert [(line.study_day, line.dose_mg, line.tablets) for line in after.lines[2:5]] == [
        (65, 10, "1 x 10 mg"), (66, D("12.5"), "1 x 10 mg + 1 x 2.5 mg"),
        (67, D("12.5"), "1 x 10 mg + 1 x 2.5 mg")]
    assert after.lines[3].new_dose
    # the table resumes below 12.5: its QOD row still on Day 71
    assert (after.lines[8].study_day, after.lines[8].dose_mg, after.lines[8].every) == (71, 5, 2)
    assert after.patient_version == before.patient_version + 1


def test_the_drug_is_chosen_or_the_current_oral_one_or_prednisone(nurse, study):
    enroll(nurse, study)
    cal = dosing_calendar(nurse, "101-001")
    assert (cal.drug, cal.drug_from) == ("prednisone", "default")
    record_dose(nurse, study, "101-001", {**QD_PO, "drug": "prednisone", "dose_mg": "20",
                                          "start_date": "2026-05-01", "end_date": "2026-06-01"})
    record_dose(nurse, study, "101-001", {**QD_PO, "drug": "Methylprednisolone",
                                          "dose_mg": "8", "start_date": "2026-06-02"})
    record_dose(nurse, study, "101-001", {**QD_PO, "drug": "methylprednisolone",
                                          "dose_mg": "40", "route": "IV", "frequency": "ONCE",
                                          "start_date": "2026-06-20"})
    cal = dosing_calendar(nurse, "101-001")
    assert (cal.drug, cal.drug_from) == ("methylprednisolone", "current oral record")
    assert cal.strengths == (32, 16, 8, 4, 2)
    assert (cal.lines[0].dose_mg, cal.lines[0].tablets) == (8, "1 x 8 mg")   # 10 mg PEQ
    # every other day 5 mg PEQ is 4 mg methylprednisolone
    assert (cal.lines[8].dose_mg, cal.lines[8].tablets) == (4, "1 x 4 mg")
    chosen = dosing_calendar(nurse, "101-001", drug=" DEXAMETHASONE ")
    assert (chosen.drug, chosen.drug_from) == ("dexamethasone", "chosen")
    assert (chosen.lines[0].dose_mg, chosen.lines[0].tablets) == (D("1.5"), "1 x 1.5 mg")
    assert chosen.lines[8].dose_mg == D("0.75")
    with pytest.raises(ValidationError) as refused:
        dosing_calendar(nurse, "101-001", drug="aspirin")
    assert refused.value.for_field("drug")


def test_a_dose_no_tablets_make_is_listed_for_the_window_to_warn(nurse, study, investigator):
    enroll(nurse, study, template="stepdown-a")
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "64", "dose_mg": "0.5", "reason": "taper end"})
    cal = dosing_calendar(nurse, "101-001", weeks=1)
    assert cal.days_to_ask == tuple(TODAY + timedelta(days=i) for i in range(1, 7))
    line = cal.lines[1]
    assert (line.dose_mg, line.tablets, line.ask_nurse) == (D("0.5"), "", True)
    assert line.note == "new dose from today; ask your study nurse: no tablets make this " \
                        "dose exactly"


@pytest.mark.parametrize("weeks", [0, 27, -1, True])
def test_weeks_are_checked(nurse, study, weeks):
    enroll(nurse, study)
    with pytest.raises(ValidationError) as refused:
        dosing_calendar(nurse, "101-001", weeks=weeks)
    assert refused.value.for_field("weeks")


def test_a_site_bound_user_sees_only_her_sites_calendars(db, admin, nurse, study):
    enroll(nurse, study, subject="102-001", site="102")
    add_user(admin, "nurse101", "nurse", "Site Nurse", "correct-horse-battery", sites=["101"])
    ctx = ServiceContext(db, Actor("nurse101", "Site Nurse", "nurse", False,
                                   frozenset({"101"})), fixed_clock, lambda: TODAY)
    with pytest.raises(PermissionDenied):
        dosing_calendar(ctx, "102-001")
    with pytest.raises(PermissionDenied):
        print_dosing_calendar(ctx, "102-001")


# ---------------------------------------------------------------- printing

def audit_rows(db, action: str) -> list[AuditEntry]:
    with UnitOfWork(db, write=False) as uow:
        rows = list(uow.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        uow.session.expunge_all()  # plain values to look at after the unit of work
        return rows


def test_printing_is_audited_with_who_and_which_dates(db, nurse, study):
    enroll(nurse, study)
    printout = print_dosing_calendar(nurse, "101-001", date(2026, 7, 6), 2)
    (row,) = audit_rows(db, "print_calendar")
    assert (row.username, row.entity, row.entity_id, row.subject_id) == (
        "nurse", "patient", "101-001", "101-001")
    assert row.new_value.startswith("2026-07-06 to 2026-07-19, prednisone, schedule as at "
                                    "enrolment (no changes)")
    assert row.new_value.endswith(f"sha256 {printout.fingerprint}")
    assert row.at_utc == "2026-07-02T14:30:00.000000Z"


def test_a_calendar_changed_since_its_preview_is_not_printed(db, nurse, investigator, study):
    enroll(nurse, study)
    preview = dosing_calendar(nurse, "101-001")
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "66", "dose_mg": "12.5", "reason": "flare"})
    with pytest.raises(StaleData):
        print_dosing_calendar(nurse, "101-001", patient_version=preview.patient_version)
    assert audit_rows(db, "print_calendar") == []
    fresh = dosing_calendar(nurse, "101-001")
    assert print_dosing_calendar(nurse, "101-001", patient_version=fresh.patient_version).pages


def layout_lines(pdf: bytes) -> list[list[str]]:
    return [[" ".join(line.split()) for line in page.extract_text(
        extraction_mode="layout").splitlines()] for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_pdf_has_each_days_line_and_the_subject_on_every_page(nurse, study, investigator):
    enroll(nurse, study)
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "80", "dose_mg": "0.5", "reason": "ask"})
    printout = print_dosing_calendar(nurse, "101-001", weeks=6)
    pages = layout_lines(printout.pdf)
    assert len(pages) == printout.pages >= 3
    for page in pages:
        # The header's labels and values (pypdf's layout mode spaces them by version).
        assert page[0].replace(" ", "") == "Subject101-001Site101"
        assert any("bring this sheet to your next visit" in line for line in page)
        assert page[-1].endswith(f"Page {pages.index(page) + 1} of {len(pages)}")
    every_line = [line for page in pages for line in page]
    for day in printout.calendar.lines:
        expected = " ".join([short_date(day.date), str(day.study_day),
                             dose_words(day, printout.calendar.drug),
                             tablet_words(day)[0]])
        assert sum(line.startswith(expected) for line in every_line) == 1, (expected, [
            x for x in every_line if x.startswith(short_date(day.date))])
    text = " ".join(" ".join(every_line).split())
    assert "Bring this sheet to your next visit." in text
    assert "Schedule version: change 1, from Day 80 (made 2026-07-02)" in text
    assert "Printed on Thursday 2 July 2026" in text
    assert "ask your study nurse what to take on those days" in text
    assert "New dose" in text


def test_the_csv_has_the_columns_of_interfaces_md(nurse, study):
    enroll(nurse, study)
    printout = print_dosing_calendar(nurse, "101-001", weeks=2)
    rows = list(csv.reader(io.StringIO(printout.csv)))
    assert tuple(rows[0]) == CSV_COLUMNS == ("date", "study_day", "scheduled_peq_mg", "drug",
                                             "dose_mg", "tablets", "note")
    assert rows[1] == ["2026-07-02", "63", "10", "prednisone", "10", "1 x 10 mg", ""]
    assert rows[9] == ["2026-07-10", "71", "2.5", "prednisone", "5", "1 x 5 mg",
                       "new dose from today; every other day"]
    assert rows[10] == ["2026-07-11", "72", "2.5", "prednisone", "0", "", "none today"]
    assert len(rows) == 15


# ---------------------------------------------------------------- the diary back in

@pytest.fixture
def returned(nurse, study):
    """Day 1 2026-04-01: a calendar from 2026-06-04 (Day 65) for 4 weeks, all in the past;
    10 mg a day to Day 70, then 5 mg every other day from Day 71 (2026-06-10)."""
    enroll(nurse, study, day1="2026-04-01")
    record_dose(nurse, study, "101-001", {**QD_PO, "drug": "prednisone", "dose_mg": "10",
                                          "start_date": "2026-05-01"})  # ongoing
    return dosing_calendar(nurse, "101-001", date(2026, 6, 4), 4)


def valid_records(db, subject="101-001"):
    with UnitOfWork(db, write=False) as uow:
        return [d for d in load_patient(uow.session, subject).valid_doses]


def test_a_calendar_taken_as_printed_is_two_records(db, nurse, study, returned):
    days = prefilled_days(returned)
    saved = enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 4, None, days,
                                    patient_version=returned.patient_version)
    assert len(saved.record_ids) == 2 and saved.missing_days == ()
    records = valid_records(db)
    assert [(d.dose_mg, d.frequency, d.start_date, d.end_date, d.source) for d in records] == [
        (10, "QD", date(2026, 5, 1), date(2026, 6, 3), "clinic"),  # the ongoing one, closed
        (10, "QD", date(2026, 6, 4), date(2026, 6, 9), "diary"),
        (5, "QOD", date(2026, 6, 10), date(2026, 7, 1), "diary")]
    row = summary(db, study, date(2026, 7, 1), "101-001")[0]
    # below: Days 31-42 only, the fixture's 10 mg against 15 scheduled, before the calendar
    assert (row["deviation_days_above"], row["deviation_days_below"]) == (0, 12)
    assert row["actual_mg"] == row["scheduled_mg"] == 2.5


def test_only_the_days_that_differ_are_changed_and_missing_ticks_stay_missing(
        db, nurse, study, returned):
    days = {d.date: d for d in prefilled_days(returned)}
    days[date(2026, 6, 6)] = ReturnedDay(date(2026, 6, 6), D(15), "flare, took 15")
    days[date(2026, 6, 7)] = ReturnedDay(date(2026, 6, 7), D(15), "flare, took 15")
    days[date(2026, 6, 15)] = ReturnedDay(date(2026, 6, 15), None)   # not ticked
    days[date(2026, 6, 16)] = ReturnedDay(date(2026, 6, 16), None)
    plan = plan_returned_calendar(
        study, load_record(db), returned, list(days.values()), TODAY)
    assert plan.problems == ()
    assert [(p.dose_mg, p.frequency, p.start_date.day, p.end_date.day, p.differs_from_schedule,
             p.reason) for p in plan.records] == [
        (10, "QD", 4, 5, False, ""), (15, "QD", 6, 7, True, "flare, took 15"),
        (10, "QD", 8, 9, False, ""), (5, "QOD", 10, 14, False, ""),
        (5, "QOD", 17, 1, False, "")]
    # from the 17th to the calendar's last day, July 1: a month's end is not a step
    assert plan.records[-1].end_date == date(2026, 7, 1)
    saved = enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 4, "prednisone",
                                    list(days.values()))
    assert saved.missing_days == (date(2026, 6, 15), date(2026, 6, 16))
    row = summary(db, study, date(2026, 7, 1), "101-001")[0]
    assert row["missing_days"] == 30 + 2  # April (before the fixture's record) and the two
    assert row["deviation_days_above"] == 2


def load_record(db, subject="101-001"):
    with UnitOfWork(db, write=False) as uow:
        return load_patient(uow.session, subject)


def test_a_qod_day_taken_differently_breaks_the_stretch(db, nurse, study, returned):
    days = {d.date: d for d in prefilled_days(returned)}
    # 2026-06-11 is a day off (Day 72); the patient took 5 mg anyway
    days[date(2026, 6, 11)] = ReturnedDay(date(2026, 6, 11), D(5), "forgot it was a day off")
    plan = plan_returned_calendar(study, load_record(db), returned, list(days.values()), TODAY)
    assert plan.problems == ()
    assert [(p.dose_mg, p.frequency, p.start_date, p.end_date) for p in plan.records][1:4] == [
        (5, "QOD", date(2026, 6, 10), date(2026, 6, 10)),
        (5, "QD", date(2026, 6, 11), date(2026, 6, 11)),
        (5, "QOD", date(2026, 6, 12), date(2026, 7, 1))]


def test_a_day_that_differs_needs_a_reason_and_nothing_is_saved_without(db, nurse, study,
                                                                       returned):
    days = prefilled_days(returned)
    days[0] = ReturnedDay(days[0].date, D("7.5"))
    with pytest.raises(ValidationError) as refused:
        enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 4, None, days)
    assert refused.value.for_field("2026-06-04") == ["differs from the calendar's dose: a "
                                                     "reason is required"]
    assert len(valid_records(db)) == 1 and valid_records(db)[0].end_date is None


def test_days_already_recorded_are_refused_unless_left_empty(db, nurse, study, returned):
    record_dose(nurse, study, "101-001", {**QD_PO, "drug": "prednisone", "dose_mg": "40",
                                          "route": "IV", "frequency": "ONCE",
                                          "start_date": "2026-06-05"})  # a pulse: on top
    enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 1, None,
                            prefilled_days(dosing_calendar(nurse, "101-001", date(2026, 6, 4),
                                                           1)))
    again = prefilled_days(returned)
    with pytest.raises(ValidationError) as refused:
        enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 4, None, again)
    assert "2026-06-04 already has a dose record" in str(refused.value)
    only_new = [d if d.date > date(2026, 6, 10) else ReturnedDay(d.date, None) for d in again]
    saved = enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 4, None, only_new)
    assert len(saved.record_ids) == 1


def test_future_days_and_days_off_the_calendar_are_refused(db, nurse, study):
    enroll(nurse, study)
    cal = dosing_calendar(nurse, "101-001", date(2026, 6, 30), 1)
    days = prefilled_days(cal)
    with pytest.raises(ValidationError) as refused:
        enter_returned_calendar(nurse, "101-001", date(2026, 6, 30), 1, None, days)
    assert refused.value.for_field("2026-07-03")
    empty_future = [d if d.date <= TODAY else ReturnedDay(d.date, None) for d in days]
    saved = enter_returned_calendar(nurse, "101-001", date(2026, 6, 30), 1, None, empty_future)
    assert saved.missing_days == ()  # days after today are not missing yet
    with pytest.raises(ValidationError) as refused:
        enter_returned_calendar(nurse, "101-001", date(2026, 6, 30), 1, None,
                                [ReturnedDay(date(2026, 6, 1), D(10))])
    assert refused.value.for_field("2026-06-01") == ["2026-06-01 is not on this calendar"]


def test_an_empty_calendar_saves_nothing_and_monitors_cannot_enter_one(db, nurse, monitor,
                                                                       study, returned):
    empty = [ReturnedDay(line.date, None) for line in returned.lines]
    with pytest.raises(ServiceError, match="nothing to save"):
        enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 4, None, empty)
    with pytest.raises(PermissionDenied):
        enter_returned_calendar(monitor, "101-001", date(2026, 6, 4), 4, None,
                                prefilled_days(returned))
    assert len(valid_records(db)) == 1


def test_entering_a_returned_calendar_is_one_audited_transaction(db, nurse, study, returned):
    enter_returned_calendar(nurse, "101-001", date(2026, 6, 4), 4, None,
                            prefilled_days(returned))
    actions = [r.action for r in audit_rows(db, "close_dose") + audit_rows(db, "record_dose")]
    assert actions.count("close_dose") == 1
    # the fixture's ongoing record (six fields), then two records of eight fields each
    assert actions.count("record_dose") == 6 + 2 * 8
    with UnitOfWork(db, write=False) as uow:
        rows = uow.session.scalars(select(DoseRecordRow).where(
            DoseRecordRow.source == "diary")).all()
        assert {r.comment for r in rows} == {"from the returned dosing calendar"}
        assert {r.created_by for r in rows} == {"nurse"}


def test_printed_calendars_are_read_back_newest_first(db, nurse, investigator, study):
    from taper_app.services.calendar import printed_calendars

    enroll(nurse, study)
    print_dosing_calendar(nurse, "101-001", date(2026, 7, 6), 2)
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "80", "dose_mg": "0.5", "reason": "ask"})
    print_dosing_calendar(investigator, "101-001", date(2026, 7, 13), 3, "prednisolone")
    newest, older = printed_calendars(nurse, "101-001")
    assert (newest.first_date, newest.last_date, newest.weeks, newest.drug,
            newest.printed_by) == (date(2026, 7, 13), date(2026, 8, 2), 3, "prednisolone",
                                   "investigator")
    assert newest.schedule_version == "change 1, from Day 80 (made 2026-07-02)"
    assert (older.first_date, older.weeks, older.drug, older.schedule_version) == (
        date(2026, 7, 6), 2, "prednisone", "as at enrolment (no changes)")


def test_a_returned_days_reason_over_5000_characters_is_refused_at_its_date(
        db, nurse, study, returned):
    days = {d.date: d for d in prefilled_days(returned)}
    days[date(2026, 6, 6)] = ReturnedDay(date(2026, 6, 6), D(15), "f" * 5001)
    plan = plan_returned_calendar(study, load_record(db), returned, list(days.values()), TODAY)
    assert [(p.field, p.message[:30]) for p in plan.problems] == [
        ("2026-06-06", "is 5,001 characters long; at m")]
