"""The patient list's triage: today's state first, every flag that applies, the target
apart (a patient who met it can still be above today, missing days or need signing)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from taper_app.results import TRIAGE_FLAGS, SignatureState
from taper_app.services.context import ServiceContext
from taper_app.services.figures import analyse_all
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.signatures import sign_record
from taper_app.services.triage import Entry, last_entry_date, pulse_on, triage_all, triage_flags
from tests.conftest import PASSWORD, TODAY

DAY1 = TODAY - timedelta(days=199)  # TODAY is Day 200: the target day (183) has passed
DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO", "source": "clinic"}


def enroll(ctx, study, subject, day1=DAY1):
    enroll_patient(ctx, study, {"subject_id": subject, "site": "101",
                                "day1_date": day1.isoformat(), "baseline_mg": "20",
                                "template_id": "stepdown-a"})


def dose(ctx, study, subject, mg, start, end=None, **extra):
    return record_dose(ctx, study, subject, {
        **DOSE, "dose_mg": mg, "start_date": start.isoformat(),
        "end_date": end.isoformat() if end else "", **extra}).record_id


def triaged(db, study, as_of=TODAY):
    analyses = analyse_all(db, study, as_of)
    return {a.record.subject_id: t for a, t in zip(analyses, triage_all(db, analyses),
                                                  strict=True)}


def test_meeting_the_target_never_hides_a_pulse_a_gap_or_a_signature(nurse, study):
    enroll(nurse, study, "101-001")
    dose(nurse, study, "101-001", "20", DAY1, DAY1 + timedelta(days=27))
    dose(nurse, study, "101-001", "5", DAY1 + timedelta(days=28), TODAY - timedelta(days=30),
         deviation_reason="faster taper agreed")
    dose(nurse, study, "101-001", "5", TODAY - timedelta(days=5),  # 24 missing days
         deviation_reason="faster taper agreed")
    dose(nurse, study, "101-001", "500", TODAY, drug="methylprednisolone", frequency="ONCE",
         route="IV")
    [t] = triaged(nurse.db, study).values()
    assert t.target_status == "met"
    assert t.flags == ("above", "missing", "pulse", "signature")
    assert t.badge == "above"
    assert (t.missing_days, t.pulse_today, t.days_needing_reason) == (24, True, 0)


def test_deviation_days_need_a_reason_unless_a_record_gives_one(nurse, study):
    enroll(nurse, study, "101-001")
    dose(nurse, study, "101-001", "20", DAY1, DAY1 + timedelta(days=27))
    dose(nurse, study, "101-001", "16", DAY1 + timedelta(days=28))  # no reason, above later
    t = triaged(nurse.db, study)["101-001"]
    assert "reason" in t.flags and t.days_needing_reason > 0
    assert not t.pulse_today and t.missing_days == 0


def test_missing_finds_every_patient_with_a_gap(nurse, study):
    """Of ten patients, those with any day missing (today, in the middle, or no record at
    all) are flagged; a gap-free one is not, whatever today's state."""
    for i in range(10):
        subject = f"101-{i:03d}"
        enroll(nurse, study, subject)
        if i == 0:
            continue  # nothing entered yet
        gap = timedelta(days=3) if i % 3 == 0 else timedelta(days=0)
        dose(nurse, study, subject, "20", DAY1, DAY1 + timedelta(days=27))
        dose(nurse, study, subject, "15", DAY1 + timedelta(days=28) + gap,
             TODAY - timedelta(days=i % 2))  # odd subjects: today missing
    found = triaged(nurse.db, study)
    with_gaps = {s for s, t in found.items() if "missing" in t.flags}
    assert with_gaps == {s for s, t in found.items() if t.missing_days > 0}
    assert with_gaps == {"101-000", "101-001", "101-003", "101-005", "101-006", "101-007",
                         "101-009"}
    assert found["101-000"].last_entry is None
    assert found["101-002"].last_entry == date(2026, 7, 2)


def test_a_signed_record_needs_signing_again_after_new_data(nurse, investigator, study):
    enroll(nurse, study, "101-001")
    dose(nurse, study, "101-001", "20", DAY1, TODAY - timedelta(days=10))
    sign_record(investigator, "101-001", TODAY - timedelta(days=10), "reviewed", PASSWORD)
    assert "signature" not in triaged(nurse.db, study)["101-001"].flags
    dose(nurse, study, "101-001", "20", TODAY - timedelta(days=9))
    t = triaged(nurse.db, study)["101-001"]
    assert "signature" in t.flags and t.signature.state == "new_data"


def test_the_flags_follow_one_order():
    unsigned = SignatureState("unsigned")
    signed = SignatureState("signed")
    assert triage_flags("above", 3, True, 2, unsigned) == TRIAGE_FLAGS[:1] + TRIAGE_FLAGS[2:]
    assert triage_flags("below", 0, False, 0, signed) == ("below",)
    assert triage_flags("missing", 1, False, 0, signed) == ("missing",)
    assert triage_flags("on_schedule", 0, False, 0, signed) == ()


def test_a_pulse_is_a_one_off_or_an_iv_or_im_record_on_the_day():
    day = date(2026, 7, 2)
    at = datetime(2026, 7, 2, 9, 0)

    def entry(start, end, frequency="QD", route="PO", voided=False):
        return Entry(start, end, frequency, route, False, at, voided)

    assert pulse_on([entry(day, None, "ONCE", "IV")], day)
    assert not pulse_on([entry(day - timedelta(days=1), None, "ONCE", "IV")], day)
    assert pulse_on([entry(day - timedelta(days=2), day, "QD", "IV")], day)
    assert not pulse_on([entry(day, None, "ONCE", "IV", voided=True)], day)
    assert not pulse_on([entry(day - timedelta(days=9), None)], day)
    assert last_entry_date(at + timedelta(days=3)) == date(2026, 7, 5)
    assert last_entry_date("2026-07-05 09:00:00.000000") == date(2026, 7, 5)
    assert last_entry_date(None) is None


def test_the_last_entry_counts_voided_records_too(nurse, study):
    from taper_app.services.patients import void_dose

    enroll(nurse, study, "101-001")
    wrong = dose(nurse, study, "101-001", "20", DAY1)
    later = ServiceContext(nurse.db, nurse.actor, lambda: datetime(2026, 7, 9, 8, 0,
                                                                     tzinfo=UTC),
                           nurse.today)
    record_dose(later, study, "101-001", {**DOSE, "dose_mg": "20",
                                          "start_date": DAY1.isoformat(), "end_date": ""})
    void_dose(nurse, wrong, "entered twice")
    assert triaged(nurse.db, study)["101-001"].last_entry == date(2026, 7, 9)
