"""Two people, one study: a user's sites limit the list, and a change made elsewhere
since a form opened is refused without losing what was typed."""

from __future__ import annotations

from datetime import timedelta

from taper_app.services.patients import record_dose
from taper_app.services.study import add_user, authenticate
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import Qt
from taper_app.ui.tasks import TaskRunner
from tests.conftest import PASSWORD, TODAY, fixed_clock

from .conftest import DAY1, activate, dose_rows, enroll

CTRL = Qt.KeyboardModifier.ControlModifier


def test_a_user_of_one_site_sees_and_enrolls_that_sites_patients_only(
        qtbot, db, study, nurse, admin, keyboard, dialogs):
    enroll(nurse, study, "101-001", DAY1, site="101")
    enroll(nurse, study, "102-001", DAY1, site="102")
    add_user(admin, "nurse101", "nurse", "Nurse of 101", PASSWORD, sites=["101"])
    actor = authenticate(db, "nurse101", PASSWORD, fixed_clock)
    window = MainWindow(db, study, actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner(synchronous=True))
    qtbot.addWidget(window)
    window.show()
    activate(qtbot, window)
    assert [r.subject_id for r in window.patients_model.rows()] == ["101-001"]

    keyboard.shortcut(Qt.Key.Key_N, CTRL | Qt.KeyboardModifier.ShiftModifier)
    form = dialogs.last(EnrollDialog)
    assert form.site.currentText() == "101"
    assert [form.site.itemText(i) for i in range(form.site.count())] == ["101"]
    form.reject()


def test_a_dose_saved_elsewhere_meanwhile_is_not_overwritten(
        open_window, patient, nurse, study, db, keyboard, dialogs, message_log):
    window = open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    form.comment.setFocus()
    keyboard.type("typed before the other save")
    typed = form.fields()

    # Meanwhile, at another computer: the ongoing 16 mg record is closed by a new dose.
    record_dose(nurse, study, patient, {
        "drug": "prednisone", "dose_mg": "13", "frequency": "QD", "route": "PO",
        "start_date": (DAY1 + timedelta(days=42)).isoformat(), "end_date": "",
        "source": "clinic"}, close_ongoing=True)
    keyboard.enter()

    [warned] = message_log.take("warning")
    assert "changed by someone else" in warned.text
    assert form.isVisible() and form.fields() == typed
    assert len(dose_rows(db)) == 3
    # The window shows the other computer's record, and the form continues on it.
    assert window.detail.history_model.rowCount() == 3
    assert form.record.version == window.current_row().record.version
    keyboard.enter()
    # 16 mg against 10.5 scheduled (the form kept the dose she was on): a reason first.
    assert "a reason is required" in form.errors.message("deviation_reason")
    assert keyboard.focus is form.deviation_reason
    keyboard.type("kept on 16 mg by the investigator")
    keyboard.enter()
    assert not form.isVisible()
    assert dose_rows(db)[-1].comment == "typed before the other save"

