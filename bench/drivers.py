"""Fresh processes for the cold-start and memory benchmarks (run by bench/benchmarks.py).

    python bench/drivers.py startup DB AS_OF     the window, signed in, first list shown
    python bench/drivers.py startup-bare         an empty window, the same libraries
    python bench/drivers.py memory DB AS_OF      summary of every patient; peak RSS
    python bench/drivers.py memory-bare DB       the same imports, rows read with sqlite3
    python bench/drivers.py window-switch DB AS_OF SUBJECT OTHER RUNS
                                                 the real window switching patients

Each prints ``READY`` when done (the parent times launch to that line) and a ``REPORT``
line of JSON with its own phase times or peak memory.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import hashlib  # noqa: E402  (timed from the very first line)
import itertools  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PASSWORD = "synthetic-password"  # bench.synthetic.PASSWORD, without importing the generator
#: The rows ``summary`` needs, for the baselines that read them with plain sqlite3.
READ_QUERIES = (
    "SELECT id, subject_id, site_code, day1_date, baseline_ug, template_id, kit_number, notes,"
    " version FROM patient ORDER BY subject_id",
    "SELECT id, patient_id, day, dose_ug, amendment_id FROM schedule_step"
    " WHERE superseded_by_id IS NULL",
    "SELECT id, patient_id, seq, day, dose_ug, reason, created_by, created_at FROM amendment",
    "SELECT id, patient_id, drug, dose_ug, frequency, route, start_date, end_date, source,"
    " comment, deviation_reason, created_by, created_at, voided, void_reason, voided_by,"
    " voided_at, replaces_id, version FROM dose_record",
)


def _since() -> float:
    return time.perf_counter() - START


def _peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux VmHWM, not ru_maxrss: ru_maxrss is kept
    across fork and exec, so a child of a big parent would report the parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _signed_in(db_path: str, as_of_text: str, phases: dict[str, float]) -> tuple[Any, ...]:
    """The application, the opened study and the investigator signed in, as ``taper-app``
    has them after its sign-in dialog; the times of those steps go into ``phases``."""
    from datetime import UTC, date, datetime

    from taper_app.services.study import authenticate, load_study
    from taper_app.storage.engine import open_database
    from taper_app.ui.app import application

    as_of = date.fromisoformat(as_of_text)

    def clock() -> datetime:
        return datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)

    app = application()
    db = open_database(db_path)
    study = load_study(db)
    phases["database open"] = _since()
    actor = authenticate(db, "investigator", PASSWORD, clock)
    phases["signed in"] = _since()
    return app, db, study, actor, as_of, clock


def startup(db_path: str, as_of_text: str) -> None:
    """As ``taper-app`` does after the sign-in dialog: open, load, sign in, window, list."""
    from taper_app.garbage_collection import startup_imports

    with startup_imports():  # as taper-app imports its window (cli.launch_gui)
        from taper_app.ui.app import application  # noqa: F401  (all the window needs)
        from taper_app.ui.main_window import MainWindow
        from taper_app.ui.qt import QTimer

    phases = {"imports": _since()}
    app, db, study, actor, as_of, clock = _signed_in(db_path, as_of_text, phases)
    delivered = MainWindow._loaded

    def loaded(self: MainWindow, *args: object) -> None:
        delivered(self, *args)
        phases["list loaded"] = _since()
        QTimer.singleShot(0, app.quit)  # after the list and the selected patient are painted

    MainWindow._loaded = loaded  # type: ignore[method-assign]
    window = MainWindow(db, study, actor, today=lambda: as_of, clock=clock)
    window.show_for_screen()
    phases["window shown"] = _since()
    app.exec()
    phases["done"] = _since()
    print("READY", flush=True)
    print("REPORT " + json.dumps(phases), flush=True)
    window.close()
    db.dispose()


def startup_bare() -> None:
    """The libraries the window cannot do without, and an empty main window."""
    import matplotlib.backends.backend_qtagg
    import matplotlib.figure  # noqa: F401
    import numpy  # noqa: F401
    import sqlalchemy.orm  # noqa: F401
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMainWindow

    phases = {"imports": _since()}
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.resize(1200, 800)
    window.show()
    phases["window shown"] = _since()
    QTimer.singleShot(0, app.quit)
    app.exec()
    phases["done"] = _since()
    print("READY", flush=True)
    print("REPORT " + json.dumps(phases), flush=True)
    window.close()


def memory(db_path: str, as_of_text: str) -> None:
    """Open the study and compute every patient's summary, as ``summary --json`` does."""
    from datetime import date

    from taper_app.services.figures import summary
    from taper_app.services.study import load_study
    from taper_app.storage.engine import open_database

    db = open_database(db_path)
    rows = summary(db, load_study(db), date.fromisoformat(as_of_text))
    text = json.dumps(rows)
    print("READY", flush=True)
    print("REPORT " + json.dumps({"peak_rss_mb": _peak_rss_mb(), "patients": len(rows),
                                  "json_chars": len(text)}), flush=True)
    db.dispose()


