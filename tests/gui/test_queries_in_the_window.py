"""Queries in the window (the services of ``taper-app query``), by keyboard: the monitor
opens one on the patient or a dose record from the Queries view (Ctrl+Shift+Q); the site
sees it to answer and answers; the monitor sees it to close, asks again or closes it. The
patient pane says how many are open and its link opens the view on the patient."""

from __future__ import annotations

from taper_app.services.queries import answer_query, close_query, list_queries, open_query
from taper_app.services.validation import MAX_TEXT_LENGTH
from taper_app.ui.qt import QPushButton, Qt
from taper_app.ui.queries_view import QueriesDialog, QueriesModel, QueryStepDialog

from .conftest import audit_rows

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
ALT = Qt.KeyboardModifier.AltModifier


def _press(keyboard, qtbot, key) -> None:  # type: ignore[no-untyped-def]
    """A button's mnemonic (Alt+key): it animates a click, so wait for the click."""
    clicked = []
    widget = keyboard.focus.window()
    for button in widget.findChildren(QPushButton):
        button.clicked.connect(lambda *_a, b=button: clicked.append(b))
    keyboard.shortcut(key, ALT)
    qtbot.waitUntil(lambda: bool(clicked), timeout=2000)


def _cells(view: QueriesDialog, column: int) -> list[str]:
    model = view.model
    return [model.index(r, column).data() for r in range(model.rowCount())]


def test_the_monitor_opens_a_query_on_a_dose_record_by_keyboard(open_window, patient, db,
                                                                dialogs, keyboard,
                                                                monitor, qtbot):
    window = open_window("monitor")
    assert not window.detail.queries.isVisible()
    window.detail.history_view.selectRow(1)  # the first record: 20 mg, Day 1-28
    chosen = window.detail.selected_history()
    assert chosen is not None
    keyboard.shortcut(Qt.Key.Key_Q, CTRL_SHIFT)
    view = dialogs.last(QueriesDialog)
    assert view.model.rowCount() == 0
    assert view.answer_button.isHidden() and not view.new_button.isHidden()
    assert view.new_button.text() == "&New query on 101-001…"
    _press(keyboard, qtbot, Qt.Key.Key_N)
    form = dialogs.last(QueryStepDialog)
    assert form.about_box.currentData() == chosen.dose.id  # the selected record
    assert "prednisone 20 mg QD from" in form.about_box.currentText()
    keyboard.type("Chart says 15 mg on Day 3")
    keyboard.enter()
    assert not form.isVisible()
    [q] = list_queries(monitor)
    assert (q.record_id, q.state, q.opened_by, q.text) == (
        chosen.dose.id, "open", "monitor", "Chart says 15 mg on Day 3")
    assert [r.action for r in audit_rows(db, "open_query")] == ["open_query"] * 3
    # The view shows it in words, and the patient pane has the line.
    assert _cells(view, QueriesModel.SUBJECT) == ["101-001"]
    assert _cells(view, QueriesModel.ABOUT)[0].startswith("prednisone 20 mg QD from")
    assert _cells(view, QueriesModel.STATE) == ["Open – to answer"]
    assert _cells(view, QueriesModel.LAST) == ["opened by monitor: Chart says 15 mg on Day 3"]
    assert "query" in window.statusBar().currentMessage()
    assert window.detail.queries.isVisible()
    assert "1 open query" in window.detail.queries.text()


def test_a_query_needs_its_text_and_at_most_the_limit(open_window, patient, dialogs,
                                                     keyboard, monitor):
    window = open_window("monitor")
    window.actions_by_name["open_query"].trigger()
    form = dialogs.last(QueryStepDialog)
    assert form.about_box.currentData() is None  # nothing selected: the patient
    keyboard.enter()
    assert form.isVisible()
    assert "required" in form.errors.message("text")
    form.text.setText("x" * (MAX_TEXT_LENGTH + 1))
    keyboard.enter()
    assert form.isVisible()
    assert f"at most {MAX_TEXT_LENGTH:,}" in form.errors.message("text")
    assert list_queries(monitor) == []


def test_the_site_answers_what_is_open(open_window, patient, db, dialogs, keyboard,
                                      monitor, nurse, qtbot):
    first = open_query(monitor, patient, "Kit number?")
    second = open_query(monitor, patient, "Day 29 dose?")
    answer_query(nurse, second, "16 mg, as charted")  # answered: not the nurse's to do
    window = open_window("nurse")
    assert "2 open queries (1 answered, to close)" in window.detail.queries.text()
    assert not window.actions_by_name["open_query"].isVisible()
    keyboard.shortcut(Qt.Key.Key_Q, CTRL_SHIFT)
    view = dialogs.last(QueriesDialog)
    assert view.show_box.currentText() == "To answer (open)"
    assert _cells(view, QueriesModel.LAST) == ["opened by monitor: Kit number?"]
    assert view.new_button.isHidden() and view.close_query_button.isHidden()
    assert "Kit number?" in view.detail.toPlainText()
    _press(keyboard, qtbot, Qt.Key.Key_A)
    form = dialogs.last(QueryStepDialog)
    assert "Kit number?" in form.findChild(type(view.detail), "query_thread").toPlainText()
    keyboard.type("K-1, on the label")
    keyboard.enter()
    assert not form.isVisible()
    assert view.model.rowCount() == 0  # nothing left to answer
    assert {q.id: q.state for q in list_queries(nurse)} == {first: "answered",
                                                            second: "answered"}
    assert [(r.username, r.new_value) for r in audit_rows(db, "answer_query")
            if r.field == "text"][-1] == ("nurse", "K-1, on the label")
    assert "2 open queries (2 answered, to close)" in window.detail.queries.text()


