"""The main window: the patient list on the left, the selected patient on the right.

The window talks to the study through one door (services/gateway.py): a LocalStudy on a
database file or URL, or the application server's client (remote/gateway.py), the same
methods either way.

The GUI thread never waits on the database: the list loads off it
(``services.figures.analyse_all``), switching patients uses what was loaded and checks
the patient's signatures off it, and a save reloads only that patient, off it too. Each
load carries a token, so a result that a newer load has overtaken is dropped. Through the
server the list carries no dose records: a patient's whole record is fetched, off the
GUI thread, when the window switches to them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime

from ..results import DoseRecordView
from ..services.audit import utc_now
from ..services.auth import Actor
from ..services.errors import ServiceError
from ..services.gateway import LocalStudy, StudyGateway
from ..services.signatures import SignatureView
from ..services.study import StudyInfo
from ..storage.engine import Database
from ..storage.errors import DatabaseError
from . import messages
from .admin import SettingsDialog, UsersDialog
from .audit_view import AuditDialog
from .calendar_dialog import DosingCalendarDialog
from .connection import ConnectionWatch
from .corrections import CorrectEnrollmentDialog, WithdrawAmendmentDialog
from .dashboard import StudyDashboard
from .data_export import DataExport
from .dialogs import DialogHost
from .dose_form import DoseDialog, VoidDialog
from .enroll import EnrollDialog
from .file_safety import AutomaticBackups
from .formatting import signature_state_text
from .forms import ServiceDialog
from .help_viewer import HelpViewer
from .idle_lock import IdleLock
from .models import PATIENT_FILTERS, PatientListProxy, PatientTableModel
from .patient_detail import PatientDetail
from .qt import (
    QAction,
    QApplication,
    QCloseEvent,
    QComboBox,
    QEvent,
    QGuiApplication,
    QHBoxLayout,
    QKeyEvent,
    QKeySequence,
    QLabel,
    QLineEdit,
    QMainWindow,
    QModelIndex,
    QObject,
    QSplitter,
    Qt,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from .queries_view import QueriesDialog, QueryStepDialog
from .report_export import ReportExport
from .returned_calendar import ReturnedCalendarDialog
from .rows import PatientRow, history_rows
from .schedule_view import AmendDialog
from .sign_dialog import BatchCandidate, BatchSignDialog, SignDialog
from .tasks import TaskRunner
from .verification import VerifyDialog
from .widgets import StatusBadgeDelegate, em, fit_columns, setup_table

log = logging.getLogger(__name__)

SHORTCUTS = (
    ("Ctrl+F", "Find patient (type to filter the list; Down or Enter goes to the list)"),
    ("Ctrl+N", "New dose for the selected patient"),
    ("F2", "Correct the selected dose record (void it and enter the right one)"),
    ("Ctrl+Shift+V", "Void the selected dose record"),
    ("Ctrl+Shift+R", "Mark the patient's records source-verified (monitors)"),
    ("Ctrl+Shift+Q", "Queries: those to answer (nurses, investigators), to close (monitors)"),
    ("Ctrl+Shift+N", "Enroll a patient"),
    ("Ctrl+M", "Amend the schedule (investigators)"),
    ("Ctrl+P", "Dosing calendar of the patient: preview, then Enter prints it"),
    ("Ctrl+Shift+P", "Enter a returned dosing calendar (the patient's diary), week by week"),
    ("Ctrl+Shift+S", "Sign the patient's taper record (investigators); Patient > Sign "
                     "records in a batch signs every patient who needs it"),
    ("Alt+D / Alt+C / Alt+A", "Doses, Schedule and Charts tabs"),
    ("Ctrl+D", "Study dashboard: every patient, target attainment and completeness per site"),
    ("F5", "Reload every patient from the database"),
    ("Ctrl+E / Ctrl+Shift+E", "Export the patient's / the study's report (PDF)"),
    ("Enter / Esc", "In a form: save / cancel (Esc asks first if you typed something). "
                    "Ctrl+S also saves."),
    ("T / Y / Up / Down", "In a date field: today, yesterday, a day later, a day earlier; "
                          "Alt+Down opens a calendar"),
    ("Ctrl+L", "Lock the window now (your password opens it again, forms kept)"),
    ("F1", "The user guide (Help menu: these shortcuts)"),
)

#: What comes after a window closes: nothing (the program ends) or the sign-in again.
QUIT, SIGN_IN_AGAIN, RESET_DEMO = "quit", "sign_in_again", "reset_demo"


def shortcuts_text() -> str:
    return "\n".join(f"{keys}:  {what}" for keys, what in SHORTCUTS)


#: The actions only some roles may take (by their permissions): hidden for the others.
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "enroll": ("enroll_patient",), "new_dose": ("record_dose",),
    "returned_calendar": ("record_dose",), "correct_dose": ("record_dose", "void_dose"),
    "void_dose": ("void_dose",), "amend": ("amend_schedule",),
    "withdraw_amendment": ("amend_schedule",), "correct_enrollment": ("correct_enrollment",),
    "sign": ("sign_record",), "sign_batch": ("sign_record",), "verify": ("verify_source",),
    "open_query": ("raise_query",),
    "users": ("manage_users",), "settings": ("manage_users",),
}


class MainWindow(QMainWindow):
    """The signed-in user's window on one study database."""

    def __init__(self, source: Database | StudyGateway, study: StudyInfo, actor: Actor, *,
                 today: Callable[[], date] = date.today,
                 clock: Callable[[], datetime] = utc_now,
                 tasks: TaskRunner | None = None, demo: bool = False,
                 parent: QWidget | None = None) -> None:
        """``source``: the study's door (a Database gets a LocalStudy for ``actor``)."""
        super().__init__(parent)
        self.demo = demo  # the demo study: it can be rebuilt from the Study menu
        self.gateway: StudyGateway = (LocalStudy(source, actor, clock, today)
                                      if isinstance(source, Database) else source)
        #: The database, when the window opened one itself (None through the server).
        self.db = source if isinstance(source, Database) else None
        self.study = study
        self.actor = actor
        self.ctx = self.gateway
        self.tasks = tasks or TaskRunner(self)
        self.report_export = ReportExport(self, self.gateway, study, self.tasks)
        self.data_export = DataExport(self, self.gateway, study, self.tasks)
        self.backups: AutomaticBackups | None = None  # SQLite only; app.py attaches them
        self._load_token = 0        # every load submitted (the list, a patient, signatures)
        self._list_token = 0        # the newest load of the whole list
        self._row_tokens: dict[str, int] = {}  # the newest reload of each patient
        #: Rows reloaded after the list load they may be newer than (a save during a load).
        self._fresher_rows: dict[str, tuple[int, PatientRow]] = {}
        self._signature_token = 0
        self._fetching: set[str] = set()  # patients whose record is on its way
        self._say_after_load = ""  # shown once the list has reloaded (a batch signing)
        self._as_of = today()
        self.dashboard: StudyDashboard | None = None
        self.help_viewer: HelpViewer | None = None
        #: After this window closes: QUIT, or SIGN_IN_AGAIN (Switch user, a sign-out at
        #: the lock) for run_gui to ask who is working next.
        self.next_step = QUIT
        self.setWindowTitle(f"{study.name} – {actor.full_name} ({actor.role}) – Taper Tracker")

        self.actions_by_name = self._make_actions()
        self.patients_model = PatientTableModel(self)
        self.patients_proxy = PatientListProxy(self)
        self.patients_proxy.setSourceModel(self.patients_model)

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("patient_filter")
        self.filter_edit.setPlaceholderText("Find (Ctrl+F): subject, site, missing, to sign…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.patients_proxy.setFilterFixedString)
        self.filter_edit.textChanged.connect(lambda _text: self._update_count())
        self.filter_edit.installEventFilter(self)
        self.show_filter = QComboBox()
        self.show_filter.setObjectName("patient_show")
        self.show_filter.setToolTip("Show only the patients who need one kind of attention")
        for label, key in PATIENT_FILTERS:
            self.show_filter.addItem(label, key)
        self.show_filter.currentIndexChanged.connect(self._show_filter_changed)
        show_label = QLabel("Sho&w:")
        show_label.setBuddy(self.show_filter)
        self.patient_view = QTableView()
        self.patient_view.setObjectName("patients")
        self.patient_view.setModel(self.patients_proxy)
        setup_table(self.patient_view)
        self.patient_view.setSortingEnabled(True)
        self.patient_view.sortByColumn(PatientTableModel.SUBJECT, Qt.SortOrder.AscendingOrder)
        self.patient_view.setItemDelegateForColumn(PatientTableModel.STATUS,
                                                   StatusBadgeDelegate(self.patient_view))
        fit_columns(self.patient_view, PatientTableModel.SAMPLES)
        self.patient_view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.count_label = QLabel()
        self.count_label.setObjectName("patient_count")

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.filter_edit)
        show_row = QHBoxLayout()
        show_row.addWidget(show_label)
        show_row.addWidget(self.show_filter, 1)
        ll.addLayout(show_row)
        ll.addWidget(self.patient_view, 1)
        ll.addWidget(self.count_label)

        self.detail = PatientDetail(self.actions_by_name, self.open_gap)
        self.detail.history_view.selectionModel().selectionChanged.connect(
            lambda *_: self._update_actions())

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(em(self, 16))
        self.setCentralWidget(self.splitter)
        self._make_menus()

        where = self.gateway.shown_location
        self.database_label = QLabel(
            f"{'Database' if self.gateway.is_local else 'Application server'}: {where}")
        self.database_label.setObjectName("database_label")
        self.database_label.setToolTip(where)
        self.as_of_label = QLabel()
        self.statusBar().addPermanentWidget(self.as_of_label)
        self.statusBar().addPermanentWidget(self.database_label)
        self._size_for_screen()
        self._fit_list_pane()
        self._update_actions()
        self.connection = ConnectionWatch(self, self.refresh)
        self.refresh()
        self.idle_lock = IdleLock(self, self.gateway,
                                  self.gateway.settings()["idle_lock_minutes"])
        self.idle_lock.signed_out.connect(self._signed_out_at_lock)
        self.idle_lock.lock_keys = self.actions_by_name["lock"].shortcut()

    # ------------------------------------------------------------ set-up

    def _make_actions(self) -> dict[str, QAction]:
        def action(name: str, text: str, slot: Callable[[], object],
                   shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                   tip: str = "") -> QAction:
            a = QAction(text, self)
            a.setObjectName(name)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                tip = f"{tip or text.replace('&', '').rstrip('.…')} ({a.shortcut().toString()})"
            a.setToolTip(tip or text.replace("&", ""))
            a.setStatusTip(tip)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        return {
            "find": action("find", "&Find patient", self.find_patient,
                           QKeySequence.StandardKey.Find),
            "enroll": action("enroll", "&Enroll patient…", self.enroll_patient, "Ctrl+Shift+N"),
            "new_dose": action("new_dose", "&New dose…", self.new_dose, "Ctrl+N"),
            "correct_dose": action("correct_dose", "&Correct…", self.correct_dose, "F2",
                                   "Void the selected record and enter the right one"),
            "void_dose": action("void_dose", "&Void…", self.void_dose, "Ctrl+Shift+V",
                                "Void the selected record with a reason"),
            "amend": action("amend", "&Amend schedule…", self.amend_schedule, "Ctrl+M",
                            "Amend the schedule from a day (investigators)"),
            "correct_enrollment": action(
                "correct_enrollment", "Correct en&rollment…", self.correct_enrollment,
                tip="Correct the baseline, Day 1 or template (investigators)"),
            "withdraw_amendment": action(
                "withdraw_amendment", "&Withdraw amendment…", self.withdraw_amendment,
                tip="Withdraw an amendment: the schedule resumes as if it had not been made "
                    "(investigators)"),
            "calendar": action("calendar", "Dosing &calendar…", self.dosing_calendar,
                               QKeySequence.StandardKey.Print,
                               "Preview and print the patient's dosing calendar"),
            "returned_calendar": action(
                "returned_calendar", "&Returned calendar…", self.returned_calendar,
                "Ctrl+Shift+P", "Enter a returned dosing calendar (the patient's diary)"),
            "export_patient": action(
                "export_patient", "E&xport patient report (PDF)…",
                lambda: self.report_export.export_patient(self.current_subject()), "Ctrl+E"),
            "export_study": action("export_study", "Export &study report (PDF)…",
                                   self.report_export.export_study, "Ctrl+Shift+E"),
            "sign": action("sign", "&Sign record…", self.sign_record, "Ctrl+Shift+S",
                           "Sign the taper record up to a date (investigators)"),
            "export_csv": action("export_csv", "Export data (&CSV)…",
                                 lambda: self.data_export.export("csv"),
                                 tip="Dose records and daily series as CSV into a folder "
                                     "(taper-app export --format csv)"),
            "export_sdtm": action("export_sdtm", "Export data (S&DTM)…",
                                  lambda: self.data_export.export("sdtm"),
                                  tip="The SDTM CM dataset into a folder "
                                      "(taper-app export --format sdtm)"),
            "users": action("users", "&Users…", self.show_users,
                            tip="Add users, reset passwords, change roles and sites, "
                                "deactivate (administrators)"),
            "settings": action("settings", "&Settings…", self.show_settings,
                               tip="Sign-in lockout, idle lock, backups (administrators)"),
            "verify": action("verify", "Mark source-&verified…", self.verify_source,
                             "Ctrl+Shift+R", "Mark the patient's dose records verified "
                             "against the source (monitors)"),
            "sign_batch": action("sign_batch", "Sign records in a &batch…", self.sign_batch,
                                 tip="Sign every patient who needs a signature, with one "
                                     "password (investigators)"),
            "queries": action("queries", "&Queries…", self.show_queries, "Ctrl+Shift+Q",
                              "Queries to the site: to answer (nurses, investigators), to "
                              "close (monitors)"),
            "patient_queries": action("patient_queries", "Patient's &queries…",
                                      lambda: self.show_queries(self.current_subject()),
                                      tip="The selected patient's queries"),
            "open_query": action("open_query", "Open a &query…", self.open_query,
                                 tip="A query to the site on the patient or the selected "
                                     "dose record (monitors)"),
            "patient_audit": action("patient_audit", "Patient &audit trail…",
                                    self.show_patient_audit),
            "study_audit": action("study_audit", "Study audit &trail…", self.show_study_audit),
            "dashboard": action("dashboard", "Study &dashboard", self.show_dashboard, "Ctrl+D",
                                "Every patient's reduction, target attainment and data "
                                "completeness per site"),
            "refresh": action("refresh", "&Reload", self.refresh,
                              QKeySequence.StandardKey.Refresh),
            "user_guide": action("user_guide", "&User guide", self.show_user_guide,
                                 QKeySequence.StandardKey.HelpContents,
                                 "The user guide: the nurse's and the investigator's tasks, "
                                 "step by step"),
            "shortcuts": action("shortcuts", "&Keyboard shortcuts", self.show_shortcuts),
            "lock": action("lock", "&Lock now", self.lock_now, "Ctrl+L",
                           "Lock the window now: your password opens it again, with open "
                           "forms kept"),
            "switch_user": action("switch_user", "S&witch user…", self.switch_user, None,
                                  "Sign out and let someone else sign in: nothing of yours "
                                  "stays on screen"),
            "sign_out": action("sign_out", "Sign &out", self.sign_out, None,
                               "Sign out and close Taper Tracker"),
            "reset_demo": action("reset_demo", "Reset the d&emo study…", self.reset_demo,
                                 None, "Rebuild the demo study as new (what was entered in "
                                 "it is lost)"),
            "quit": action("quit", "&Quit", self.close, QKeySequence.StandardKey.Quit),
        }

    def _make_menus(self) -> None:
        a = self.actions_by_name
        menus = self.menuBar()
        study = menus.addMenu("&Study")
        for key in ("dashboard", "queries", "study_audit", "refresh", "export_study", "export_csv",
                    "export_sdtm"):
            study.addAction(a[key])
        study.addSeparator()
        for key in ("lock", "switch_user", "sign_out"):
            study.addAction(a[key])
        if self.demo:
            study.addAction(a["reset_demo"])
        study.addAction(a["quit"])
        patient = menus.addMenu("&Patient")
        for key in ("find", "enroll", "new_dose", "returned_calendar", "correct_dose",
                    "void_dose", "amend", "withdraw_amendment", "correct_enrollment", "sign",
                    "sign_batch", "verify", "open_query", "patient_queries", "calendar",
                    "patient_audit",
                    "export_patient"):
            patient.addAction(a[key])
        if self.actor.can("manage_users"):  # an administrator's menu, for them only
            admin = menus.addMenu("&Administration")
            admin.addAction(a["users"])
            admin.addAction(a["settings"])
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(a["user_guide"])
        help_menu.addAction(a["shortcuts"])
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main_toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for key in ("enroll", "new_dose", "calendar", "dashboard", "refresh"):
            toolbar.addAction(a[key])

    def _size_for_screen(self) -> None:
        """Fit a small laptop (1366x768) and use more of a bigger screen, never beyond it."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            self.resize(1280, 720)
            return
        free = screen.availableGeometry()
        self.resize(min(free.width(), max(em(self, 80), int(free.width() * 0.92))),
                    min(free.height(), max(em(self, 45), int(free.height() * 0.92))))
        self.resize(min(self.width(), free.width()), min(self.height(), free.height()))

    def _fit_list_pane(self) -> None:
        """The list pane as wide as its columns (if the window allows), the rest for detail."""
        view = self.patient_view
        wanted = sum(view.columnWidth(c) for c in range(self.patients_model.columnCount()))
        wanted += view.verticalScrollBar().sizeHint().width() + 2 * view.frameWidth() + 4
        total = max(self.width(), 1)
        left = min(wanted, int(total * 0.47))  # the triage columns; the rest for detail
        self.splitter.setSizes([left, total - left])

    def show_for_screen(self) -> None:
        """Maximized on a small screen (a 1366x768 laptop), as sized on a big one."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        small = screen is not None and (screen.availableGeometry().width() < 1600
                                        or screen.availableGeometry().height() < 900)
        if small:
            self.showMaximized()
        else:
            self.show()
        self._fit_list_pane()

    # ------------------------------------------------------------ loading

    def _next_token(self) -> int:
        self._load_token += 1
        return self._load_token

    def refresh(self, select_subject: str | None = None) -> None:
        """Reload every patient's figures as of today, off the GUI thread (with their
        whole records while the dashboard, which draws them all, is open)."""
        token = self._list_token = self._next_token()
        as_of = self.ctx.today()
        keep = select_subject or self.current_subject()
        self.statusBar().showMessage("Loading patients…")
        gateway, study = self.gateway, self.study
        load = (gateway.whole_patient_rows if self.dashboard is not None
                and self.dashboard.isVisible() else gateway.patient_rows)
        self.tasks.submit(lambda: load(study, as_of),
                          lambda rows: self._loaded(token, as_of, rows, keep),
                          self._load_failed)

    def _refresh_then_say(self, summary: str) -> None:
        """Reload the list after a change to many patients, then say what was done."""
        self._say_after_load = summary
        self.refresh()

    def _loaded(self, token: int, as_of: date, rows: list[PatientRow],
                keep: str | None) -> None:
        if token != self._list_token:
            return  # a newer load is on its way
        # A patient reloaded after this load began (a save meanwhile) is newer than its row
        # here: keep the reloaded one.
        fresher = {subject: row for subject, (row_token, row) in self._fresher_rows.items()
                   if row_token > token}
        self._fresher_rows = {s: v for s, v in self._fresher_rows.items() if v[0] > token}
        rows = [fresher.get(r.subject_id, r) for r in rows]
        self._as_of = as_of
        self.as_of_label.setText(f"Figures as of {as_of.isoformat()}")
        self.patients_model.set_rows(rows)
        self._update_count()
        self.statusBar().clearMessage()
        if self._say_after_load:
            self.statusBar().showMessage(self._say_after_load, 15000)
            self._say_after_load = ""
        self.connection.reached()
        if not (keep and self.select_subject(keep)) and self.patients_proxy.rowCount():
            self.patient_view.selectRow(0)
        if not self.patients_proxy.rowCount():
            self._show_current()

    def _load_failed(self, exc: Exception) -> None:
        self.statusBar().clearMessage()
        if self.connection.handle(exc):  # the server is gone: a banner and retries
            return
        if isinstance(exc, (DatabaseError, ServiceError)):
            messages.error(self, "Cannot load the patients", str(exc),
                           "Press F5 to try again.")
            return
        raise exc

    def _show_filter_changed(self, _index: int) -> None:
        self.patients_proxy.set_show(self.show_filter.currentData())
        self._update_count()

    def show_only(self, key: str | None) -> None:
        """Choose a "Show" filter by its key (models.PATIENT_FILTERS)."""
        self.show_filter.setCurrentIndex(max(self.show_filter.findData(key), 0))

    def _update_count(self) -> None:
        shown, total = self.patients_proxy.rowCount(), self.patients_model.rowCount()
        noun = "patient" if total == 1 else "patients"
        self.count_label.setText(f"{total} {noun}" if shown == total
                                 else f"{shown} of {total} {noun}")

    # ------------------------------------------------------------ selection

    def current_row(self) -> PatientRow | None:
        index = self.patient_view.currentIndex()
        if not index.isValid():
            return None
        return self.patients_proxy.row_object(index.row())

    def loaded_row(self) -> PatientRow | None:
        """The current row if it holds the patient's whole record (what forms act on)."""
        row = self.current_row()
        return row if row is not None and row.complete else None

    def current_subject(self) -> str | None:
        row = self.current_row()
        return row.subject_id if row is not None else None

    def select_subject(self, subject_id: str) -> bool:
        source_row = self.patients_model.row_of_subject(subject_id)
        if source_row is None:
            return False
        index = self.patients_proxy.mapFromSource(self.patients_model.index(source_row, 0))
        if not index.isValid():  # filtered out: show everyone rather than hide it
            self.filter_edit.clear()
            self.show_only(None)
            index = self.patients_proxy.mapFromSource(self.patients_model.index(source_row, 0))
        self.patient_view.setCurrentIndex(index)
        self.patient_view.selectRow(index.row())
        self.patient_view.scrollTo(index)
        return True

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_current()

    def _show_current(self, *, with_signatures: bool = True) -> None:
        row = self.current_row()
        if row is not None and not row.complete:
            # From the server's list: the patient's record comes now, off the GUI thread,
            # beside their signatures (last: a synchronous runner shows it at once).
            self.detail.show_row(row, [], self.study, self.actor.can("record_dose"))
            if with_signatures:
                self._show_signatures(row)
            self._update_actions()
            self._update_count()
            self._fetch_record(row.subject_id)
            return
        history = (history_rows(self.study, row.record, self.ctx.today(), row.sdv)
                   if row else [])
        self.detail.show_row(row, history, self.study, self.actor.can("record_dose"))
        if with_signatures:
            self._show_signatures(row)
        self._update_actions()
        self._update_count()

    def _fetch_record(self, subject_id: str) -> None:
        """The whole record of a patient the list holds only the figures of."""
        if subject_id in self._fetching:
            return
        self._fetching.add(subject_id)

        def fetched(row: PatientRow, is_newest: bool) -> None:
            self._fetching.discard(subject_id)
            if is_newest and self.current_subject() == subject_id:
                self._show_current(with_signatures=False)

        def failed(exc: Exception) -> None:
            self._fetching.discard(subject_id)
            if self.current_subject() != subject_id or self.connection.handle(exc):
                return
            if not isinstance(exc, (DatabaseError, ServiceError)):
                raise exc
            messages.error(self, f"Cannot load {subject_id}", str(exc),
                           "Choose the patient again, or press F5 to reload.")

        self._reload_patient(subject_id, fetched, failed)

    def _update_actions(self) -> None:
        a = self.actions_by_name
        current = self.current_row()
        # A row from the server's list waits for its record: nothing acts on it until then.
        has_patient = current is not None and current.complete
        chosen = self.detail.selected_history() if has_patient else None
        correctable = chosen is not None and not chosen.dose.voided
        a["enroll"].setEnabled(self.actor.can("enroll_patient"))
        a["new_dose"].setEnabled(has_patient and self.actor.can("record_dose"))
        a["correct_dose"].setEnabled(correctable and self.actor.can("record_dose")
                                     and self.actor.can("void_dose"))
        a["void_dose"].setEnabled(correctable and self.actor.can("void_dose"))
        a["amend"].setEnabled(has_patient and self.actor.can("amend_schedule"))
        row = self.current_row()
        in_force = (has_patient and row is not None
                    and any(not x.withdrawn for x in row.record.amendments))
        a["withdraw_amendment"].setEnabled(in_force and self.actor.can("amend_schedule"))
        a["verify"].setEnabled(has_patient and self.actor.can("verify_source"))
        a["correct_enrollment"].setEnabled(has_patient
                                           and self.actor.can("correct_enrollment"))
        for key, permissions in ROLE_ACTIONS.items():  # menus show what the role may do
            a[key].setVisible(all(self.actor.can(p) for p in permissions))
        for button in self.detail.findChildren(QToolButton):  # and so do the panes' buttons
            action = button.defaultAction()
            if action is not None and action.objectName() in ROLE_ACTIONS:
                button.setVisible(action.isVisible())
        a["export_patient"].setEnabled(has_patient)
        a["calendar"].setEnabled(has_patient)
        a["returned_calendar"].setEnabled(has_patient and self.actor.can("record_dose"))
        if not self.actor.can("amend_schedule"):
            a["amend"].setToolTip("Only investigators can amend a schedule")
        a["sign"].setEnabled(has_patient and self.actor.can("sign_record"))
        a["sign_batch"].setEnabled(self.actor.can("sign_record"))
        if not self.actor.can("sign_record"):
            a["sign"].setToolTip("Only investigators can sign a record")
        a["patient_audit"].setEnabled(has_patient)
        a["patient_queries"].setEnabled(has_patient)
        a["open_query"].setEnabled(has_patient and self.actor.can("raise_query"))

    # ------------------------------------------------------------ keyboard

    def find_patient(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.filter_edit and isinstance(event, QKeyEvent):
            if event.type() != QEvent.Type.KeyPress:
                return super().eventFilter(watched, event)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.patient_view.setFocus(Qt.FocusReason.OtherFocusReason)
                if (self.patients_proxy.rowCount() and not self.patient_view.currentIndex(
                        ).isValid()) or (self.patients_proxy.rowCount() and key != Qt.Key.Key_Down):
                    self.patient_view.selectRow(0)
                return True
            if key == Qt.Key.Key_Escape:
                self.filter_edit.clear()
                return True
        return super().eventFilter(watched, event)

    def show_shortcuts(self) -> None:
        messages.inform(self, "Keyboard shortcuts", shortcuts_text())

    def show_user_guide(self) -> None:
        """F1: the user guide in its own window (one, raised again on the next F1)."""
        if self.help_viewer is None:
            self.help_viewer = HelpViewer.open_guide(shortcuts_text(), self)
            if self.help_viewer is None:
                return
        self.help_viewer.show()
        self.help_viewer.raise_()
        self.help_viewer.activateWindow()

    # ------------------------------------------------------------ actions

    def _present(self, dialog: DoseDialog | VoidDialog | EnrollDialog | AmendDialog
                 | ReturnedCalendarDialog | CorrectEnrollmentDialog
                 | WithdrawAmendmentDialog | VerifyDialog) -> None:
        dialog.saved.connect(self.after_save)
        dialog.stale.connect(lambda subject: self._rebase(dialog, subject))
        DialogHost.present(dialog)

    def _reload_patient(self, subject_id: str, done: Callable[[PatientRow, bool], None],
                        failed: Callable[[Exception], None]) -> None:
        """Reload one patient off the GUI thread, then put the row in the list (unless a
        newer load of it has been asked for since) and call ``done(row, is_newest)``."""
        token = self._row_tokens[subject_id] = self._next_token()
        as_of, gateway, study = self.ctx.today(), self.gateway, self.study

        def newest() -> bool:
            return token == self._row_tokens.get(subject_id) and token > self._list_token

        def loaded(row: PatientRow) -> None:
            is_newest = newest()
            if is_newest:
                self._fresher_rows[subject_id] = (token, row)
                self.patients_model.upsert(row)
            done(row, is_newest)

        def not_loaded(exc: Exception) -> None:
            if newest() or not isinstance(exc, (DatabaseError, ServiceError)):
                failed(exc)

        self.tasks.submit(lambda: gateway.patient_row(study, subject_id, as_of), loaded,
                          not_loaded)

    def _rebase(self, dialog: DoseDialog | VoidDialog | EnrollDialog | AmendDialog | SignDialog
                | ReturnedCalendarDialog | CorrectEnrollmentDialog | WithdrawAmendmentDialog
                | VerifyDialog, subject_id: str) -> None:
        """Someone else changed the patient: show the fresh record, keep the form going."""
        def reloaded(row: PatientRow, is_newest: bool) -> None:
            if is_newest and self.current_subject() == subject_id:
                self._show_current()
            dialog.rebase(row.record)  # read after the change that made the form stale

        def failed(exc: Exception) -> None:
            if not isinstance(exc, (DatabaseError, ServiceError)):
                raise exc
            messages.error(self, "The patient could not be reloaded", str(exc))

        self._reload_patient(subject_id, reloaded, failed)

    def new_dose(self) -> None:
        row = self.loaded_row()
        if row is None or not self.actor.can("record_dose"):
            return
        dialog = DoseDialog.new_dose(self.ctx, self.study, row.record, self)
        dialog.returned_calendar.connect(self.returned_calendar)
        self._present(dialog)

    def dosing_calendar(self) -> None:
        """Ctrl+P: the patient's calendar previewed with the defaults; Enter prints it."""
        subject = self.current_subject()
        if subject is None:
            return
        dialog = DosingCalendarDialog.build(self.ctx, self.study, subject, self.tasks, self)
        dialog.printed.connect(lambda _subject, summary: self.statusBar().showMessage(
            summary, 15000))
        DialogHost.present(dialog)

    def returned_calendar(self) -> None:
        row = self.loaded_row()
        if row is None or not self.actor.can("record_dose"):
            return
        self._present(ReturnedCalendarDialog.build(self.ctx, self.study, row.record,
                                                    self.tasks, self))

    def open_gap(self, first: date, last: date) -> None:
        row = self.loaded_row()
        if row is None or not self.actor.can("record_dose"):
            return
        self._present(DoseDialog.for_gap(self.ctx, self.study, row.record, first, last, self))

    def correct_dose(self) -> None:
        row, chosen = self.loaded_row(), self.detail.selected_history()
        if row is None or chosen is None or not self.actions_by_name["correct_dose"].isEnabled():
            return
        self._present(DoseDialog.correction(self.ctx, self.study, row.record, chosen.dose, self))

    def void_dose(self) -> None:
        row, chosen = self.loaded_row(), self.detail.selected_history()
        if row is None or chosen is None or not self.actions_by_name["void_dose"].isEnabled():
            return
        self._present(VoidDialog.build(self.ctx, row.record, chosen.dose, self))

    def enroll_patient(self) -> None:
        if not self.actor.can("enroll_patient"):
            return
        rows = self.patients_model.rows()
        self._present(EnrollDialog.build(self.ctx, self.study, [r.subject_id for r in rows],
                                          {r.site for r in rows}, self))

    def amend_schedule(self) -> None:
        row = self.loaded_row()
        if row is None or not self.actor.can("amend_schedule"):
            return
        self._present(AmendDialog.build(self.ctx, self.study, row.record,
                                         row.summary["as_of_day"], self))

    def verify_source(self) -> None:
        row = self.loaded_row()
        if row is None or not self.actor.can("verify_source"):
            return
        chosen = self.detail.selected_history()
        self._present(VerifyDialog.build(self.ctx, row.record,
                                          chosen.dose if chosen is not None else None, self))

    def correct_enrollment(self) -> None:
        row = self.loaded_row()
        if row is None or not self.actor.can("correct_enrollment"):
            return
        self._present(CorrectEnrollmentDialog.build(self.ctx, self.study, row.record, self))

    def withdraw_amendment(self) -> None:
        row = self.loaded_row()
        if row is None or not self.actions_by_name["withdraw_amendment"].isEnabled():
            return
        self._present(WithdrawAmendmentDialog.build(
            self.ctx, self.study, row.record, self.detail.schedule.selected_amendment(),
            self))

    def sign_record(self) -> None:
        row = self.loaded_row()
        if row is None or not self.actor.can("sign_record"):
            return
        dialog = SignDialog.build(self.ctx, row.record, self.ctx.today(), self)
        dialog.saved.connect(self.after_save)
        dialog.stale.connect(lambda subject: self._rebase(dialog, subject))
        DialogHost.present(dialog)

    def sign_batch(self) -> None:
        """Every patient of the list who needs a signature, signed with one password."""
        if not self.actor.can("sign_record"):
            return
        candidates = [BatchCandidate(r.subject_id, r.site, r.version,
                                     signature_state_text(r.triage.signature),
                                     r.triage.signature.why)
                      for r in self.patients_model.rows() if r.triage.signature.needs_signature]
        if not candidates:
            messages.inform(self, "Nothing to sign",
                            "Every patient's record is signed, with nothing new since.")
            return
        dialog = BatchSignDialog.build(self.ctx, candidates, self.ctx.today(), self)

        dialog.signed_all.connect(lambda _subjects, summary: self._refresh_then_say(summary))
        DialogHost.present(dialog)

    def _show_signatures(self, row: PatientRow | None) -> None:
        """The patient's signatures, each checked against the data, read off the GUI thread."""
        token = self._signature_token = self._next_token()
        box = self.detail.signatures
        if row is None:
            box.show_signatures([])
            return
        box.show_checking()
        gateway, subject = self.gateway, row.subject_id

        def shown(found: tuple[list[SignatureView], list[str]]) -> None:
            if token == self._signature_token:  # else another patient is shown by now
                box.show_signatures(*found)

        def failed(exc: Exception) -> None:
            if token != self._signature_token:
                return
            if self.connection.handle(exc):
                box.show_note("The signatures cannot be checked now: the database server "
                              "cannot be reached.")
                return
            if not isinstance(exc, (DatabaseError, ServiceError)):
                raise exc
            box.show_signatures([])
            messages.error(self, "Cannot check the signatures", str(exc))

        self.tasks.submit(lambda: gateway.signatures(subject), shown, failed)

    def show_patient_audit(self) -> None:
        subject = self.current_subject()
        if subject is not None:
            DialogHost.present(AuditDialog.build(self.ctx, subject, self))

    def _queries_dialog(self, subject_id: str | None) -> QueriesDialog:
        def doses() -> tuple[DoseRecordView, ...]:
            row = self.loaded_row()
            return tuple(row.record.doses) if row is not None else ()

        def selected() -> DoseRecordView | None:
            chosen = self.detail.selected_history()
            return chosen.dose if chosen is not None else None

        dialog = QueriesDialog.build(self.ctx, subject_id,
                                      current_subject=self.current_subject(), doses=doses,
                                      selected=selected, parent=self)
        dialog.changed.connect(self.after_save)
        return dialog

    def show_queries(self, subject_id: str | None = None) -> None:
        """Ctrl+Shift+Q: the queries of the role (to answer, to close); the pane's "open
        queries" link: the patient's."""
        DialogHost.present(self._queries_dialog(subject_id))

    def open_query(self) -> None:
        """A monitor's query on the patient or the selected dose record."""
        row = self.loaded_row()
        if row is None or not self.actor.can("raise_query"):
            return
        chosen = self.detail.selected_history()
        dialog = QueryStepDialog(self.ctx, "open", row.subject_id, None,
                                 tuple(row.record.doses),
                                 chosen.dose if chosen is not None else None, self)
        dialog.saved.connect(self.after_save)
        DialogHost.present(dialog)

    def show_users(self) -> None:
        if self.actor.can("manage_users"):
            DialogHost.present(UsersDialog.build(self.ctx, self))

    def show_settings(self) -> None:
        if self.actor.can("manage_users"):
            dialog = SettingsDialog.build(self.ctx, self)
            dialog.saved.connect(lambda _s, summary: self.statusBar().showMessage(summary,
                                                                                  10000))
            DialogHost.present(dialog)

    def show_study_audit(self) -> None:
        DialogHost.present(AuditDialog.build(self.ctx, None, self))

    def after_save(self, subject_id: str, summary: str) -> None:
        """A dialog committed a change: reload that patient only, off the GUI thread, and
        show it (unless the user has gone on to another patient meanwhile)."""
        self.statusBar().showMessage(summary, 10000)
        shown_when_saved = self.current_subject()

        def reloaded(row: PatientRow, is_newest: bool) -> None:
            if not is_newest or self.current_subject() != shown_when_saved:
                return  # the list has the row; the user is elsewhere now
            history_row = self.detail.selected_history()
            self.select_subject(subject_id)
            self._show_current()
            if history_row is not None:
                self.detail.history_view.clearSelection()

        def failed(exc: Exception) -> None:
            if not isinstance(exc, (DatabaseError, ServiceError)):
                raise exc
            messages.error(self, "Saved, but the patient could not be reloaded", str(exc),
                           "The change is saved. Press F5 to reload.")

        self._reload_patient(subject_id, reloaded, failed)

    def show_dashboard(self) -> None:
        """The study dashboard in a window of its own (one, raised again on Ctrl+D)."""
        if self.dashboard is None:
            self.dashboard = StudyDashboard(self.patients_model, self.study,
                                            self.select_subject, self, clock=self.ctx.clock)
            self.dashboard.resize(self.size())
        if self.dashboard.isVisible():  # behind the main window: bring it to the front
            self.dashboard.raise_()
        self.dashboard.show()
        self.dashboard.activateWindow()
        if not all(r.complete for r in self.patients_model.rows()):
            self.refresh()  # through the server: the chart needs every patient's record

    # ------------------------------------------------------------ the session

    def lock_now(self) -> None:
        """Ctrl+L: the idle lock at once (a nurse called away from a shared laptop)."""
        self.idle_lock.lock(now=True)

    def _open_forms(self) -> list[ServiceDialog]:
        return [d for d in self.findChildren(ServiceDialog) if d.isVisible()]

    def end_session(self, next_step: str) -> bool:
        """Sign out: open forms closed unsaved (after asking, if anything was typed in
        them), the sign-out audited, every window of this user closed; False if the user
        chose to keep editing."""
        typed = [d for d in self._open_forms() if d.has_typed_input()]
        if typed and not messages.ask(
                self, "Discard what you typed?",
                f"{len(typed)} open form{'s have' if len(typed) != 1 else ' has'} input that "
                "is not saved. Sign out and discard it?",
                yes="Sign out and &discard", no="&Keep editing"):
            return False
        how = {SIGN_IN_AGAIN: "switch user", RESET_DEMO: "reset the demo"}.get(next_step,
                                                                             "sign out")
        try:
            self.gateway.sign_out(how)
        except (ServiceError, DatabaseError) as exc:
            log.warning("sign-out not audited: %s", exc)
        for form in self._open_forms():
            form.discard()
        for other in QApplication.topLevelWidgets():  # the dashboard, an audit trail...
            if other is not self and other.isVisible() and self._owns(other):
                other.close()
        self.idle_lock.stop()
        self.next_step = next_step
        self.close()
        return True

    def _owns(self, widget: QWidget) -> bool:
        parent = widget.parentWidget()
        while parent is not None:
            if parent is self:
                return True
            parent = parent.parentWidget()
        return False

    def switch_user(self) -> None:
        self.end_session(SIGN_IN_AGAIN)

    def sign_out(self) -> None:
        self.end_session(QUIT)

    def reset_demo(self) -> None:
        """Rebuild the demo study (asked first); everyone signs in again on the new one."""
        if not self.demo or not messages.ask(
                self, "Reset the demo study",
                "Rebuild the demo study as new? Everything entered in it since it was made "
                "is lost, and you sign in again.", yes="&Reset the demo", no="&Cancel"):
            return
        self.end_session(RESET_DEMO)

    def _signed_out_at_lock(self) -> None:
        """Someone signed the user out at the lock: the next person signs in."""
        self.next_step = SIGN_IN_AGAIN

    # ------------------------------------------------------------ closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.dashboard is not None:
            self.dashboard.close()  # its own window: it goes with this one
        self.report_export.stop()  # a report being built stops rather than hold up the close
        self.tasks.wait(3000)
        if self.backups is not None:
            self.backups.at_close()
        super().closeEvent(event)
