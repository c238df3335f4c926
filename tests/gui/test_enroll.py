"""Enrolling: the form, the schedule preview, and refusals in place."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from taper_app.services.patients import preview_schedule
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.models import ScheduleStepsModel
from taper_app.ui.qt import Qt
from tests.conftest import TODAY

from .conftest import DAY1, audit_rows, patient_rows

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def open_enroll(keyboard, dialogs) -> EnrollDialog:
    keyboard.shortcut(Qt.Key.Key_N, CTRL_SHIFT)
    form = dialogs.last(EnrollDialog)
    assert keyboard.focus is form.subject_id
    return form


def fill(keyboard, subject: str, site: str, day1: str, baseline: str, kit: str) -> None:
    keyboard.type(subject)
    keyboard.tab()
    keyboard.replace(site)
    keyboard.tab()
    keyboard.replace(day1)
    keyboard.tab()
    keyboard.replace(baseline)
    keyboard.tab()
    keyboard.replace(kit)


def test_a_patient_is_enrolled_with_the_keyboard_after_a_preview(
        open_window, db, study, keyboard, dialogs):
    window = open_window("nurse")
    form = open_enroll(keyboard, dialogs)
    assert form.fields()["day1_date"] == TODAY.isoformat()
    fill(keyboard, "101-020", "101", DAY1.isoformat(), "20", "K-55012")
    keyboard.tab()
    assert keyboard.focus is form.template_id
    keyboard.type("Published")  # choose the table template by its name
    assert form.template_id.currentData() == "table-12wk"

    expected = preview_schedule(study, "table-12wk", Decimal(20))
    model = form.steps_model
    assert [model.row_at(i) for i in range(model.rowCount())] == expected
    assert model.index(0, ScheduleStepsModel.DATE).data() == (DAY1 + timedelta(14)).isoformat()
    assert "Baseline 20 mg/day until Day 15" in form.summary.text()
    [line] = form.chart.figure.axes[0].get_lines()
    assert list(line.get_ydata()) == [20.0, 15.0, 10.0, 2.5, 2.5]
    keyboard.enter()

    assert not form.isVisible()
    [patient] = patient_rows(db)
    assert (patient.subject_id, patient.site_code, patient.day1_date, patient.baseline_ug,
            patient.template_id, patient.kit_number, patient.created_by) == (
        "101-020", "101", DAY1, 20_000, "table-12wk", "K-55012", "nurse")
    enrolled = {(a.field, a.new_value) for a in audit_rows(db, "enroll")}
    assert {("site", "101"), ("baseline_mg", "20"), ("template_id", "table-12wk"),
            ("kit_number", "K-55012"), ("day1_date", DAY1.isoformat())} <= enrolled
    assert ("schedule", "day 15: 15 mg; day 43: 10 mg; day 71: 2.5 mg") in enrolled
    assert window.current_subject() == "101-020"
    assert window.patients_model.rowCount() == 1
    assert "101-020 enrolled" in window.statusBar().currentMessage()


def test_the_preview_follows_the_baseline_as_it_is_typed(open_window, keyboard, dialogs):
    open_window("nurse")
    form = open_enroll(keyboard, dialogs)
    assert form.steps_model.rowCount() == 0
    assert "Enter a baseline" in form.summary.text()
    form.template_id.setFocus()
    keyboard.type("Band")
    assert form.template_id.currentData() == "stepdown-a"
    form.baseline_mg.setFocus()
    keyboard.type("4")
    assert form.steps_model.rowCount() == 4  # 1 mg every 28 days: 3, 2, 1, 0
    keyboard.type("0")  # 40 mg/day: the steeper bands first
    assert form.steps_model.rowCount() > 4
    assert form.steps_model.row_at(0).dose_mg == Decimal(32)
    assert "Baseline 40 mg/day" in form.summary.text()


def test_a_duplicate_subject_id_is_refused_as_it_is_typed(
        open_window, nurse, study, db, keyboard, dialogs):
    from .conftest import enroll

    enroll(nurse, study, "101-001", DAY1)
    open_window("nurse")
    form = open_enroll(keyboard, dialogs)
    fill(keyboard, "101-001", "101", DAY1.isoformat(), "20", "")
    assert "already enrolled" in form.errors.message("subject_id")  # before any Save
    before = len(audit_rows(db))
    keyboard.enter()
    assert form.isVisible()
    assert keyboard.focus is form.subject_id
    assert len(patient_rows(db)) == 1 and len(audit_rows(db)) == before


def test_the_service_refuses_a_duplicate_the_window_did_not_know(
        open_window, nurse, study, db, keyboard, dialogs):
    """Enrolled from another computer after this window loaded its list."""
    from .conftest import enroll

    open_window("nurse")
    form = open_enroll(keyboard, dialogs)
    enroll(nurse, study, "101-001", DAY1)
    fill(keyboard, "101-001", "101", DAY1.isoformat(), "20", "")
    keyboard.enter()
    assert form.isVisible()
    assert "already enrolled" in form.errors.message("subject_id")
    assert len(patient_rows(db)) == 1


IMPOSSIBLE = [
    ("subject_id", "101 001!", "is not a subject id"),
    ("subject_id", "", "is not a subject id"),
    ("site", "", "is not a site code"),
    ("day1_date", (TODAY + timedelta(days=1)).isoformat(), "in the future"),
    ("day1_date", "2026-13-01", "not a real date"),
    ("baseline_mg", "0", "must be more than 0"),
    ("baseline_mg", "-10", "is negative"),
    ("baseline_mg", "2500", "not plausible"),
    ("baseline_mg", "twenty", "is not a number"),
    ("baseline_mg", "1_0", "has an underscore"),
]


@pytest.mark.parametrize(("field", "text", "message"), IMPOSSIBLE,
                         ids=[f"{f}={t or 'empty'}" for f, t, _ in IMPOSSIBLE])
def test_impossible_values_are_refused_in_place_and_nothing_is_written(
        open_window, db, keyboard, dialogs, field, text, message):
    open_window("nurse")
    form = open_enroll(keyboard, dialogs)
    # The good fields are set directly (typing them is the first test's job); the
    # value under test is typed.
    form.subject_id.setText("101-030")
    form.site.setEditText("101")
    form.day1_date.setText(DAY1.isoformat())
    form.baseline_mg.setText("20")
    before = len(audit_rows(db))
    getattr(form, field).setFocus()
    keyboard.replace(text)
    keyboard.enter()
    assert form.isVisible()
    assert message in form.errors.message(field)
    assert keyboard.focus is getattr(form, field)
    assert patient_rows(db) == [] and len(audit_rows(db)) == before


def test_nurses_and_investigators_enroll_monitors_do_not(open_window, keyboard, dialogs):
    window = open_window("monitor")
    assert not window.actions_by_name["enroll"].isEnabled()
    keyboard.shortcut(Qt.Key.Key_N, CTRL_SHIFT)
    assert dialogs.opened == []