def test_the_monitor_asks_again_then_closes(open_window, patient, dialogs, keyboard,
                                           monitor, nurse, qtbot):
    q = open_query(monitor, patient, "Kit number?")
    answer_query(nurse, q, "K-1")
    window = open_window("monitor")
    keyboard.shortcut(Qt.Key.Key_Q, CTRL_SHIFT)
    view = dialogs.last(QueriesDialog)
    assert _cells(view, QueriesModel.STATE) == ["Answered – to close"]
    assert _cells(view, QueriesModel.LAST) == ["answered by nurse: K-1"]
    _press(keyboard, qtbot, Qt.Key.Key_G)
    form = dialogs.last(QueryStepDialog)
    keyboard.type("The label says K-7")
    keyboard.enter()
    assert not form.isVisible()
    assert _cells(view, QueriesModel.STATE) == ["Open – to answer"]
    assert not view.reask_button.isEnabled()  # open again: the site's turn
    answer_query(nurse, q, "K-7 indeed; kit corrected")
    view.reload(keep=q)
    _press(keyboard, qtbot, Qt.Key.Key_L)
    form = dialogs.last(QueryStepDialog)
    keyboard.enter()  # a closing note is optional
    assert not form.isVisible()
    assert view.model.rowCount() == 0  # closed: not in "to close and open"
    [closed] = list_queries(monitor)
    assert closed.state == "closed"
    assert [m.kind for m in closed.messages] == ["answer", "reask", "answer", "close"]
    assert not window.detail.queries.isVisible()
    view.show_box.setCurrentIndex(view.show_box.findText("All"))
    assert _cells(view, QueriesModel.STATE) == ["Closed"]


def test_the_pane_link_opens_the_view_on_the_patient(open_window, patient, dialogs, study,
                                                    monitor, nurse):
    from .conftest import DAY1, enroll
    enroll(nurse, study, "101-002", DAY1)
    open_query(monitor, "101-002", "Other patient")
    open_query(monitor, patient, "This patient")
    window = open_window("nurse")
    assert window.select_subject(patient)
    window.detail.queries.linkActivated.emit("queries")
    view = dialogs.last(QueriesDialog)
    assert view.patient.currentData() == patient
    assert _cells(view, QueriesModel.LAST) == ["opened by monitor: This patient"]
    view.patient.setCurrentIndex(0)  # all patients
    assert sorted(_cells(view, QueriesModel.SUBJECT)) == ["101-001", "101-002"]


def test_the_list_flags_a_patient_with_open_queries(open_window, patient, monitor, nurse):
    from taper_app.ui.models import PatientTableModel
    q = open_query(monitor, patient, "Kit number?")
    window = open_window("nurse")
    model = window.patients_model
    row = model.row_of_subject(patient)
    assert model.index(row, PatientTableModel.STATUS).data().endswith(" · query")
    tip = model.index(row, PatientTableModel.STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert "• 1 open query" in tip
    window.filter_edit.setText("query")  # the find box finds them
    assert window.patients_proxy.rowCount() == 1
    answer_query(nurse, q, "K-1")
    close_query(monitor, q)
    window.refresh()
    assert "query" not in model.index(row, PatientTableModel.STATUS).data()


def test_a_query_closed_meanwhile_is_not_answered(open_window, patient, dialogs, keyboard,
                                                 monitor, nurse, qtbot):
    q = open_query(monitor, patient, "Kit number?")
    open_window("nurse")
    keyboard.shortcut(Qt.Key.Key_Q, CTRL_SHIFT)
    view = dialogs.last(QueriesDialog)
    _press(keyboard, qtbot, Qt.Key.Key_A)
    form = dialogs.last(QueryStepDialog)
    close_query(monitor, q, "found it myself")  # the monitor, meanwhile
    keyboard.type("K-1")
    keyboard.enter()
    assert form.isVisible()  # refused, the answer still typed
    assert form.text.text() == "K-1"
    assert "is closed; it can be answered only when open" in form.general_error.text()
    [closed] = list_queries(nurse)
    assert [m.kind for m in closed.messages] == ["close"]
    assert view.model.rowCount() == 1  # (as it was when the form opened)
    form.discard()
    assert view.model.rowCount() == 0  # cancelled: the view shows it closed


def test_an_investigator_answers_an_administrator_takes_no_step(open_window, patient,
                                                                dialogs, monitor):
    open_query(monitor, patient, "Kit number?")
    window = open_window("investigator")
    window.show_queries()
    view = dialogs.last(QueriesDialog)
    assert not view.answer_button.isHidden() and view.answer_button.isEnabled()
    assert view.new_button.isHidden() and view.reask_button.isHidden()
    view.accept()
    admin = open_window("admin")
    admin.show_queries()
    view = dialogs.last(QueriesDialog)
    assert all(b.isHidden() for b in (view.answer_button, view.new_button,
                                       view.reask_button, view.close_query_button))
