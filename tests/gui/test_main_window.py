"""The main window: sign-in title, the patient list, filtering, sorting, speed, keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from taper_app.services.figures import summary
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.models import PatientTableModel
from taper_app.ui.qt import Qt
from tests.conftest import TODAY

from .conftest import DAY1, dose, enroll

CTRL = Qt.KeyboardModifier.ControlModifier
P = PatientTableModel


def column(window, col: int) -> list[str]:
    proxy = window.patients_proxy
    return [proxy.index(r, col).data() for r in range(proxy.rowCount())]


def test_the_title_names_the_study_the_user_and_the_role(open_window, db):
    window = open_window("investigator")
    title = window.windowTitle()
    assert "EXAMPLE-IIM-01" in title and "Investigator Example" in title
    assert "(investigator)" in title
    assert str(db.path) in window.database_label.text()
    assert window.as_of_label.text() == f"Figures as of {TODAY.isoformat()}"


def test_the_list_shows_the_services_figures_and_status(open_window, patient, db, study):
    window = open_window("nurse")
    [expected] = summary(db, study, TODAY)
    row = [window.patients_proxy.index(0, c).data() for c in (
        P.SUBJECT, P.SITE, P.STUDY_DAY, P.DOSE, P.SCHEDULED, P.REDUCTION, P.STATUS, P.MISSING,
        P.LAST_ENTRY, P.SIGNATURE, P.TARGET)]
    # Above today, its records give no reason for differing, never signed; the target
    # is pending in its own column. The records were entered at the fixed clock's date.
    assert row == ["101-001", "101", "60", "16", "10.5", "20.0",
                   "above · no reason · to sign", "0", "2026-07-02", "never signed",
                   "pending"]
    assert (expected["as_of_day"], expected["actual_mg"], expected["scheduled_mg"],
            expected["reduction_pct"]) == (60, 16.0, 10.5, 20.0)
    labels = window.detail.figure_labels
    assert labels["day"].text() == "Day 60"
    assert labels["dose"].text() == "16 mg/day (scheduled 10.5)"
    assert labels["missing"].text() == "0 of 60"
    assert window.detail.badge.text().strip() == "above · no reason · to sign"
    assert "pending" in labels["target"].text()


@pytest.fixture
def three_patients(nurse, study):
    """Today's doses 5, 100 and 20 mg: text order would be 100, 20, 5."""
    for subject, mg in (("101-001", "5"), ("101-002", "100"), ("102-001", "20")):
        enroll(nurse, study, subject, DAY1, baseline="20", site=subject[:3])
        dose(nurse, study, subject, mg, DAY1)
    dose(nurse, study, "101-001", "0", TODAY - timedelta(days=3), TODAY)  # on top: still 5


def test_columns_sort_by_value_not_by_text(open_window, three_patients):
    window = open_window("nurse")
    window.patient_view.sortByColumn(P.DOSE, Qt.SortOrder.AscendingOrder)
    assert column(window, P.DOSE) == ["5", "20", "100"]
    window.patient_view.sortByColumn(P.REDUCTION, Qt.SortOrder.AscendingOrder)
    assert column(window, P.REDUCTION) == ["-400.0", "0.0", "75.0"]
    window.patient_view.sortByColumn(P.SUBJECT, Qt.SortOrder.DescendingOrder)
    assert column(window, P.SUBJECT) == ["102-001", "101-002", "101-001"]


