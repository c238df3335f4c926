"""The session on a shared clinic laptop: Lock now (Ctrl+L), Switch user, Sign out; after
unlocking the cursor is back where it was with nothing selected. Keyboard first."""

from __future__ import annotations

from taper_app.ui import app as app_module
from taper_app.ui.audit_view import AuditDialog
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.main_window import QUIT, SIGN_IN_AGAIN, MainWindow
from taper_app.ui.qt import QApplication, QLabel, QLineEdit, Qt, QWidget
from tests.conftest import PASSWORD, TODAY, fixed_clock

from .conftest import activate, audit_rows, dose_rows, study_menu, when_the_window_shows

CTRL = Qt.KeyboardModifier.ControlModifier


def _visible_windows() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible()
            and w.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)]


def _unlock(window, keyboard, qtbot) -> None:
    lock = window.idle_lock.dialog
    assert lock is not None
    qtbot.waitUntil(lambda: QApplication.focusWidget() is lock.password, timeout=2000)
    keyboard.type(PASSWORD)
    keyboard.enter()
    assert not window.idle_lock.is_locked


def test_ctrl_l_locks_at_once_and_unlocking_puts_the_cursor_back_with_nothing_selected(
        open_window, patient, keyboard, dialogs, db, qtbot):
    window = open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    keyboard.tab()
    assert keyboard.focus is form.dose_mg
    assert form.dose_mg.hasSelectedText()  # Tab selects the pre-filled dose, as it should
    keyboard.replace("12.5")
    keyboard.press(Qt.Key.Key_Left)  # the cursor between 12 and .5
    keyboard.press(Qt.Key.Key_Left)
    keyboard.press(Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # "." selected
    assert form.dose_mg.selectedText() == "." and form.dose_mg.cursorPosition() == 3

    keyboard.shortcut(Qt.Key.Key_L, CTRL)  # from inside the form, not only the window
    assert window.idle_lock.is_locked
    assert not window.isVisible() and not form.isVisible()
    lock = window.idle_lock.dialog
    intro = " ".join(label.text() for label in lock.findChildren(QLabel))
    assert "The window was locked." in intro and "minutes without use" not in intro
    _unlock(window, keyboard, qtbot)

    assert form.isVisible()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is form.dose_mg, timeout=2000)
    assert not form.dose_mg.hasSelectedText()
    assert form.dose_mg.text() == "12.5"
    assert form.dose_mg.cursorPosition() == 3
    keyboard.type("0")  # the next key goes in at the cursor; it replaces nothing
    assert form.dose_mg.text() == "12.05"
    assert len(audit_rows(db, "unlock")) == 1
    form.discard()


def test_the_cursor_comes_back_in_the_main_window_too(open_window, patient, keyboard, qtbot):
    window = open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_F, CTRL)
    keyboard.type("101")
    assert keyboard.focus is window.filter_edit
    window.filter_edit.selectAll()
    keyboard.shortcut(Qt.Key.Key_L, CTRL)
    assert window.idle_lock.is_locked and not window.isVisible()
    _unlock(window, keyboard, qtbot)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is window.filter_edit, timeout=2000)
    assert not window.filter_edit.hasSelectedText()
    keyboard.type("-001")
    assert window.filter_edit.text() == "101-001"


def test_switch_user_keeps_nothing_of_the_previous_user_on_screen(
        open_window, patient, keyboard, dialogs, db, message_log, qtbot):
    window = open_window("nurse")
    audit = AuditDialog.build(window.ctx, patient, window)
    dialogs.present(audit)
    window.show_dashboard()
    activate(qtbot, window)
    keyboard.shortcut(Qt.Key.Key_N, CTRL)
    form = dialogs.last(DoseDialog)
    keyboard.tab()
    keyboard.replace("12.5")  # typed, not saved
    before = len(dose_rows(db))

    message_log.answers.append(False)  # "Discard what you typed?" No: keep editing
    window.actions_by_name["switch_user"].trigger()
    assert window.isVisible() and form.isVisible()
    assert [m.title for m in message_log.take("question")] == ["Discard what you typed?"]
    assert audit_rows(db, "sign_out") == []

    message_log.answers.append(True)
    window.actions_by_name["switch_user"].trigger()
    assert message_log.take("question")
    assert window.next_step == SIGN_IN_AGAIN
    assert _visible_windows() == []  # the window, the form, the dashboard, the audit trail
    assert len(dose_rows(db)) == before  # nothing of the form was saved
    [out] = audit_rows(db, "sign_out")
    assert (out.username, out.new_value) == ("nurse", "switch user")
    assert not window.idle_lock.timer.isActive()


def test_sign_out_with_nothing_typed_asks_nothing_and_closes_the_program(
        open_window, patient, db, message_log):
    window = open_window("investigator")
    window.actions_by_name["sign_out"].trigger()
    assert message_log.take("question") == []
    assert not window.isVisible() and window.next_step == QUIT
    [out] = audit_rows(db, "sign_out")
    assert (out.username, out.new_value) == ("investigator", "sign out")


def test_the_study_menu_holds_the_session_and_its_mnemonics_do_not_clash(open_window,
                                                                          patient):
    window = open_window("nurse")
    texts = [a.text() for a in study_menu(window).actions() if not a.isSeparator()]
    assert texts[-4:] == ["&Lock now", "S&witch user…", "Sign &out", "&Quit"]
    assert window.actions_by_name["lock"].shortcut().toString() == "Ctrl+L"
    # The menus' Alt keys (Study, Patient, Help) are not taken by the patient tabs.
    menu_keys = {a.text().split("&")[1][0].lower() for a in window.menuBar().actions()}
    tabs = window.detail.tabs
    tab_keys = {tabs.tabText(i).split("&")[1][0].lower() for i in range(tabs.count())}
    assert menu_keys == {"s", "p", "h"} and not menu_keys & tab_keys


def test_run_gui_signs_the_next_user_in_after_a_switch_and_shows_only_their_window(
        db, db_path, study, patient, message_log, monkeypatch, qtbot):
    """The real start-up loop: nurse signs in, switches user; the investigator's window
    is a new one, and nothing of the nurse's is left on screen."""
    queue = ["nurse", "investigator"]
    seen: list[tuple[str, list[str]]] = []

    def sign_in(connection, study_info, clock):
        # What is on screen while the sign-in is asked: nothing of the previous user.
        seen.append(("sign-in", [w.windowTitle() for w in _visible_windows()]))
        return connection.authenticate(queue.pop(0), PASSWORD, clock) if queue else None

    def act(window: MainWindow) -> None:
        seen.append((window.actor.username, [w.windowTitle() for w in _visible_windows()]))
        if window.actor.username == "nurse":
            window.switch_user()
            when_the_window_shows(act, after_ms=50)
        else:
            window.sign_out()

    monkeypatch.setattr(app_module.LoginDialog, "ask", staticmethod(sign_in))
    when_the_window_shows(act)
    status = app_module.run_gui(str(db_path), today=lambda: TODAY, clock=fixed_clock)

    assert status == 0
    names = [who for who, _ in seen]
    assert names == ["sign-in", "nurse", "sign-in", "investigator"]
    assert seen[2][1] == []  # at the second sign-in no window of the nurse's is visible
    investigator_titles = seen[3][1]
    assert investigator_titles and all("nurse" not in t.lower() for t in investigator_titles)
    assert [r.new_value for r in audit_rows(db, "sign_out")] == ["switch user", "sign out"]
    assert not [w for w in QApplication.topLevelWidgets()
                if isinstance(w, QLineEdit) and w.isVisible()]