def memory_bare(db_path: str) -> None:
    import sqlite3

    from taper_app.services.figures import summary  # noqa: F401  (the same imports)
    from taper_app.services.study import load_study  # noqa: F401
    from taper_app.storage.engine import open_database  # noqa: F401

    con = sqlite3.connect(db_path)
    rows = [con.execute(q).fetchall() for q in READ_QUERIES]
    print("READY", flush=True)
    print("REPORT " + json.dumps({"peak_rss_mb": _peak_rss_mb(),
                                  "rows": sum(len(r) for r in rows)}), flush=True)
    con.close()


def window_switch(db_path: str, as_of_text: str, subject: str, other: str,
                  runs_text: str) -> None:
    """The signed-in main window (offscreen) selecting ``subject`` after ``other``, on its
    Doses tab and on its Charts tab: everything the window does for a switch (load, figures,
    the detail pane, the dose history table, the signature box, the chart drawn and painted
    when its tab shows), until the event queue is empty. Each switch is paired with the
    bare matplotlib draw of the patient's arrays (bench/benchmarks.py bare_draw), the
    patient-switch baseline, in this same process."""
    from bench.benchmarks import bare_draw
    from bench.measure import paired, timed
    from taper_app.ui.main_window import MainWindow

    app, db, study, actor, as_of, clock = _signed_in(db_path, as_of_text, {})
    window = MainWindow(db, study, actor, today=lambda: as_of, clock=clock)
    window.show_for_screen()
    while window.patients_model.rowCount() == 0:
        app.processEvents()
    app.processEvents()

    def show(name: str) -> None:
        if not window.select_subject(name):
            raise SystemExit(f"window-switch: no patient {name}")
        app.processEvents()

    show(subject)
    row = window.patients_model.row_at(window.patients_model.row_of_subject(subject))
    curves, baseline = row.analysis.curves, float(row.record.baseline_mg)
    report: dict[str, object] = {"records": len(row.record.doses)}
    for tab, name in ((0, "doses"), (2, "charts")):
        window.detail.tabs.setCurrentIndex(tab)
        app.processEvents()

        def switch() -> float:
            show(other)
            return timed(lambda: show(subject))

        values, bases = paired(switch, lambda: timed(lambda: bare_draw(curves, baseline)),
                               int(runs_text))
        report[name] = values
        report[f"{name} baseline"] = bases
    print("READY", flush=True)
    print("REPORT " + json.dumps(report), flush=True)
    window.close()
    db.dispose()


class _Heartbeat:
    """The GUI thread's longest block: a 1 ms timer's beats, and the largest gap between
    two of them (or between the start and the first, the last and the end) while a piece
    of work runs. A timer fires only when the event loop runs, so a gap is the time the
    thread spent elsewhere: work, or waiting."""

    def __init__(self) -> None:
        from taper_app.ui.qt import QTimer

        self.beats: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(lambda: self.beats.append(time.perf_counter()))
        self.timer.start()

    def longest(self, start: float, end: float) -> float:
        marks = [start, *(b for b in self.beats if start < b < end), end]
        return max(b - a for a, b in itertools.pairwise(marks))


