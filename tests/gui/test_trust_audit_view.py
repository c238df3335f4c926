"""The audit view: the patient's or the study's trail as actions (one row per action, its
fields inside), filtered by patient, user, kind and date, full values on hover and in the
detail pane, exported to CSV one audit row per line."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from taper_app.services.accounts import change_role
from taper_app.services.audit import head_of
from taper_app.services.audit_query import group_actions, query_audit
from taper_app.services.study import add_user
from taper_app.ui.audit_view import AuditActionsModel, AuditDialog
from taper_app.ui.qt import Qt
from tests.conftest import PASSWORD, context
from tests.gui.conftest import DAY1, audit_rows, dose, enroll


@pytest.fixture
def two_patients(patient, nurse, study):
    enroll(nurse, study, "102-001", DAY1, site="102")
    dose(nurse, study, "102-001", "20", DAY1)
    return patient


def shown(view: AuditDialog, column: int) -> list[str]:
    model = view.model
    return [str(model.index(r, column).data()) for r in range(model.rowCount())]


def fields_shown(view: AuditDialog) -> int:
    """Every audit row the view shows: the fields inside its actions."""
    model = view.model
    return sum(model.rowCount(model.index(r, 0)) for r in range(model.rowCount()))


def test_the_patient_menu_opens_this_patients_trail(open_window, two_patients, dialogs, db):
    window = open_window("monitor")
    window.actions_by_name["patient_audit"].trigger()
    view = dialogs.last(AuditDialog)
    assert view.windowTitle() == "Audit trail – patient 101-001"
    assert view.patient.currentData() == "101-001"
    subjects = set(shown(view, AuditActionsModel.PATIENT))
    assert subjects == {"101-001"}
    expected = [r for r in audit_rows(db) if r.subject_id == "101-001"]
    assert fields_shown(view) == len(expected)
    # one row per action (the enrolment and two dose entries), newest first
    actions = view.model.actions()
    assert [a.action for a in actions] == ["record_dose", "record_dose", "enroll"]
    ids = [a.first_id for a in actions]
    assert ids == sorted(ids, reverse=True)
    assert view.count.text() == f"3 actions ({len(expected)} audit rows)"


def test_the_study_menu_opens_the_whole_trail_with_sign_ins_and_user_changes(
        open_window, two_patients, dialogs, db):
    change_role(context(db, "admin"), "monitor", "nurse", "moved to the ward")
    window = open_window("investigator")
    window.actions_by_name["study_audit"].trigger()
    view = dialogs.last(AuditDialog)
    assert view.windowTitle() == "Audit trail – the whole study"
    assert view.patient.currentData() is None
    whats = set(shown(view, AuditActionsModel.WHAT))
    assert {"Signed in: user investigator", "Role changed: user monitor",
            "User added: user nurse", "Patient enrolled"} <= whats
    assert "Dose recorded: dose record 1" in whats
    assert fields_shown(view) == len(audit_rows(db))


def test_filters_by_patient_user_kind_and_date(open_window, two_patients, dialogs, db):
    window = open_window("monitor")
    window.show_study_audit()
    view = dialogs.last(AuditDialog)
    view.user.setCurrentIndex(view.user.findData("nurse"))
    kind = view.kind.findData("record_dose")
    assert view.kind.itemText(kind) == "Dose recorded"  # kinds in words, not codes
    view.kind.setCurrentIndex(kind)
    view.apply_button.click()
    assert set(shown(view, AuditActionsModel.USER)) == {"nurse"}
    assert {a.action for a in view.model.actions()} == {"record_dose"}
    expected = [r for r in audit_rows(db) if r.username == "nurse"
                and r.action == "record_dose"]
    assert fields_shown(view) == len(expected) > 0
    assert view.model.rowCount() == 3  # three doses entered, one row each

    view.patient.setCurrentIndex(view.patient.findData("102-001"))
    view.apply_button.click()
    assert set(shown(view, AuditActionsModel.PATIENT)) == {"102-001"}
    assert view.model.rowCount() == 1

    view.since.setText("2026-07-03")  # the fixed clock stamps every row 2026-07-02
    view.apply_button.click()
    assert view.model.rowCount() == 0
    view.since.setText("2026-07-02")
    view.until.setText("2026-07-02")
    view.apply_button.click()
    assert view.model.rowCount() == 1


def test_a_bad_date_is_marked_and_the_rows_stay(open_window, two_patients, dialogs):
    window = open_window("monitor")
    window.show_study_audit()
    view = dialogs.last(AuditDialog)
    before = view.model.rowCount()
    view.since.setText("yesterday")
    view.apply_button.click()
    assert view.errors.message("since") == "a date as YYYY-MM-DD"
    assert view.model.rowCount() == before
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
    assert set(shown(view, AuditActionsModel.PATIENT)) == {"102-001"}
    assert view.user.findData("admin") == -1  # other users' account rows are not offered


def test_an_action_shows_its_fields_in_words_expands_and_tells_all_on_hover(
        open_window, two_patients, dialogs, db, nurse):
    from taper_app.services.patients import void_dose

    record = next(r for r in audit_rows(db) if r.action == "record_dose"
                  and r.subject_id == "101-001")
    void_dose(nurse, int(record.entity_id), "entered twice: see the clinic chart of 2026-05-04")
    window = open_window("monitor")
    window.actions_by_name["patient_audit"].trigger()
    view = dialogs.last(AuditDialog)
    model = view.model
    voided = model.index(0, 0)
    assert model.index(0, AuditActionsModel.WHAT).data() == (
        f"Dose record voided: dose record {record.entity_id}")
    assert model.index(0, AuditActionsModel.CHANGES).data() == "Voided: no → yes"
    assert model.index(0, AuditActionsModel.WHY).data().startswith("entered twice")
    assert model.index(0, AuditActionsModel.UTC).data() == "2026-07-02 14:30:00"
    assert model.index(0, AuditActionsModel.LOCAL).data() == (
        model.action_at(voided).local_time().strftime("%Y-%m-%d %H:%M:%S"))
    tip = model.index(0, AuditActionsModel.CHANGES).data(Qt.ItemDataRole.ToolTipRole)
    assert "Voided: no → yes" in tip and "entered twice: see the clinic chart" in tip
    assert "SHA-256" not in tip  # the hover shows the values, not the hash

    entry = model.index(2, 0)  # the first dose entry: one action, its fields inside
    assert model.data(entry, AuditActionsModel.ObjectRole).action == "record_dose"
    inside = [(model.index(r, AuditActionsModel.WHAT, entry).data(),
               model.index(r, AuditActionsModel.CHANGES, entry).data())
              for r in range(model.rowCount(entry))]
    assert ("Drug", "prednisone") in inside and ("Dose (mg)", "20") in inside
    assert not view.tree.isExpanded(entry)
    view.tree.expand(entry)
    assert view.tree.isExpanded(entry)
    view.expand_button.click()
    assert all(view.tree.isExpanded(model.index(r, 0)) for r in range(model.rowCount()))

    view.tree.setCurrentIndex(voided)
    detail = view.detail.toPlainText()
    assert "entered twice: see the clinic chart of 2026-05-04" in detail
    assert "SHA-256" in detail  # the detail pane has everything, the hashes too


def test_one_row_per_action_matches_the_grouping_of_the_trail(
        open_window, two_patients, dialogs, db):
    window = open_window("monitor")
    window.show_study_audit()
    view = dialogs.last(AuditDialog)
    grouped = group_actions(query_audit(db))
    assert [(a.first_id, a.summary) for a in view.model.actions()] == [
        (a.first_id, a.summary) for a in grouped]


def test_the_actions_model_passes_the_model_tester(qtmodeltester, open_window, two_patients,
                                                    dialogs):
    window = open_window("monitor")
    window.show_study_audit()
    view = dialogs.last(AuditDialog)
    assert view.model.rowCount() > 0
    qtmodeltester.check(view.model, force_py=True)
