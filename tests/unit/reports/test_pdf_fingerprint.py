"""The data fingerprint in the reports' footers: what it covers and what leaves it alone."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from taper_app.services.figures import analyse_all, analyse_patient, summary_dict
from taper_app.services.patients import enroll_patient, record_dose, void_dose
from taper_app.services.reporting import (
    canonical_json,
    cohort_payload,
    fingerprint,
    patient_payload,
)

AS_OF = date(2026, 7, 2)


def enroll(nurse, study, subject: str, site: str) -> int:
    enroll_patient(nurse, study, {"subject_id": subject, "site": site,
                                  "day1_date": "2026-03-01", "baseline_mg": "15",
                                  "template_id": "table-12wk"})
    return record_dose(nurse, study, subject, {
        "drug": "prednisolone", "dose_mg": "15", "frequency": "QD", "route": "PO",
        "start_date": "2026-03-01", "end_date": "2026-04-30"}).record_id


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": "é", "c": [None, True, 2.5]}) == \
        '{"a":"é","b":1,"c":[null,true,2.5]}'.encode()
    assert fingerprint({"b": 1, "a": "é"}) == \
        hashlib.sha256('{"a":"é","b":1}'.encode()).hexdigest()


def test_patient_payload_is_the_record_the_figures_and_the_as_of_date(db, study, nurse):
    record_id = enroll(nurse, study, "101-001", "101")
    analysis = analyse_patient(db, study, "101-001", AS_OF)
    payload = patient_payload(study, analysis)
    assert payload["report"] == "patient"
    assert payload["as_of"] == "2026-07-02"
    assert payload["study"] == {"name": "EXAMPLE-IIM-01", "protocol_version": "2.0"}
    assert payload["figures"] == summary_dict(analysis.record, analysis.figures)
    record = payload["record"]
    assert record["subject_id"] == "101-001" and record["baseline_mg"] == "15"
    assert [d["id"] for d in record["dose_records"]] == [record_id]
    assert record["dose_records"][0]["dose_mg"] == "15"
    assert record["schedule"][0] == {"day": 15, "dose_mg": "15", "amendment_seq": None}
    json.loads(canonical_json(payload))  # plain JSON, nothing exotic


def test_same_data_gives_the_same_fingerprint_and_any_change_another(db, study, nurse):
    record_id = enroll(nurse, study, "101-001", "101")
    first = fingerprint(patient_payload(study, analyse_patient(db, study, "101-001", AS_OF)))
    again = fingerprint(patient_payload(study, analyse_patient(db, study, "101-001", AS_OF)))
    assert first == again
    later = fingerprint(patient_payload(study, analyse_patient(db, study, "101-001",
                                                               date(2026, 7, 1))))
    assert later != first
    void_dose(nurse, record_id, "entered for the wrong patient")
    voided = fingerprint(patient_payload(study, analyse_patient(db, study, "101-001", AS_OF)))
    assert voided != first


def test_cohort_payload_covers_every_patient_in_subject_order(db, study, nurse):
    enroll(nurse, study, "102-001", "102")
    enroll(nurse, study, "101-001", "101")
    payload = cohort_payload(study, analyse_all(db, study, AS_OF), AS_OF)
    assert payload["report"] == "cohort"
    assert [p["record"]["subject_id"] for p in payload["patients"]] == ["101-001", "102-001"]
    assert [p["figures"]["subject_id"] for p in payload["patients"]] == ["101-001", "102-001"]
