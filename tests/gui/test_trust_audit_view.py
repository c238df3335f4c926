"""The audit view: the patient's or the study's trail, filtered, exported to CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from taper_app.services.accounts import change_role
from taper_app.services.audit import head_of
from taper_app.services.study import add_user
from taper_app.ui.audit_view import AuditDialog, AuditTableModel
from tests.conftest import PASSWORD, context
from tests.gui.conftest import DAY1, audit_rows, dose, enroll


@pytest.fixture
def two_patients(patient, nurse, study):
    enroll(nurse, study, "102-001", DAY1, site="102")
    dose(nurse, study, "102-001", "20", DAY1)
    return patient


def shown(view: AuditDialog, column: int) -> list[str]:
    model = view.proxy
    return [str(model.index(r, column).data()) for r in range(model.rowCount())]


def test_the_patient_menu_opens_this_patients_trail(open_window, two_patients, dialogs, db):
    window = open_window("monitor")
    window.actions_by_name["patient_audit"].trigger()
    view = dialogs.last(AuditDialog)
    assert view.windowTitle() == "Audit trail – patient 101-001"
    assert view.this_patient.isChecked()
    subjects = set(shown(view, AuditTableModel.SUBJECT))
    assert subjects == {"101-001"}
    expected = [r for r in audit_rows(db) if r.subject_id == "101-001"]
    assert view.proxy.rowCount() == len(expected)
    # newest first
    ids = [view.proxy.row_object(r).id for r in range(view.proxy.rowCount())]
    assert ids == sorted(ids, reverse=True)
    assert view.count.text() == f"{len(expected)} rows"


def test_the_study_menu_opens_the_whole_trail_with_sign_ins_and_user_changes(
        open_window, two_patients, dialogs, db):
    change_role(context(db, "admin"), "monitor", "nurse", "moved to the ward")
    window = open_window("investigator")
    window.actions_by_name["study_audit"].trigger()
    view = dialogs.last(AuditDialog)
    assert view.windowTitle() == "Audit trail – the whole study"
    assert not view.this_patient.isChecked()
    actions = set(shown(view, AuditTableModel.ACTION))
    assert {"sign_in", "change_role", "add_user", "enroll", "record_dose"} <= actions
    assert view.proxy.rowCount() == len(audit_rows(db))


def test_filters_by_user_entity_and_date(open_window, two_patients, dialogs, db):
    window = open_window("monitor")
    window.show_study_audit()
    view = dialogs.last(AuditDialog)
    view.user.setCurrentIndex(view.user.findData("nurse"))
    view.entity.setCurrentIndex(view.entity.findData("dose_record"))
    view.apply_button.click()
    assert set(shown(view, AuditTableModel.USER)) == {"nurse"}
    assert {e.split()[0] for e in shown(view, AuditTableModel.ENTITY)} == {"dose_record"}
    expected = [r for r in audit_rows(db) if r.username == "nurse" and r.entity == "dose_record"]
    assert view.proxy.rowCount() == len(expected) > 0

    view.since.setText("2026-07-03")  # the fixed clock stamps every row 2026-07-02
    view.apply_button.click()
    assert view.proxy.rowCount() == 0
    view.since.setText("2026-07-02")
    view.until.setText("2026-07-02")
    view.apply_button.click()
    assert view.proxy.rowCount() == len(expected)


def test_a_bad_date_is_marked_and_the_rows_stay(open_window, two_patients, dialogs):
    window = open_window("monitor")
    window.show_study_audit()
    view = dialogs.last(AuditDialog)
    before = view.proxy.rowCount()
    view.since.setText("yesterday")
    view.apply_button.click()
    assert view.errors.message("since") == "a date as YYYY-MM-DD"
    assert view.proxy.rowCount() == before
    view.since.setText("2026-07-02")
    view.until.setText("2026-07-01")
    view.apply_button.click()
    assert view.errors.message("until") == "is before the start date"


def test_export_writes_every_row_of_the_filter_to_csv(open_window, two_patients, dialogs, db,
                                                      tmp_path, monkeypatch, message_log):
    target = tmp_path / "out" / "audit.csv"
    asked: list[str] = []

    def choose(cls, parent, suggested: str) -> Path:
        asked.append(suggested)
        return target

    monkeypatch.setattr(AuditDialog, "ask_save_path", classmethod(choose))
    window = open_window("monitor")
    window.actions_by_name["patient_audit"].trigger()
    view = dialogs.last(AuditDialog)
    view.export_button.click()
    assert asked == ["audit-101-001.csv"]
    with target.open(encoding="utf-8", newline="") as fh:
        first = fh.readline()
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    # the trail's head at the export, as `audit verify --head` takes it
    assert first.startswith(f"# audit trail head: {head_of(db).short} ")
    expected = [r for r in audit_rows(db) if r.subject_id == "101-001"]
    assert [int(r["id"]) for r in rows] == [r.id for r in expected]
    assert {r["subject_id"] for r in rows} == {"101-001"}
    assert rows[0]["row_hash"] == expected[0].row_hash
    [done] = message_log.take("info")
    assert done.text == f"{len(expected)} rows written to {target}"


def test_cancelling_the_file_dialog_writes_nothing(open_window, two_patients, dialogs,
                                                  tmp_path, monkeypatch, message_log):
    monkeypatch.setattr(AuditDialog, "ask_save_path", classmethod(lambda cls, p, s: None))
    window = open_window("monitor")
    window.show_study_audit()
    dialogs.last(AuditDialog).export_button.click()
    assert message_log.take() == [] and list(tmp_path.glob("**/*.csv")) == []


def test_a_site_bound_user_sees_only_their_sites_rows(open_window, two_patients, dialogs, db):
    add_user(context(db, "admin"), "ward102", "monitor", "Ward Monitor", PASSWORD, sites=["102"])
    window = open_window("monitor")
    window.ctx.actor = window.actor = type(window.actor)(
        "ward102", "Ward Monitor", "monitor", sites=frozenset({"102"}))
    window.show_study_audit()
    view = dialogs.last(AuditDialog)
    assert set(shown(view, AuditTableModel.SUBJECT)) == {"102-001"}
    assert view.user.findData("admin") == -1  # other users' account rows are not offered
