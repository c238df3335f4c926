"""The monitor's source-data verification in the window: marked through a date or one
record (the service of ``taper-app sdv``), shown in the history and in the list's
"verified through …"; a record changed afterwards shows as changed."""

from __future__ import annotations

from taper_app.services.patients import void_dose
from taper_app.ui.models import DoseHistoryModel, PatientTableModel
from taper_app.ui.qt import Qt
from taper_app.ui.verification import VerifyDialog

from .conftest import audit_rows


def _list_cell(window, column):  # type: ignore[no-untyped-def]
    model = window.patients_model
    row = model.row_of_subject("101-001")
    return model.index(row, column).data()


def _history(window, column):  # type: ignore[no-untyped-def]
    model = window.detail.history_model
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_a_monitor_marks_records_verified_through_a_date(open_window, patient, db, dialogs,
                                                         keyboard, nurse):
    window = open_window("monitor")
    assert _list_cell(window, PatientTableModel.VERIFIED) == ""
    keyboard.shortcut(Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier
                      | Qt.KeyboardModifier.ShiftModifier)
    form = dialogs.last(VerifyDialog)
    assert form.through.text() == "2026-07-02"
    keyboard.replace("2026-05-31")
    keyboard.enter()
    assert not form.isVisible()
    assert "1 dose record(s) marked source-verified (through 2026-05-31)" in (
        window.statusBar().currentMessage())
    assert _list_cell(window, PatientTableModel.VERIFIED) == "through 2026-05-31"
    assert "source-verified through 2026-05-31" in window.detail.about.text()
    # Newest first: the ongoing 16 mg record starts after the date, the first one is marked.
    assert _history(window, DoseHistoryModel.SDV) == ["", "✓ monitor 2026-07-02"]
    assert [r.action for r in audit_rows(db, "verify_source")] == ["verify_source"]

    first = next(d for d in window.current_row().record.doses if d.dose_ug == 20_000)
    void_dose(nurse, first.id, "entered twice")
    window.refresh()
    assert _list_cell(window, PatientTableModel.VERIFIED) == "1 changed"
    assert "changed since verified" in _history(window, DoseHistoryModel.SDV)
    assert "· 1 record changed since source-verified" in window.detail.about.text()


def test_one_selected_record_only(open_window, patient, dialogs):
    window = open_window("monitor")
    window.detail.history_view.selectRow(0)  # the ongoing record
    window.actions_by_name["verify"].trigger()
    form = dialogs.last(VerifyDialog)
    assert form.only_selected.isVisible()
    form.only_selected.setChecked(True)
    form.save()
    assert not form.isVisible()
    assert _history(window, DoseHistoryModel.SDV)[0].startswith("✓ monitor")
    assert _history(window, DoseHistoryModel.SDV)[1] == ""
    assert _list_cell(window, PatientTableModel.VERIFIED) == "records verified"


def test_only_monitors_verify(open_window, patient, dialogs):
    window = open_window("nurse")
    action = window.actions_by_name["verify"]
    assert not action.isVisible() and not action.isEnabled()
    window.verify_source()
    assert dialogs.opened == []
