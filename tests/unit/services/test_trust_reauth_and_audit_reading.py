"""Unlocking an idle window and signing count like sign-ins; reading the trail respects sites."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from taper_app.services.audit_query import AuditFilter, audit_choices, query_audit, read_audit
from taper_app.services.auth import Actor
from taper_app.services.errors import AuthenticationFailed, PermissionDenied
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.signatures import sign_record, signatures_for
from taper_app.services.study import add_user, authenticate, reauthenticate
from tests.conftest import NOW, PASSWORD, context

DOSE = {"drug": "prednisone", "frequency": "QD", "route": "PO"}


def at(minutes: int):
    return lambda: NOW + timedelta(minutes=minutes)


def test_unlocking_with_the_right_password_is_audited(db):
    actor = reauthenticate(db, "nurse", PASSWORD, at(0))
    assert actor.username == "nurse" and actor.role == "nurse"
    [row] = query_audit(db, AuditFilter(username="nurse"), limit=1)
    assert (row.action, row.new_value) == ("unlock", "ok")


def test_wrong_unlock_passwords_are_audited_and_lock_the_account_like_sign_ins(db):
    for _ in range(5):
        with pytest.raises(AuthenticationFailed):
            reauthenticate(db, "nurse", "not-my-password", at(0))
    actions = [r.action for r in query_audit(db, AuditFilter(username="nurse"))]
    assert actions.count("unlock_failed") == 5 and "lock_account" in actions
    with pytest.raises(AuthenticationFailed, match="locked"):
        reauthenticate(db, "nurse", PASSWORD, at(5))
    with pytest.raises(AuthenticationFailed, match="locked"):
        authenticate(db, "nurse", PASSWORD, at(5))
    assert reauthenticate(db, "nurse", PASSWORD, at(16)).username == "nurse"


def test_failed_unlocks_and_sign_ins_add_up_to_one_count(db):
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            authenticate(db, "nurse", "not-my-password", at(0))
    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            reauthenticate(db, "nurse", "not-my-password", at(0))
    with pytest.raises(AuthenticationFailed, match="locked"):
        reauthenticate(db, "nurse", PASSWORD, at(1))


@pytest.fixture
def two_sites(db, nurse, study):
    for subject, site in (("101-001", "101"), ("102-001", "102")):
        enroll_patient(nurse, study, {"subject_id": subject, "site": site,
                                      "day1_date": "2026-03-01", "baseline_mg": "20",
                                      "template_id": "stepdown-a"})
        record_dose(nurse, study, subject, {**DOSE, "dose_mg": "20", "start_date": "2026-03-01",
                                            "end_date": "2026-03-28"})
    add_user(context(db, "admin"), "sitenurse", "nurse", "Site Nurse", PASSWORD, sites=["101"])
    return db


def test_wrong_signing_passwords_lock_the_account(investigator, two_sites):
    for _ in range(5):
        with pytest.raises(AuthenticationFailed, match="nothing was signed"):
            sign_record(investigator, "101-001", date(2026, 6, 30), "reviewed", "not-it-at-all")
    with pytest.raises(AuthenticationFailed, match="locked"):
        sign_record(investigator, "101-001", date(2026, 6, 30), "reviewed", PASSWORD)
    assert signatures_for(investigator.db, "101-001") == []
    actions = [r.action for r in query_audit(investigator.db, AuditFilter(username="investigator"))]
    assert actions.count("sign_failed") == 6 and "lock_account" in actions


def test_a_monitor_reads_the_whole_trail(monitor, two_sites):
    rows = read_audit(monitor)
    assert {"101-001", "102-001"} <= {r.subject_id for r in rows}
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)


def test_a_site_bound_user_reads_only_their_sites_and_their_own_account(db, two_sites):
    ctx = context(db, "nurse")
    ctx.actor = Actor("sitenurse", "Site Nurse", "nurse", sites=frozenset({"101"}))
    rows = read_audit(ctx)
    assert {r.subject_id for r in rows} == {"101-001"}
    with pytest.raises(PermissionDenied):
        read_audit(ctx, AuditFilter(subject_id="102-001"))
    assert all(r.subject_id == "101-001" for r in read_audit(ctx, AuditFilter(
        subject_id="101-001")))
    assert audit_choices(ctx).usernames == ["nurse"]


def test_the_breaking_change_named_is_inside_the_signed_period(investigator, nurse, study,
                                                              two_sites):
    sign_record(investigator, "101-001", date(2026, 5, 31), "reviewed", PASSWORD)
    # First a harmless dose after the signed date, then a backdated one that breaks it.
    record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "16", "start_date": "2026-06-05",
                                          "end_date": "2026-06-06"})
    assert signatures_for(investigator.db, "101-001")[0].valid
    backdated = record_dose(nurse, study, "101-001", {**DOSE, "dose_mg": "16",
                                                      "start_date": "2026-03-29",
                                                      "end_date": "2026-04-02"})
    [sig] = signatures_for(investigator.db, "101-001")
    assert not sig.valid
    assert sig.broken_by is not None
    assert sig.broken_by.startswith("Dose of 2026-03-29 (prednisone 16 mg QD) added by ")
    assert str(backdated.record_id) not in sig.broken_by.split(" on ")[0]
