"""Every service action x every role: allowed or refused, and a refusal writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from taper_app.services import accounts, settings
from taper_app.services.corrections import correct_enrollment
from taper_app.services.errors import PermissionDenied
from taper_app.services.imports import import_files
from taper_app.services.participation import end_participation, reopen_participation
from taper_app.services.patients import (
    amend_patient_schedule,
    correct_dose,
    enroll_patient,
    record_dose,
    void_dose,
)
from taper_app.services.queries import answer_query, close_query, open_query
from taper_app.services.signatures import sign_record
from taper_app.services.study import add_user, import_templates
from taper_app.services.verification import verify_source
from taper_app.storage import models
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, context

ROLES = ("nurse", "investigator", "monitor", "admin")
DOSE = {"drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-03-01", "end_date": "2026-03-31"}
TEMPLATE = """
[[template]]
id = "extra"
name = "Extra"
kind = "table"
  [[template.step]]
  day = 10
  dose_mg = 5
"""


@pytest.fixture
def enrolled(db, nurse, study):
    enroll_patient(nurse, study, {"subject_id": "101-001", "site": "101",
                                  "day1_date": "2026-03-01", "baseline_mg": "20",
                                  "template_id": "stepdown-a"})
    saved = record_dose(nurse, study, "101-001", DOSE)
    open_query(context(db, "monitor"), "101-001", "Please check the March dose")
    return saved.record_id


def _query_id(ctx) -> int:
    with UnitOfWork(ctx.db, write=False) as uow:
        return uow.session.scalars(select(models.DataQuery.id)).one()


def _ended(db) -> None:
    end_participation(context(db, "investigator"), "101-001", "2026-04-15",
                      "withdrawal_by_subject", "withdrew consent")


#: What an action needs in place first (done by an allowed role, before the counts).
SETUP: dict[str, Callable] = {"reopen_participation": _ended}


def _patients_csv(tmp: Path) -> Path:
    path = tmp / "patients.csv"
    path.write_text("subject_id,site,day1_date,baseline_mg,template_id\n"
                    "101-009,101,2026-03-01,15,stepdown-a\n", encoding="utf-8")
    return path


def _amendments_csv(tmp: Path) -> Path:
    path = tmp / "amendments.csv"
    path.write_text("subject_id,day,dose_mg,reason\n101-001,40,20,flare\n", encoding="utf-8")
    return path


def actions(study, record_id: int, tmp: Path) -> dict[str, tuple[set[str], Callable]]:
    """action name -> (roles allowed, call(ctx))."""
    return {
        "enroll": ({"nurse", "investigator"}, lambda c: enroll_patient(c, study, {
            "subject_id": "102-001", "site": "102", "day1_date": "2026-03-01",
            "baseline_mg": "10", "template_id": "table-12wk"})),
        "record_dose": ({"nurse", "investigator"},
                        lambda c: record_dose(c, study, "101-001",
                                              {**DOSE, "start_date": "2026-04-01",
                                               "end_date": "2026-04-02"})),
        "void_dose": ({"nurse", "investigator"}, lambda c: void_dose(c, record_id, "typo")),
        "correct_dose": ({"nurse", "investigator"},
                         lambda c: correct_dose(c, study, record_id, "wrong dose",
                                                {**DOSE, "dose_mg": "15"})),
        "amend": ({"investigator"}, lambda c: amend_patient_schedule(
            c, study, "101-001", {"day": "40", "dose_mg": "20", "reason": "flare"})),
        "sign": ({"investigator"}, lambda c: sign_record(c, "101-001", date(2026, 6, 30),
                                                         "reviewed", PASSWORD)),
        "import_patients": ({"nurse", "investigator"},
                            lambda c: import_files(c, study, patients=_patients_csv(tmp))),
        "import_amendments": ({"investigator"},
                              lambda c: import_files(c, study, amendments=_amendments_csv(tmp))),
        "add_template": ({"admin"}, lambda c: import_templates(c, TEMPLATE, "extra.toml")),
        "add_user": ({"admin"}, lambda c: add_user(c, "newbie", "nurse", "New Bie",
                                                   "a-long-password")),
        "reset_password": ({"admin"}, lambda c: accounts.reset_password(
            c, "nurse", "temporary-pass-1", "forgot")),
        "change_role": ({"admin"}, lambda c: accounts.change_role(
            c, "monitor", "nurse", "moved to site work")),
        "deactivate_user": ({"admin"}, lambda c: accounts.deactivate_user(
            c, "monitor", "left the study")),
        "change_setting": ({"admin"}, lambda c: settings.set_setting(
            c, "lockout_minutes", "30", "site policy")),
        "end_participation": ({"investigator"}, lambda c: end_participation(
            c, "101-001", "2026-04-15", "withdrawal_by_subject", "withdrew consent")),
        "reopen_participation": ({"investigator"}, lambda c: reopen_participation(
            c, "101-001", "ended by mistake")),
        "verify_source": ({"monitor"}, lambda c: verify_source(
            c, "101-001", through=date(2026, 3, 31))),
        "raise_query": ({"monitor"}, lambda c: open_query(c, "101-001", "Diary missing?")),
        "answer_query": ({"nurse", "investigator"}, lambda c: answer_query(
            c, _query_id(c), "The diary is in the binder")),
        "close_query": ({"monitor"}, lambda c: close_query(c, _query_id(c), "resolved")),
        "correct_enrollment": ({"investigator"}, lambda c: correct_enrollment(
            c, study, "101-001", {"baseline_mg": "25", "reason": "baseline misread"},
            PASSWORD)),
    }


def _counts(db) -> dict[str, int]:
    tables = (models.Patient, models.DoseRecordRow, models.Amendment, models.ScheduleStepRow,
              models.AuditEntry, models.User, models.ScheduleTemplate, models.Signature,
              models.AppSetting, models.SdvMark, models.DataQuery,
              models.DataQueryMessage)
    with UnitOfWork(db, write=False) as uow:
        counts = {t.__tablename__: uow.session.scalar(select(func.count()).select_from(t))
                  for t in tables}
        counts["voided"] = uow.session.scalar(select(func.count()).select_from(
            models.DoseRecordRow).where(models.DoseRecordRow.voided.is_(True)))
        counts["active_users"] = uow.session.scalar(select(func.count()).select_from(
            models.User).where(models.User.active.is_(True)))
    return counts


ACTION_NAMES = ("enroll", "record_dose", "void_dose", "correct_dose", "amend", "sign",
                "import_patients", "import_amendments", "add_template", "add_user",
                "reset_password", "change_role", "deactivate_user", "change_setting",
                "end_participation", "reopen_participation", "verify_source", "raise_query",
                "answer_query", "close_query", "correct_enrollment")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTION_NAMES)
def test_every_action_is_allowed_only_to_its_roles(db, study, enrolled, tmp_path, role, action):
    allowed, call = actions(study, enrolled, tmp_path)[action]
    if action in SETUP:
        SETUP[action](db)
    ctx = context(db, role)
    before = _counts(db)
    if role in allowed:
        call(ctx)
        assert _counts(db) != before, f"{action} by {role} should have written something"
    else:
        with pytest.raises(PermissionDenied):
            call(ctx)
        assert _counts(db) == before, f"refused {action} by {role} wrote something"


def test_the_matrix_covers_every_permission_in_the_table():
    from taper_app.services.auth import PERMISSIONS

    assert set(PERMISSIONS) == {"enroll_patient", "record_dose", "void_dose",
                                "import_clinical_data", "amend_schedule", "sign_record",
                                "add_template", "manage_users", "end_participation",
                                "verify_source", "raise_query", "answer_query",
                                "correct_enrollment"}
