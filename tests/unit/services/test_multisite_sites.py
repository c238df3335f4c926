"""Users belong to sites: a site-bound user sees and changes only their sites' patients."""

from __future__ import annotations

import pytest

from taper_app.services.auth import Actor
from taper_app.services.context import ServiceContext
from taper_app.services.errors import PermissionDenied
from taper_app.services.figures import analyse_all, analyse_patient, summary
from taper_app.services.patients import enroll_patient, record_dose
from taper_app.services.study import add_user, authenticate
from tests.conftest import TODAY, fixed_clock


@pytest.fixture
def two_sites(db, nurse, study):
    for subject in ("101-001", "102-001"):
        enroll_patient(nurse, study, {"subject_id": subject, "site": subject[:3],
                                      "day1_date": "2026-01-01", "baseline_mg": "20",
                                      "template_id": "stepdown-a"})


def _site_nurse(db, admin) -> ServiceContext:
    add_user(admin, "nurse101", "nurse", "Site 101 Nurse", "first-password-1", sites=["101"])
    actor = authenticate(db, "nurse101", "first-password-1", fixed_clock)
    assert actor.sites == frozenset({"101"})
    return ServiceContext(db, actor, fixed_clock, lambda: TODAY)


def test_a_site_bound_nurse_sees_only_her_sites_patients(db, admin, study, two_sites):
    ctx = _site_nurse(db, admin)
    seen = [a.record.subject_id for a in analyse_all(db, study, TODAY, ctx.actor.sites)]
    assert seen == ["101-001"]
    assert [r["subject_id"] for r in summary(db, study, TODAY, sites=ctx.actor.sites)] == [
        "101-001"]
    with pytest.raises(PermissionDenied):
        analyse_patient(db, study, "102-001", TODAY, ctx.actor.sites)


def test_a_site_bound_nurse_cannot_change_or_enroll_at_another_site(db, admin, study,
                                                                    two_sites):
    ctx = _site_nurse(db, admin)
    dose = {"drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
            "start_date": "2026-01-01"}
    record_dose(ctx, study, "101-001", dose)
    with pytest.raises(PermissionDenied, match="site 102"):
        record_dose(ctx, study, "102-001", dose)
    with pytest.raises(PermissionDenied, match="site 103"):
        enroll_patient(ctx, study, {"subject_id": "103-001", "site": "103",
                                    "day1_date": "2026-01-01", "baseline_mg": "20",
                                    "template_id": "stepdown-a"})
    assert [a.record.subject_id for a in analyse_all(db, study, TODAY)] == ["101-001",
                                                                              "102-001"]


def test_users_without_sites_work_for_every_site(db, study, two_sites):
    everyone = Actor("nurse", "Nurse Example", "nurse")
    assert everyone.works_for("101") and everyone.works_for("999")