def window_day(location: str, as_of_text: str, subject: str, other: str,
               runs_text: str, password: str = PASSWORD) -> None:
    """A user's day in the real window (offscreen) on ``location``, a SQLite file or the
    application server's address: signing in until the list and the first patient are
    shown; switching to ``subject`` after ``other`` (Doses tab) until their record, figures
    and signatures are shown; saving a dose for ``subject`` with the dose form until the
    form has closed and the patient is shown again. Each timed ``runs`` times after one
    warm-up, each with the GUI thread's longest block (``_Heartbeat``)."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from taper_app.remote import is_server_address
    from taper_app.ui import dialogs
    from taper_app.ui.app import application
    from taper_app.ui.dose_form import DoseDialog
    from taper_app.ui.login import LoginDialog
    from taper_app.ui.main_window import MainWindow
    from taper_app.ui.tasks import TaskRunner

    as_of = date.fromisoformat(as_of_text)
    runs = int(runs_text)

    def clock() -> datetime:
        return datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)

    def today() -> date:
        return as_of

    app = application()
    known_study = None  # through the server, the study is named after sign-in
    if is_server_address(location):
        from taper_app.remote.gateway import ServerConnection

        connection: Any = ServerConnection(location)
    else:
        from taper_app.services.gateway import LocalConnection
        from taper_app.services.study import load_study
        from taper_app.storage.engine import open_database

        db = open_database(location)
        known_study = load_study(db)  # on a file, before the sign-in dialog (ui/app.py)
        connection = LocalConnection(db)
    beat = _Heartbeat()
    report: dict[str, Any] = {}

    def run_until(done: Any) -> None:
        """Turn the event loop until ``done()`` holds (work off the GUI thread delivers its
        result through it)."""
        deadline = time.perf_counter() + 120
        while not done():
            app.processEvents()
            if time.perf_counter() > deadline:
                raise SystemExit("window-day: the window did not settle within 120 s")
            time.sleep(0.0005)
        app.processEvents()

    def settle(shown: Any) -> None:
        """Run the event loop until ``shown()`` holds and no load is on its way."""
        run_until(lambda: shown() and not window.tasks.busy())

    def timed_step(work: Any, shown: Any) -> tuple[float, float]:
        start = time.perf_counter()
        work()
        settle(shown)
        end = time.perf_counter()
        return end - start, beat.longest(start, end)

    def showing(name: str) -> Any:
        return lambda: (window.current_subject() == name and window.current_row() is not None
                        and window.current_row().complete
                        and window.detail.isEnabled())

    # Sign-in to the list (a new session and window each time).
    window: Any = None
    sign_in: list[tuple[float, float]] = []
    for _ in range(runs + 1):
        if window is not None:
            window.gateway.sign_out("switch user")
            window.close()
            window.deleteLater()
            app.processEvents()

        login = LoginDialog(connection, known_study, clock)
        login.tasks = TaskRunner(login)  # as LoginDialog.ask opens it: checked off the GUI
        login.show()
        login.username.setText("investigator")
        login.password.setText(password)
        app.processEvents()

        def sign_in_and_open(login: LoginDialog = login) -> None:
            """As ui/app.py does after the sign-in dialog's Enter (run_gui on a file,
            run_through_server through the server)."""
            nonlocal window
            login.sign_in()  # the password checked in the dialog's task runner
            run_until(lambda: login.actor is not None or not login.tasks.busy())
            actor = login.actor
            if actor is None:
                raise SystemExit("window-day: the investigator did not sign in: "
                                 + login.errors.message("password"))
            login.hide()
            gateway = connection.open(actor, clock, today)
            study = known_study if known_study is not None else gateway.load_study()
            window = MainWindow(gateway, study, actor, today=today, clock=clock)
            window.show_for_screen()

        sign_in.append(timed_step(sign_in_and_open, lambda: window.patients_model.rowCount() > 0
                                  and window.current_row() is not None
                                  and window.current_row().complete))
    report["sign_in"] = sign_in[1:]
    # The list's figures as shown (``summary --json``'s objects): the same both ways.
    listed = [window.patients_model.row_at(i).summary
              for i in range(window.patients_model.rowCount())]
    report["figures"] = hashlib.sha256(json.dumps(listed, sort_keys=True, default=str)
                                       .encode()).hexdigest()

    def select(name: str) -> None:
        if not window.select_subject(name):
            raise SystemExit(f"window-day: no patient {name}")

    window.detail.tabs.setCurrentIndex(0)
    switches = []
    for _ in range(runs + 1):
        timed_step(lambda: select(other), showing(other))
        switches.append(timed_step(lambda: select(subject), showing(subject)))
    report["switch"] = switches[1:]
    report["records"] = len(window.current_row().record.doses)

    # Saving a dose: the form's own Save, then the patient shown again.
    presented: list[DoseDialog] = []
    dialogs.DialogHost.present = classmethod(  # type: ignore[method-assign,assignment]
        lambda _cls, dialog: (presented.append(dialog), dialog.show()))
    saves = []
    taken: Decimal | None = None  # the dose the form offers first: the one being taken
    for n in range(runs + 1):
        window.new_dose()
        form = presented[-1]
        taken = taken if taken is not None else Decimal(form.dose_mg.text())
        form.start_date.set_date(as_of)
        form.end_date.setText("")
        # A new record each time: half a milligram more, then back (a change of dose).
        form.dose_mg.setText(f"{taken + Decimal('0.5') if n % 2 == 0 else taken:f}")
        form.deviation_reason.setText("benchmark: a dose off the schedule")
        app.processEvents()
        saves.append(timed_step(form.save, lambda f=form: not f.isVisible()
                                and showing(subject)()))
        if form.isVisible():
            raise SystemExit("window-day: the dose was not saved: "
                             + "; ".join(f"{n}: {form.errors.message(n)}"
                                         for n in form.errors.marked()))
    report["save"] = saves[1:]
    print("READY", flush=True)
    print("REPORT " + json.dumps(report), flush=True)
    window.gateway.sign_out("sign out")
    window.close()
    connection.close()


def main(argv: list[str]) -> int:
    command, *args = argv
    {"startup": startup, "startup-bare": startup_bare, "memory": memory,
     "memory-bare": memory_bare, "window-switch": window_switch,
     "window-day": window_day}[command](*args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
