"""The window through the application server, for real: a PostgreSQL server, a
``taper-app serve`` process on the server's own granted role, and the window (pytest-qt)
talking to it as a site laptop would, beside a window on the same database opened
directly (IT's door), which must show the same figures."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from taper_app.remote.client import RemoteStudy
from taper_app.remote.gateway import ServerConnection, ServerStudy
from taper_app.services.accounts import list_users
from taper_app.services.calendar import ReturnedDay
from taper_app.services.patients import record_dose
from taper_app.services.settings import load_settings
from taper_app.services.study import StudyInfo, add_user, authenticate
from taper_app.storage.engine import Database
from taper_app.storage.models import Signature, User
from taper_app.storage.uow import UnitOfWork
from taper_app.ui import app as ui_app
from taper_app.ui.admin import SettingsDialog, UserChangeDialog, UsersDialog
from taper_app.ui.audit_view import AuditDialog
from taper_app.ui.calendar_dialog import DosingCalendarDialog
from taper_app.ui.corrections import CorrectEnrollmentDialog
from taper_app.ui.dose_form import DoseDialog, VoidDialog
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.login import LoginDialog
from taper_app.ui.main_window import SIGN_IN_AGAIN, MainWindow
from taper_app.ui.qt import QApplication, QLabel, QTimer
from taper_app.ui.queries_view import QueriesDialog, QueryStepDialog
from taper_app.ui.schedule_view import AmendDialog
from taper_app.ui.sign_dialog import SignDialog
from taper_app.ui.tasks import TaskRunner
from taper_app.ui.verification import VerifyDialog
from tests.conftest import PASSWORD, TODAY, context, fixed_clock
from tests.integration.server_process import application_role, running_server

from .conftest import (
    DAY1,
    activate,
    amendment_rows,
    audit_rows,
    dose,
    dose_rows,
    enroll,
    patient_rows,
)

pytestmark = pytest.mark.postgres_only


def _set_up(db: Database, study: StudyInfo) -> None:
    """Three patients at two sites; Nora a nurse of site 101, Ivy an investigator of every
    site, Newbie a nurse who still has the first password an administrator gave."""
    nurse = context(db, "nurse")
    for subject, site in (("101-001", "101"), ("101-002", "101"), ("102-001", "102")):
        enroll(nurse, study, subject, DAY1, site=site)
    dose(nurse, study, "101-001", "20", DAY1, DAY1 + timedelta(days=27))
    dose(nurse, study, "101-001", "16", DAY1 + timedelta(days=28))
    dose(nurse, study, "101-002", "20", DAY1, DAY1 + timedelta(days=30))  # then a gap
    dose(nurse, study, "102-001", "20", DAY1)
    admin = context(db, "admin")
    add_user(admin, "nora", "nurse", "Nora Nurse", PASSWORD, sites=["101"])
    add_user(admin, "ivy", "investigator", "Ivy Investigator", PASSWORD)
    add_user(admin, "newbie", "nurse", "Nina Newbie", PASSWORD, sites=["101"])
    with UnitOfWork(db) as uow:
        uow.session.execute(update(User).where(User.username != "newbie").values(
            must_change_password=False))
        uow.commit()


@pytest.fixture
def server(db: Database, db_url: str, study: StudyInfo, tmp_path: Path) -> Iterator[str]:
    _set_up(db, study)
    with contextlib.contextmanager(application_role)(db_url) as app_url, \
            running_server(app_url, tmp_path / "server.log") as url:
        yield url


@dataclass
class Windows:
    """Opens windows through the server (and directly on the database, to compare)."""

    qtbot: Any
    url: str
    db: Database
    study: StudyInfo
    connections: list[ServerConnection]

    def _shown(self, window: MainWindow) -> MainWindow:
        self.qtbot.addWidget(window)
        window.show()
        self.qtbot.waitExposed(window)
        activate(self.qtbot, window)
        return window

    def through_server(self, username: str) -> MainWindow:
        connection = ServerConnection(self.url)
        self.connections.append(connection)
        actor = connection.authenticate(username, PASSWORD, fixed_clock)
        assert actor is not None
        gateway = connection.open(actor, fixed_clock, lambda: TODAY)
        return self._shown(MainWindow(gateway, gateway.load_study(), actor,
                                      today=lambda: TODAY, clock=fixed_clock,
                                      tasks=TaskRunner(synchronous=True)))

    def on_database(self, username: str) -> MainWindow:
        actor = authenticate(self.db, username, PASSWORD, fixed_clock)
        return self._shown(MainWindow(self.db, self.study, actor, today=lambda: TODAY,
                                      clock=fixed_clock, tasks=TaskRunner(synchronous=True)))


@pytest.fixture
def windows(qtbot: Any, server: str, db: Database, study: StudyInfo) -> Iterator[Windows]:
    made = Windows(qtbot, server, db, study, [])
    yield made
    for connection in made.connections:
        connection.close()


def list_texts(window: MainWindow) -> list[list[str]]:
    model = window.patients_model
    return [[str(model.data(model.index(r, c))) for c in range(model.columnCount())]
            for r in range(model.rowCount())]


def detail_texts(window: MainWindow) -> dict[str, Any]:
    d = window.detail
    history = d.history_model
    return {"title": d.title.text(), "about": d.about.text(), "badge": d.badge.text(),
            **{k: label.text() for k, label in d.figure_labels.items()},
            "history": [[str(history.data(history.index(r, c)))
                         for c in range(history.columnCount())]
                        for r in range(history.rowCount())],
            "signatures": d.signatures.texts()}


def signatures(db: Database) -> list[Signature]:
    with UnitOfWork(db, write=False) as uow:
        rows = list(uow.session.scalars(select(Signature).order_by(Signature.id)))
        uow.session.expunge_all()
        return rows


# ------------------------------------------------------------------ sign-in


def test_sign_in_through_the_server_refuses_a_wrong_password_then_signs_in(windows):
    connection = ServerConnection(windows.url)
    windows.connections.append(connection)
    dialog = LoginDialog(connection, None, fixed_clock)
    windows.qtbot.addWidget(dialog)
    assert any(label.text() == f"Server: {windows.url}"
               for label in dialog.findChildren(QLabel))
    dialog.username.setText("nora")
    dialog.password.setText("not-her-password")
    dialog.next_step()
    assert dialog.actor is None
    assert dialog.errors.message("password") == "unknown user or wrong password"
    assert dialog.password.text() == ""
    [failed] = audit_rows(windows.db, "sign_in_failed")
    assert (failed.username, failed.new_value) == ("nora", "1")
    dialog.password.setText(PASSWORD)
    dialog.next_step()
    assert dialog.actor is not None
    assert (dialog.actor.username, dialog.actor.role, dialog.actor.sites) == (
        "nora", "nurse", frozenset({"101"}))
    assert connection.remote.token is not None  # a server session, nothing else


def test_repeated_wrong_passwords_lock_the_account_as_on_a_file(windows):
    connection = ServerConnection(windows.url)
    windows.connections.append(connection)
    dialog = LoginDialog(connection, None, fixed_clock)
    windows.qtbot.addWidget(dialog)
    for _ in range(5):
        dialog.username.setText("nora")
        dialog.password.setText("wrong-password")
        dialog.next_step()
    dialog.password.setText(PASSWORD)  # the right one, now too late
    dialog.next_step()
    assert dialog.actor is None
    assert "the account is locked until" in dialog.errors.message("password")
    assert len(audit_rows(windows.db, "lock_account")) == 1


def test_a_first_password_is_changed_before_any_session_is_made(windows):
    connection = ServerConnection(windows.url)
    windows.connections.append(connection)
    dialog = LoginDialog(connection, None, fixed_clock)
    windows.qtbot.addWidget(dialog)
    dialog.username.setText("newbie")
    dialog.password.setText(PASSWORD)
    dialog.next_step()
    assert dialog.changing_password() and dialog.actor is None
    assert connection.remote.token is None  # no session with the first password
    assert "Choose your own password" in dialog.change_intro.text()
    dialog.new_password.setText("nina-own-password")
    dialog.repeat_password.setText("nina-own-password")
    dialog.next_step()
    assert dialog.actor is not None and dialog.actor.username == "newbie"
    assert not dialog.actor.must_change_password
    assert connection.remote.token is not None
    assert authenticate(windows.db, "newbie", "nina-own-password", fixed_clock).username == \
        "newbie"


# ------------------------------------------------------------------ the list and a patient


def test_the_list_and_a_patient_show_the_figures_the_database_shows(windows):
    remote = windows.through_server("nora")
    direct = windows.on_database("nora")
    assert remote.patients_model.rowCount() == 2  # site 101 only, as on the database
    assert list_texts(remote) == list_texts(direct)
    assert remote.database_label.text() == f"Application server: {windows.url}"
    for subject in ("101-002", "101-001"):
        remote.select_subject(subject)
        direct.select_subject(subject)
        assert remote.current_row().complete  # its record came with the switch
        assert detail_texts(remote) == detail_texts(direct)
        mine, theirs = remote.current_row(), direct.current_row()
        assert mine.summary == theirs.summary
        assert mine.analysis.gaps == theirs.analysis.gaps
        assert np.array_equal(mine.analysis.series.actual, theirs.analysis.series.actual,
                              equal_nan=True)
    assert remote.detail.gaps.isVisible() or remote.detail.no_gaps.isVisible()


def test_the_list_through_the_server_carries_no_dose_records(windows):
    remote = windows.through_server("ivy")
    rows = remote.patients_model.rows()
    # The first patient is selected, so loaded whole; the others hold the list's figures.
    assert [r.complete for r in rows] == [True, False, False]
    gateway = remote.gateway
    assert isinstance(gateway, ServerStudy)
    listed = gateway.remote.call("window_list", as_of=TODAY)
    assert [e.subject_id for e in listed] == ["101-001", "101-002", "102-001"]
    assert all(not hasattr(e, "record") for e in listed)
    assert {r.subject_id: r.summary for r in rows} == {e.subject_id: e.summary for e in listed}


# ------------------------------------------------------------------ changes


def test_a_dose_saved_through_the_server_is_stored_as_the_nurse_and_shown(windows, dialogs):
    window = windows.through_server("nora")
    before = len(dose_rows(windows.db))
    window.new_dose()
    form = dialogs.last(DoseDialog)
    form.dose_mg.setText("10.5")
    assert form.closes_ongoing()
    form.comment.setText("clinic visit 3")
    form.save_button.click()
    assert not form.isVisible()
    rows = dose_rows(windows.db)
    assert len(rows) == before + 1
    new = rows[-1]
    assert (new.dose_ug, new.start_date, new.comment, new.created_by) == (
        10_500, TODAY, "clinic visit 3", "nora")
    assert rows[1].end_date == TODAY - timedelta(days=1)  # the ongoing record closed
    # The window shows the saved record, and the figures the database window shows.
    direct = windows.on_database("nora")
    assert detail_texts(window)["history"] == detail_texts(direct)["history"]
    assert list_texts(window)[0] == list_texts(direct)[0]


def test_a_dose_saved_elsewhere_meanwhile_is_refused_with_input_kept(windows, dialogs,
                                                                   message_log):
    window = windows.through_server("nora")
    window.new_dose()
    form = dialogs.last(DoseDialog)
    form.comment.setText("typed before the other save")
    typed = form.fields()
    # Meanwhile, at another computer: the ongoing 16 mg record is closed by a new dose.
    record_dose(context(windows.db, "nurse"), windows.study, "101-001", {
        "drug": "prednisone", "dose_mg": "13", "frequency": "QD", "route": "PO",
        "start_date": (DAY1 + timedelta(days=42)).isoformat(), "end_date": "",
        "source": "clinic"}, close_ongoing=True)
    before = len(dose_rows(windows.db))
    form.save_button.click()
    [warned] = message_log.take("warning")
    assert "changed by someone else" in warned.text
    assert form.isVisible() and form.fields() == typed
    assert len(dose_rows(windows.db)) == before
    assert window.detail.history_model.rowCount() == 3  # reloaded through the server
    assert form.record.version == window.current_row().record.version
    form.deviation_reason.setText("kept on 16 mg by the investigator")
    form.save_button.click()
    assert not form.isVisible()
    assert dose_rows(windows.db)[-1].comment == "typed before the other save"


def test_a_record_is_voided_through_the_server(windows, dialogs):
    window = windows.through_server("nora")
    window.detail.history_view.selectRow(0)
    window.void_dose()
    form = dialogs.last(VoidDialog)
    form.reason.setText("entered for the wrong patient")
    form.save_button.click()
    assert not form.isVisible()
    voided = [r for r in dose_rows(windows.db) if r.voided]
    assert len(voided) == 1 and voided[0].void_reason == "entered for the wrong patient"
    assert [r.username for r in audit_rows(windows.db, "void_dose")] == ["nora"] * len(
        audit_rows(windows.db, "void_dose"))


def test_an_investigator_signs_through_the_server_with_the_password_again(windows, dialogs):
    window = windows.through_server("ivy")
    assert window.detail.signatures.texts() == ["Not signed."]
    window.sign_record()
    dialog = dialogs.last(SignDialog)
    dialog.through.setText((TODAY - timedelta(days=2)).isoformat())
    dialog.password.setText("not-my-password")
    dialog.save_button.click()
    assert dialog.isVisible() and signatures(windows.db) == []
    assert "wrong password" in dialog.errors.message("password")
    assert len(audit_rows(windows.db, "sign_failed")) == 1
    dialog.password.setText(PASSWORD)
    dialog.save_button.click()
    assert not dialog.isVisible()
    [stored] = signatures(windows.db)
    assert (stored.username, stored.signed_through) == ("ivy", TODAY - timedelta(days=2))
    [line] = window.detail.signatures.texts()
    assert line.startswith("✔ Ivy Investigator (ivy), reviewed, ")
    direct = windows.on_database("ivy")
    assert direct.detail.signatures.texts() == window.detail.signatures.texts()


def test_a_patient_is_enrolled_through_the_server(windows, dialogs):
    window = windows.through_server("nora")
    window.enroll_patient()
    form = dialogs.last(EnrollDialog)
    form.subject_id.setText("101-020")
    form.site.setEditText("101")
    form.day1_date.setText(DAY1.isoformat())
    form.baseline_mg.setText("20")
    form.kit_number.setText("K-55012")
    form.save_button.click()
    assert not form.isVisible()
    [new] = [p for p in patient_rows(windows.db) if p.subject_id == "101-020"]
    assert (new.site_code, new.baseline_ug, new.created_by) == ("101", 20_000, "nora")
    assert window.current_subject() == "101-020" and window.current_row().complete
    assert list_texts(window) == list_texts(windows.on_database("nora"))


def test_an_amendment_and_a_correction_of_enrollment_through_the_server(windows, dialogs,
                                                                       message_log):
    window = windows.through_server("ivy")
    window.correct_enrollment()
    correction = dialogs.last(CorrectEnrollmentDialog)
    correction.baseline.setText("25")
    correction.reason.setText("baseline misread from the CRF")
    correction.password.setText(PASSWORD)
    correction.save_button.click()
    assert not correction.isVisible()
    [patient] = [p for p in patient_rows(windows.db) if p.subject_id == "101-001"]
    assert patient.baseline_ug == 25_000
    # (an amendment in force blocks a correction of enrollment: it comes second)
    window.amend_schedule()
    form = dialogs.last(AmendDialog)
    form.day.setText("55")
    form.dose_mg.setText("20")
    form.reason.setText("flare: CK up, MMT-8 down")
    message_log.answers.append(True)  # "Amend the schedule?"
    form.save_button.click()
    assert not form.isVisible()
    [amendment] = amendment_rows(windows.db)
    assert (amendment.day, amendment.dose_ug, amendment.created_by) == (55, 20_000, "ivy")
    direct = windows.on_database("ivy")
    assert detail_texts(window) == detail_texts(direct)


def test_a_monitor_verifies_and_queries_and_the_site_answers_through_the_server(
        windows, dialogs):
    monitor = windows.through_server("monitor")
    monitor.verify_source()
    form = dialogs.last(VerifyDialog)
    form.through.setText("2026-05-31")
    form.save_button.click()
    assert not form.isVisible()
    assert "1 dose record(s) marked source-verified" in monitor.statusBar().currentMessage()
    assert list_texts(monitor) == list_texts(windows.on_database("monitor"))
    monitor.open_query()
    ask = dialogs.last(QueryStepDialog)
    ask.text.setText("Kit number?")
    ask.save_button.click()
    assert not ask.isVisible()
    nurse = windows.through_server("nora")
    nurse.show_queries()
    view = dialogs.last(QueriesDialog)
    assert view.model.rowCount() == 1
    view.table.selectRow(0)
    view.step("answer")
    answer = dialogs.last(QueryStepDialog)
    answer.text.setText("K-1, on the label")
    answer.save_button.click()
    assert not answer.isVisible()
    [(who, text)] = [(r.username, r.new_value) for r in audit_rows(windows.db, "answer_query")
                     if r.field == "text"]
    assert (who, text) == ("nora", "K-1, on the label")


def test_the_audit_trail_through_the_server_is_the_one_the_database_shows(
        windows, dialogs, tmp_path, monkeypatch):
    remote = windows.through_server("nora")
    direct = windows.on_database("nora")
    remote.show_study_audit()
    theirs = dialogs.last(AuditDialog)
    direct.show_study_audit()
    mine = dialogs.last(AuditDialog)
    assert [r.id for r in theirs.rows] == [r.id for r in mine.rows]
    assert theirs.count.text() == mine.count.text()
    paths = iter([tmp_path / "server.csv", tmp_path / "file.csv"])
    monkeypatch.setattr(AuditDialog, "ask_save_path", classmethod(lambda *a: next(paths)))
    theirs.export_csv()
    mine.export_csv()
    assert (tmp_path / "server.csv").read_text() == (tmp_path / "file.csv").read_text()


def test_users_and_settings_are_managed_through_the_server(windows, dialogs):
    window = windows.through_server("admin")
    window.show_users()
    users = dialogs.last(UsersDialog)
    assert [u.username for u in users.model.rows()] == [
        u.username for u in list_users(windows.db)]
    users.buttons["add"].click()
    form = dialogs.last(UserChangeDialog)
    form.username.setText("sam")
    form.full_name.setText("Sam Site-Nurse")
    form.role.setCurrentIndex(form.role.findData("nurse"))
    form.sites.setText("102")
    form.password.setText("first-password-1")
    form.repeat.setText("first-password-1")
    form.save()
    assert not form.isVisible()
    sam = next(u for u in list_users(windows.db) if u.username == "sam")
    assert (sam.role, sam.sites, sam.must_change_password) == ("nurse", ("102",), True)
    window.show_settings()
    settings = dialogs.last(SettingsDialog)
    settings.edits["idle_lock_minutes"].setText("30")
    settings.reason.setText("site policy")
    settings.save()
    assert not settings.isVisible()
    assert load_settings(windows.db)["idle_lock_minutes"] == 30
    assert [r.username for r in audit_rows(windows.db, "change_setting")] == ["admin"]


def test_the_dosing_calendar_is_previewed_and_printed_through_the_server(
        windows, dialogs, tmp_path, monkeypatch):
    monkeypatch.setattr(DosingCalendarDialog, "open_document", classmethod(lambda *a: True))
    remote = windows.through_server("nora")
    remote.dosing_calendar()
    theirs = dialogs.last(DosingCalendarDialog)
    direct = windows.on_database("nora")
    direct.dosing_calendar()
    mine = dialogs.last(DosingCalendarDialog)
    assert theirs.calendar is not None and theirs.calendar == mine.calendar
    theirs.folder = tmp_path
    theirs.print_calendar()
    [pdf] = list(tmp_path.glob("*.pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")
    gateway = remote.gateway
    assert isinstance(gateway, ServerStudy)
    [printed] = gateway.printed_calendars("101-001")
    assert printed.printed_by == "nora"


def test_a_returned_calendar_is_entered_through_the_server(windows):
    remote = windows.through_server("nora")
    gateway = remote.gateway
    assert isinstance(gateway, ServerStudy)
    first = TODAY - timedelta(days=6)
    days = [ReturnedDay(first + timedelta(days=i), Decimal("16"), "kept on 16 mg")
            for i in range(7)]
    version = remote.current_row().version
    saved = gateway.enter_returned_calendar("101-001", first, 1, "prednisone", days,
                                            close_ongoing=True, patient_version=version)
    assert saved.record_ids and all(r.created_by == "nora" for r in dose_rows(windows.db)
                                    if r.id in saved.record_ids)


def test_the_dashboard_through_the_server_draws_every_patient_as_the_database_does(
        windows):
    remote = windows.through_server("ivy")
    remote.show_dashboard()
    assert all(r.complete for r in remote.patients_model.rows())
    direct = windows.on_database("ivy")
    direct.show_dashboard()

    def lines(window: MainWindow) -> list[list[float]]:
        [ax] = window.dashboard.figure.axes
        return [list(np.asarray(line.get_ydata(), float)) for line in ax.lines]

    assert len(lines(remote)) == len(lines(direct)) >= 3
    for mine, theirs in zip(lines(remote), lines(direct), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    remote.dashboard.close()
    direct.dashboard.close()


# ------------------------------------------------------------------ the session


def test_the_idle_lock_unlocks_with_the_password_even_after_the_server_ended_the_session(
        windows):
    window = windows.through_server("nora")
    window.idle_lock.lock(now=True)
    lock = window.idle_lock.dialog
    assert lock is not None and not window.isVisible()
    lock.password.setText("not-the-password")
    lock.unlock_button.click()
    assert window.idle_lock.is_locked
    assert lock.errors.message("password") == "wrong password"
    [failed] = audit_rows(windows.db, "unlock_failed")
    assert failed.username == "nora"
    # The server ends the session (as after the idle minutes, or an administrator's
    # revocation); the user's password still opens the window, on a new session.
    admin = RemoteStudy(windows.url)
    admin.sign_in("admin", PASSWORD)
    assert admin.call("sessions_revoke", username="nora") == 1
    admin.close()
    lock.password.setText(PASSWORD)
    lock.unlock_button.click()
    assert not window.idle_lock.is_locked and window.isVisible()
    window.refresh()  # and the window works on
    assert window.patients_model.rowCount() == 2


def test_switch_user_ends_the_server_session_and_audits_it(windows):
    window = windows.through_server("nora")
    gateway = window.gateway
    assert isinstance(gateway, ServerStudy)
    token = gateway.remote.token
    assert token is not None
    window.switch_user()
    assert window.next_step == SIGN_IN_AGAIN and not window.isVisible()
    assert gateway.remote.token is None
    [signed_out] = [r for r in audit_rows(windows.db, "sign_out") if r.username == "nora"]
    assert signed_out.new_value == "switch user"
    reused = RemoteStudy(windows.url)
    reused.token = token  # the old token, replayed
    with pytest.raises(Exception, match="not valid"):
        reused.call("window_list", as_of=TODAY)
    reused.close()


def test_run_through_server_signs_in_shows_the_list_and_signs_the_next_user_in(
        windows, monkeypatch, message_log):
    """The real start-up loop through the server: Nora switches user, Ivy signs out."""
    queue = ["nora", "ivy"]
    seen: list[tuple[str, int]] = []

    def sign_in(connection: ServerConnection, study: StudyInfo | None,
                clock: Callable[..., Any]) -> Any:
        assert study is None  # the server names the study only after sign-in
        return connection.authenticate(queue.pop(0), PASSWORD, clock) if queue else None

    def act() -> None:
        shown = [w for w in QApplication.topLevelWidgets()
                 if isinstance(w, MainWindow) and w.isVisible()]
        if not shown or shown[0].current_row() is None:
            QTimer.singleShot(50, act)
            return
        window = shown[0]
        seen.append((window.actor.username, window.patients_model.rowCount()))
        if window.actor.username == "nora":
            window.switch_user()
            QTimer.singleShot(50, act)
        else:
            window.sign_out()

    monkeypatch.setattr(ui_app.LoginDialog, "ask", staticmethod(sign_in))
    QTimer.singleShot(0, act)
    status = ui_app.run_through_server(QApplication.instance(), ServerConnection(windows.url),
                                       today=lambda: TODAY, clock=fixed_clock)
    assert status == 0
    assert seen == [("nora", 2), ("ivy", 3)]
    assert message_log.take("error") == []
    outs = [(r.username, r.new_value) for r in audit_rows(windows.db, "sign_out")]
    assert outs == [("nora", "switch user"), ("ivy", "sign out")]



def test_a_change_brings_the_patient_back_with_it_and_only_for_the_reload_at_once(
        windows, monkeypatch):
    """A dose saved through the server answers with the patient as read right after it:
    the window's reload takes that (one round trip, not three); later, or for another
    date, the window asks the server again."""
    from taper_app.remote import gateway as remote_gateway

    window = windows.through_server("nora")
    gateway = window.gateway
    assert isinstance(gateway, ServerStudy)
    calls: list[str] = []
    real_call = gateway.remote.call

    def counted(use_case: str, **args: Any) -> Any:
        calls.append(use_case)
        return real_call(use_case, **args)

    monkeypatch.setattr(gateway.remote, "call", counted)
    fields = {"drug": "prednisone", "dose_mg": "5", "frequency": "QD", "route": "PO",
              "start_date": TODAY.isoformat(), "end_date": TODAY.isoformat(),
              "source": "diary", "comment": "", "deviation_reason": "extra 5 mg"}
    gateway.record_dose(windows.study, "101-001", dict(fields), close_ongoing=False,
                        patient_version=None)
    row = gateway.patient_row(windows.study, "101-001", TODAY)
    views, _missing = gateway.signatures("101-001")
    assert calls == ["window_record_dose"]
    direct = windows.on_database("nora")
    direct.select_subject("101-001")
    assert row.summary == direct.current_row().summary
    assert views == [] and direct.detail.signatures.texts() == ["Not signed."]
    gateway.patient_row(windows.study, "101-001", TODAY)  # used once: asked again
    assert calls[-1] == "window_patient"
    monkeypatch.setattr(remote_gateway, "FRESH_SECONDS", 0.0)
    gateway.record_dose(windows.study, "101-001", dict(fields), close_ongoing=False,
                        patient_version=None)
    gateway.patient_row(windows.study, "101-001", TODAY)  # too old now: asked again
    assert calls[-2:] == ["window_record_dose", "window_patient"]


def test_a_dose_inside_a_signed_period_is_asked_about_then_saved_through_the_server(
        windows, dialogs, message_log):
    """The check and the save are one call; a dose that would break a signature saves
    nothing until the nurse says so, then is saved (and the signature shows as broken)."""
    from taper_app.services.signatures import sign_record

    sign_record(context(windows.db, "investigator"), "101-001", TODAY - timedelta(days=2),
                "reviewed", PASSWORD)
    window = windows.through_server("nora")
    window.new_dose()
    form = dialogs.last(DoseDialog)
    form.start_date.setText((TODAY - timedelta(days=5)).isoformat())
    form.end_date.setText((TODAY - timedelta(days=5)).isoformat())
    form.dose_mg.setText("5")
    form.deviation_reason.setText("an extra 5 mg that day")
    before = len(dose_rows(windows.db))
    message_log.answers.append(False)  # "Save the change anyway?": go back
    form.save_button.click()
    [asked] = message_log.take("question")
    assert "Investigator Example (reviewed, through" in asked.text
    assert form.isVisible() and len(dose_rows(windows.db)) == before
    message_log.answers.append(True)
    form.save_button.click()
    message_log.take("question")
    assert not form.isVisible()
    assert len(dose_rows(windows.db)) == before + 1
    [line] = window.detail.signatures.texts()
    assert line.startswith("✘ NO LONGER VALID")


def test_the_windows_use_cases_refuse_another_sites_patient_with_nothing_written(windows):
    """Nora works for site 101: with her own session, every window use case on 102-001 (or
    its record) is refused as on a file, and the database is unchanged."""
    from taper_app.services.errors import PermissionDenied
    from tests.unit.services.test_patients import dump

    other_record = next(r.id for r in dose_rows(windows.db) if r.patient_id == next(
        p.id for p in patient_rows(windows.db) if p.subject_id == "102-001"))
    nora = RemoteStudy(windows.url)
    nora.sign_in("nora", PASSWORD)
    before = {t: r for t, r in dump(windows.db).items() if t not in ("audit_log", "audit_head")}
    fields = {"drug": "prednisone", "dose_mg": "5", "frequency": "QD", "route": "PO",
              "start_date": TODAY.isoformat(), "end_date": TODAY.isoformat(),
              "source": "clinic", "comment": "", "deviation_reason": "x"}
    forged = [
        ("window_patient", {"subject_id": "102-001", "as_of": TODAY}),
        ("window_signatures", {"subject_id": "102-001"}),
        ("window_signatures_broken", {"subject_id": "102-001", "first_changed": None}),
        ("window_record_dose", {"subject_id": "102-001", "fields": fields,
                                "close_ongoing": False, "patient_version": None,
                                "first_changed": None, "confirmed": True, "as_of": TODAY}),
        ("window_void_dose", {"record_id": other_record, "reason": "forged",
                              "expected_version": None, "patient_version": None,
                              "as_of": TODAY}),
        ("window_correct_dose", {"record_id": other_record, "reason": "forged",
                                 "fields": fields, "expected_version": None,
                                 "patient_version": None, "as_of": TODAY}),
        ("calendar_preview", {"subject_id": "102-001", "first_date": None, "weeks": 4,
                              "drug": None}),
        ("calendar_printed", {"subject_id": "102-001"}),
    ]
    for use_case, args in forged:
        with pytest.raises(PermissionDenied, match="site"):
            nora.call(use_case, **args)
    listed = nora.call("window_list", as_of=TODAY)
    assert [e.subject_id for e in listed] == ["101-001", "101-002"]
    every = nora.call("window_records", as_of=TODAY)
    assert [p.record.subject_id for p in every] == ["101-001", "101-002"]
    nora.close()
    after = {t: r for t, r in dump(windows.db).items() if t not in ("audit_log", "audit_head")}
    assert after == before
