"""Signatures people can keep: where each patient stands (the list's signature column),
which signatures a change would break (asked before saving), batch signing, and why a
signature no longer holds in plain words."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from taper_app.services.errors import AuthenticationFailed, StaleData, ValidationError
from taper_app.services.patients import amend_patient_schedule, enroll_patient, record_dose
from taper_app.services.records import load_patient
from taper_app.services.signatures import (
    sign_record,
    sign_records,
    signature_states,
    signatures_a_change_breaks,
    signatures_for,
)
from taper_app.storage.models import AuditEntry, Signature
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO"}
SUBJECTS = ("101-001", "101-002", "101-003")


@pytest.fixture
def patients(nurse, study):
    for subject in SUBJECTS:
        enroll_patient(nurse, study, {"subject_id": subject, "site": "101",
                                      "day1_date": "2026-03-01", "baseline_mg": "20",
                                      "template_id": "stepdown-a"})
        record_dose(nurse, study, subject, {**DOSE, "dose_mg": "20", "start_date": "2026-03-01",
                                            "end_date": "2026-03-28"})
        record_dose(nurse, study, subject, {**DOSE, "dose_mg": "16",
                                            "start_date": "2026-03-29"})
    return SUBJECTS


def states(db):
    with UnitOfWork(db, write=False) as uow:
        records = [load_patient(uow.session, s) for s in SUBJECTS]
    return signature_states(db, records)


def test_each_patient_is_unsigned_signed_changed_or_has_new_data(investigator, nurse, study,
                                                                  patients):
    assert {s.state for s in states(investigator.db).values()} == {"unsigned"}
    for subject in SUBJECTS:
        sign_record(investigator, subject, date(2026, 5, 31), "reviewed", PASSWORD)
    # 101-002: a backdated dose inside the signed period; 101-003: a dose after it.
    record_dose(nurse, study, "101-002", {**DOSE, "dose_mg": "18", "start_date": "2026-05-02",
                                          "end_date": "2026-05-02"})
    record_dose(nurse, study, "101-003", {**DOSE, "dose_mg": "13", "start_date": "2026-06-10"},
                close_ongoing=True)
    found = states(investigator.db)
    assert [found[s].state for s in SUBJECTS] == ["signed", "changed", "new_data"]
    assert not found["101-001"].needs_signature
    assert found["101-002"].needs_signature and found["101-003"].needs_signature
    assert found["101-002"].why == (
        "signed through 2026-05-31 by Investigator Example, no longer valid: Dose of "
        "2026-05-02 (prednisone 18 mg QD) added by Nurse Example on 2026-07-02 14:30 UTC")
    assert found["101-003"].why.endswith("doses from 2026-06-10 are not signed yet")
    assert found["101-001"].signed_through == date(2026, 5, 31)


def test_the_latest_signature_decides(investigator, nurse, study, patients):
    sign_record(investigator, "101-001", date(2026, 5, 31), "reviewed", PASSWORD)
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "18", "start_date": "2026-05-02",
                                          "end_date": "2026-05-02"})
    assert states(investigator.db)["101-001"].state == "changed"
    sign_record(investigator, "101-001", date(2026, 7, 1), "approved", PASSWORD)
    assert states(investigator.db)["101-001"].state == "signed"


def test_a_schedule_amendment_is_said_in_words(investigator, study, patients):
    sign_record(investigator, "101-001", date(2026, 5, 31), "reviewed", PASSWORD)
    amend_patient_schedule(investigator, study, "101-001",
                           {"day": "70", "dose_mg": "15", "reason": "flare"})
    [sig] = signatures_for(investigator.db, "101-001")
    assert sig.broken_by == ("Schedule amended from Day 70 to 15 mg/day by "
                             "Investigator Example on 2026-07-02 14:30 UTC")


def test_the_signatures_a_change_would_break_are_those_covering_its_date(
        investigator, nurse, study, patients):
    sign_record(investigator, "101-001", date(2026, 5, 31), "reviewed", PASSWORD)
    assert [v.signed_through for v in signatures_a_change_breaks(
        investigator.db, "101-001", date(2026, 5, 31))] == [date(2026, 5, 31)]
    assert signatures_a_change_breaks(investigator.db, "101-001", date(2026, 6, 1)) == []
    assert len(signatures_a_change_breaks(investigator.db, "101-001", None)) == 1
    # Once broken, a signature is not counted again: it needs signing anyway.
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "18", "start_date": "2026-05-02",
                                          "end_date": "2026-05-02"})
    assert signatures_a_change_breaks(investigator.db, "101-001", date(2026, 3, 1)) == []
    assert signatures_a_change_breaks(investigator.db, "101-002", date(2026, 3, 1)) == []


def test_batch_signing_gives_each_patient_its_own_audited_signature(investigator, patients):
    views = sign_records(investigator, [(s, None) for s in SUBJECTS], date(2026, 6, 30),
                         "approved", PASSWORD)
    assert [v.meaning for v in views] == ["approved"] * 3
    with UnitOfWork(investigator.db, write=False) as uow:
        stored = uow.session.scalars(select(Signature).order_by(Signature.id)).all()
        signings = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "sign").order_by(AuditEntry.id)).all()
        checks = uow.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "sign_failed")).all()
        heads = [(s.patient_id, s.audit_id_at_signing, s.data_sha256) for s in stored]
        signed = [(e.subject_id, e.new_value) for e in signings]
    assert len(heads) == 3 and len({h[0] for h in heads}) == 3
    assert len({h[1] for h in heads}) == 3  # each made at its own audit row
    assert [s for s, _ in signed] == list(SUBJECTS)
    assert all(f"sha256 {h[2]}" in v for h, (_, v) in zip(heads, signed, strict=True))
    assert checks == []
    assert all(s.state == "signed" for s in states(investigator.db).values())


def test_a_batch_is_signed_whole_or_not_at_all(investigator, nurse, study, patients):
    with pytest.raises(AuthenticationFailed):
        sign_records(investigator, [(s, None) for s in SUBJECTS], date(2026, 6, 30),
                     "approved", "wrong")
    with UnitOfWork(investigator.db, write=False) as uow:
        version = load_patient(uow.session, "101-003").version
    record_dose(nurse, study, "101-003", {**DOSE, "dose_mg": "13", "start_date": "2026-06-10"})
    with pytest.raises(StaleData):  # the signer saw 101-003 before that dose
        sign_records(investigator, [("101-001", None), ("101-003", version)],
                     date(2026, 6, 30), "approved", PASSWORD)
    with pytest.raises(ValidationError) as err:
        sign_records(investigator, [("101-001", None), ("101-001", None)],
                     date(2026, 6, 30), "approved", PASSWORD)
    assert err.value.for_field("patients")
    with pytest.raises(ValidationError) as err:
        sign_records(investigator, [("101-001", None)], date(2026, 2, 27), "approved",
                     PASSWORD)
    assert "before 101-001's Day 1 (2026-03-01)" in str(err.value)
    with UnitOfWork(investigator.db, write=False) as uow:
        assert uow.session.scalars(select(Signature)).all() == []


def test_a_corrected_enrollment_is_said_in_words(investigator, study, patients):
    from taper_app.services.corrections import correct_enrollment

    sign_record(investigator, "101-001", date(2026, 5, 31), "reviewed", PASSWORD)
    correct_enrollment(investigator, study, "101-001",
                       {"baseline_mg": "25", "reason": "baseline misread"}, PASSWORD)
    [sig] = signatures_for(investigator.db, "101-001")
    assert sig.broken_by == ("Enrollment corrected: baseline 20 mg/day → 25 mg/day by "
                             "Investigator Example on 2026-07-02 14:30 UTC (baseline misread)")