def test_clicking_a_header_sorts_by_that_column(open_window, three_patients, qtbot):
    window = open_window("nurse")
    header = window.patient_view.horizontalHeader()
    x = header.sectionViewportPosition(P.DOSE) + header.sectionSize(P.DOSE) // 2
    by_value = {Qt.SortOrder.AscendingOrder: ["5", "20", "100"],
                Qt.SortOrder.DescendingOrder: ["100", "20", "5"]}
    orders = []
    for _ in range(2):  # the first click sorts one way, the second the other way
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                         pos=header.rect().center().__class__(x, header.height() // 2))
        assert header.sortIndicatorSection() == P.DOSE
        orders.append(header.sortIndicatorOrder())
        # In the order the header shows: sorted by text, ascending would be 100, 20, 5.
        assert column(window, P.DOSE) == by_value[orders[-1]]
    assert set(orders) == set(by_value)


def test_typing_filters_the_list_and_enter_opens_the_first_match(
        open_window, three_patients, keyboard):
    window = open_window("nurse")
    assert window.current_subject() == "101-001"
    keyboard.shortcut(Qt.Key.Key_F, CTRL)
    assert keyboard.focus is window.filter_edit
    keyboard.type("102")
    assert column(window, P.SUBJECT) == ["102-001"]
    assert window.count_label.text() == "1 of 3 patients"
    keyboard.enter()
    assert keyboard.focus is window.patient_view
    assert window.current_subject() == "102-001"
    assert window.detail.title.text() == "102-001"
    keyboard.shortcut(Qt.Key.Key_F, CTRL)
    keyboard.replace("below")  # the status badge's words filter too
    assert column(window, P.SUBJECT) == ["101-001"]
    keyboard.press(Qt.Key.Key_Escape)
    assert window.patients_proxy.rowCount() == 3


def test_the_selection_drives_the_patient_pane(open_window, three_patients, keyboard):
    window = open_window("nurse")
    window.patient_view.setFocus()
    keyboard.press(Qt.Key.Key_Down)
    assert window.detail.title.text() == "101-002"
    assert window.detail.figure_labels["dose"].text().startswith("100 mg/day")
    keyboard.press(Qt.Key.Key_Down)
    assert window.detail.title.text() == "102-001"


def test_new_dose_is_for_the_selected_patient(open_window, three_patients, keyboard, dialogs):
    window = open_window("nurse")
    window.select_subject("102-001")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    assert dialogs.last(DoseDialog).record.subject_id == "102-001"


def test_the_help_menu_lists_the_shortcuts(open_window, keyboard, message_log):
    window = open_window("nurse")
    window.actions_by_name["shortcuts"].trigger()  # F1 is the user guide now
    [shown] = message_log.take("info")
    assert "Ctrl+N" in shown.text and "Ctrl+F" in shown.text


def test_an_empty_study_says_what_to_do(open_window):
    window = open_window("nurse")
    assert window.patients_model.rowCount() == 0
    assert window.detail.placeholder.isVisible()
    assert not window.actions_by_name["new_dose"].isEnabled()
    assert window.actions_by_name["enroll"].isEnabled()


def test_the_charts_tab_holds_the_taper_chart(open_window, patient):
    from taper_app.ui.taper_view import TaperView

    window = open_window("nurse")
    tabs = window.detail.tabs
    assert tabs.tabText(2) == "Ch&arts"  # Alt+A (Alt+H is the Help menu)
    assert isinstance(tabs.widget(2), TaperView)


def test_the_window_fits_a_small_laptop_screen(open_window, patient):
    window = open_window("nurse")
    hint = window.minimumSizeHint()
    assert hint.width() <= 1366 * 2 // 3 and hint.height() <= 768 * 2 // 3  # even at 150 %


def test_a_failed_load_is_a_message_and_the_window_stays(open_window, monkeypatch,
                                                          message_log):
    from taper_app.services.gateway import LocalStudy
    from taper_app.storage.uow import DatabaseBusy

    window = open_window("nurse")

    def busy(*args, **kwargs):
        raise DatabaseBusy("The database is busy (another window or program is saving).")

    monkeypatch.setattr(LocalStudy, "patient_rows", busy)
    window.refresh()
    [shown] = message_log.take("error")
    assert shown.title == "Cannot load the patients" and "busy" in shown.text
    assert "F5" in shown.detail
    assert window.isVisible()


def test_dialogs_open_window_modal_without_blocking(open_window, patient, qtbot):
    """The real DialogHost: open() returns at once; the dialog goes when it is closed."""
    from .conftest import REAL_PRESENT

    window = open_window("nurse")
    form = DoseDialog.new_dose(window.ctx, window.study, window.current_row().record, window)
    REAL_PRESENT(form)
    assert form.isVisible() and form.isModal()
    assert form.windowModality() == Qt.WindowModality.WindowModal
    with qtbot.waitSignal(form.destroyed, timeout=2000):
        form.reject()


def test_every_window_carries_the_application_icon(open_window):
    from taper_app.ui.app import application

    window = open_window("nurse")
    assert not application().windowIcon().isNull()
    assert not window.windowIcon().isNull()


def test_the_count_of_one_patient_is_singular(open_window, patient):
    window = open_window("nurse")
    assert window.count_label.text() == "1 patient"
