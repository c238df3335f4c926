"""Every dialog and view fits a small laptop (1366x768 and 1280x720, at 100 % and 125 %
display scaling) with nothing clipped: each label's and button's text measured with its
font against the room it has. Forms keep their layout when a message appears."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from taper_app.services.accounts import reset_password
from taper_app.services.gateway import LocalConnection
from taper_app.ui.audit_view import AuditDialog
from taper_app.ui.calendar_dialog import DosingCalendarDialog
from taper_app.ui.dose_form import DoseDialog, VoidDialog
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.help_viewer import HelpViewer
from taper_app.ui.idle_lock import LockDialog
from taper_app.ui.login import LoginDialog
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QApplication, QCheckBox, Qt, QWidget
from taper_app.ui.returned_calendar import ReturnedCalendarDialog
from taper_app.ui.schedule_view import AmendDialog
from taper_app.ui.sign_dialog import SignDialog
from tests.conftest import context

from .conftest import DAY1
from .fit import SCREENS, clipped, minimum_size, show_on_screen

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _report(problems: list[str]) -> list[str]:
    import os
    if os.environ.get("FIT_REPORT"):
        with open(os.environ["FIT_REPORT"], "a", encoding="utf-8") as out:
            out.write("\n".join(problems) + "\n")
    return problems


def _check(window: QWidget, what: str) -> list[str]:
    """What does not fit, on each screen."""
    problems = []
    for name, width, height in SCREENS:
        size = show_on_screen(window, width, height)
        if size is None:
            hint = minimum_size(window)
            problems.append(f"{what} on {name}: even its minimum size "
                            f"{hint.width()}x{hint.height()} does not fit")
            continue
        problems += [f"{what} on {name} ({size.width()}x{size.height()}): {c}"
                     for c in clipped(window)]
    return problems


@pytest.fixture
def windows(open_window, patient, db, dialogs, keyboard, qtbot
            ) -> Iterator[Callable[[str], MainWindow]]:
    yield open_window


def _every_dialog(window: MainWindow, dialogs: Any, keyboard: Any, role: str
                  ) -> Iterator[tuple[str, QWidget]]:
    """Open each dialog the role has, as the user would, one at a time."""

    def opened(trigger: Callable[[], None], kind: type) -> QWidget:
        before = len(dialogs.opened)
        trigger()
        assert len(dialogs.opened) > before, f"no {kind.__name__} opened"
        return dialogs.last(kind)

    a = window.actions_by_name
    if role == "nurse":
        yield "new dose", opened(a["new_dose"].trigger, DoseDialog)
        gap_first, gap_last = DAY1, DAY1
        yield "dose for missing days", opened(
            lambda: window.open_gap(gap_first, gap_last), DoseDialog)
        window.detail.history_view.selectRow(0)
        yield "correction", opened(a["correct_dose"].trigger, DoseDialog)
        window.detail.history_view.selectRow(0)
        yield "void", opened(a["void_dose"].trigger, VoidDialog)
        yield "enroll", opened(a["enroll"].trigger, EnrollDialog)
        yield "returned calendar", opened(a["returned_calendar"].trigger,
                                          ReturnedCalendarDialog)
        yield "dosing calendar", opened(a["calendar"].trigger, DosingCalendarDialog)
        yield "patient audit trail", opened(a["patient_audit"].trigger, AuditDialog)
    else:
        yield "amend", opened(a["amend"].trigger, AmendDialog)
        yield "sign", opened(a["sign"].trigger, SignDialog)
        yield "study audit trail", opened(a["study_audit"].trigger, AuditDialog)


@pytest.mark.parametrize("role", ["nurse", "investigator"])
def test_every_dialog_fits_a_small_screen_with_nothing_clipped(
        windows, role, dialogs, keyboard, qtbot):
    window = windows(role)
    problems = []
    for what, dialog in _every_dialog(window, dialogs, keyboard, role):
        problems += _check(dialog, what)
        if hasattr(dialog, "discard"):
            dialog.discard()
        else:
            dialog.close()
    assert _report(problems) == []


@pytest.mark.parametrize("role", ["nurse", "investigator"])
def test_the_main_window_its_tabs_and_the_dashboard_fit(windows, role, qtbot):
    window = windows(role)
    problems = []
    for i in range(window.detail.tabs.count()):
        window.detail.tabs.setCurrentIndex(i)
        QApplication.processEvents()
        problems += _check(window, f"main window, {window.detail.tabs.tabText(i)} tab")
    window.show_dashboard()
    assert window.dashboard is not None
    problems += _check(window.dashboard, "dashboard")
    window.dashboard.close()
    window.show_user_guide()
    assert isinstance(window.help_viewer, HelpViewer)
    problems += _check(window.help_viewer, "user guide")
    window.help_viewer.close()
    window.lock_now()
    lock = window.idle_lock.dialog
    assert isinstance(lock, LockDialog)
    problems += _check(lock, "lock")
    window.idle_lock._unlock()
    assert _report(problems) == []


def test_the_sign_in_and_the_first_sign_in_password_dialog_fit(db, study, qtbot):
    reset_password(context(db, "admin"), "nurse", "a-first-password-1", "new account")
    login = LoginDialog(LocalConnection(db), study)
    qtbot.addWidget(login)
    login.show()
    problems = _check(login, "sign-in")
    login.username.setText("nurse")
    login.password.setText("a-first-password-1")
    login.sign_in()
    assert login.changing_password()
    problems += _check(login, "choose your own password")
    assert _report(problems) == []


def test_no_checkbox_is_in_the_typing_path_of_a_form(windows, dialogs, keyboard):
    window = windows("nurse")
    for what, dialog in _every_dialog(window, dialogs, keyboard, "nurse"):
        boxes = [b for b in dialog.findChildren(QCheckBox) if b.isVisibleTo(dialog)]
        assert all(b.focusPolicy() == Qt.FocusPolicy.NoFocus for b in boxes
                   if not isinstance(dialog, AuditDialog)), what
        if hasattr(dialog, "discard"):
            dialog.discard()
        else:
            dialog.close()


def _field_places(dialog: QWidget) -> dict[str, tuple[int, int, int, int]]:
    """Where each named input sits in the dialog."""
    places = {}
    for field in dialog.findChildren(QWidget):
        name = field.objectName()
        if name and field.isVisibleTo(dialog) and field.focusPolicy() != Qt.FocusPolicy.NoFocus \
                and not name.startswith("qt_"):
            top_left = field.mapTo(dialog, field.rect().topLeft())
            places[name] = (top_left.x(), top_left.y(), field.width(), field.height())
    return places


@pytest.mark.parametrize(("role", "action", "kind", "typed"), [
    ("nurse", "new_dose", DoseDialog, {"dose_mg": "", "start_date": "2026-13-40"}),
    ("nurse", "enroll", EnrollDialog, {"subject_id": "", "baseline_mg": "-1"}),
    ("investigator", "amend", AmendDialog, {"day": "0", "dose_mg": "x"}),
])
def test_a_form_keeps_its_layout_when_messages_appear(windows, dialogs, keyboard, role,
                                                      action, kind, typed):
    """A click meant for one field never lands in another because a message moved it."""
    window = windows(role)
    window.actions_by_name[action].trigger()
    form = dialogs.last(kind)
    for name, text in typed.items():
        getattr(form, name).setText(text)
    QApplication.processEvents()
    before = _field_places(form)
    keyboard.enter()  # refused: every problem marked at its field
    QApplication.processEvents()
    assert form.isVisible() and form.errors.marked()
    for name in typed:
        assert form.errors.message(name), name
    assert _field_places(form) == before
    form.discard()


def test_the_dose_form_is_two_fields_a_row_in_typing_order(windows, dialogs, keyboard):
    window = windows("nurse")
    window.actions_by_name["new_dose"].trigger()
    form = dialogs.last(DoseDialog)
    order = [form.drug, form.dose_mg, form.frequency, form.route, form.start_date,
             form.end_date, form.source, form.comment]
    assert keyboard.focus is order[0]
    for expected in order[1:]:
        keyboard.tab()
        assert keyboard.focus is expected
    # Side by side: the form is wider than high, and fits 1280x720 at 125 %.
    places = _field_places(form)
    assert places["frequency"][1] == places["route"][1]  # one row
    assert places["start_date"][1] == places["end_date"][1]
    form.discard()


def test_a_long_message_is_cut_at_its_field_and_said_in_full_below(windows, dialogs,
                                                                    keyboard):
    window = windows("nurse")
    window.actions_by_name["new_dose"].trigger()
    form = dialogs.last(DoseDialog)
    QApplication.processEvents()
    before = _field_places(form)
    form.dose_mg.setFocus()
    keyboard.replace("1,000")  # a comma with three decimals: a long message
    form.comment.setFocus()
    keyboard.enter()
    QApplication.processEvents()
    whole = form.errors.message("dose_mg")
    assert "thousands separator" in whole
    line = form.findChild(QWidget, "dose_mg_error")
    assert line.text().endswith("…") and line.toolTip() == whole  # one line, cut
    assert f"Dose: {whole}" in form.general_error.text()  # and in full below the form
    entry = ("drug", "dose_mg", "frequency", "route", "start_date", "end_date", "source",
             "comment")  # (the read-out below them says other things for a wrong dose)
    after = _field_places(form)
    assert {n: after[n] for n in entry} == {n: before[n] for n in entry}
    form.discard()


def test_the_dose_form_keeps_its_layout_when_the_close_ongoing_choice_appears(
        windows, dialogs, keyboard):
    """Changing the dose shows the two-line 'Close the ongoing record …' choice: the room
    for it is kept while it is hidden, so Reason and Save stay where the eye left them."""
    window = windows("nurse")
    window.actions_by_name["new_dose"].trigger()
    form = dialogs.last(DoseDialog)
    assert not form.close_ongoing.isVisibleTo(form)  # the pre-filled dose goes on
    QApplication.processEvents()
    before = _field_places(form)
    form.dose_mg.setFocus()
    keyboard.replace("7,5")
    QApplication.processEvents()
    assert form.close_ongoing.isVisibleTo(form)
    assert "\n" in form.close_ongoing.text()  # two lines, as measured for
    assert _field_places(form) == before
    form.discard()
