"""Fresh processes for the cold-start and memory benchmarks (run by bench/benchmarks.py).

    python bench/drivers.py startup DB AS_OF     the window, signed in, first list shown
    python bench/drivers.py startup-bare         an empty window, the same libraries
    python bench/drivers.py memory DB AS_OF      summary of every patient; peak RSS
    python bench/drivers.py memory-bare DB       the same imports, rows read with sqlite3
    python bench/drivers.py window-switch DB AS_OF SUBJECT OTHER RUNS
                                                 the real window switching patients
    python bench/drivers.py window-remote DB URL AS_OF SUBJECT OTHER RUNS
                                                 the window on the file and through the
                                                 server at URL, the same work alternately

Each prints ``READY`` when done (the parent times launch to that line) and a ``REPORT``
line of JSON with its own phase times or peak memory.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import json  # noqa: E402  (timed from the very first line)
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
    """A QTimer ticking every 2 ms on the GUI thread: the longest gap between two ticks
    while some work runs is the longest the GUI thread could not answer (a block)."""

    def __init__(self) -> None:
        from taper_app.ui.qt import QTimer

        self.timer = QTimer()
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.longest = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def restart(self) -> None:
        self.last, self.longest = time.perf_counter(), 0.0

    def block(self) -> float:
        """The longest gap since restart, the one still open included."""
        return max(self.longest, time.perf_counter() - self.last)


def window_remote(db_path: str, url: str, as_of_text: str, subject: str, other: str,
                  runs_text: str) -> None:
    """The same user's window on the study file and through the application server at
    ``url`` (a delaying proxy in front of it), alternately, each measured with its real
    thread pool until its event queue is empty: sign-in to the loaded list, a patient
    switch (a patient whose record the window does not hold yet: through the server it
    is fetched, on the file the list already has it), and a dose save (the form's work:
    the signed-period check, the service call, the patient's reload). The GUI thread's
    longest block during each (a 2 ms heartbeat's largest gap), and whether both show the
    same figures."""
    from datetime import UTC, date, datetime

    from taper_app.remote.gateway import ServerConnection
    from taper_app.services.gateway import PatientRow
    from taper_app.services.study import authenticate, load_study
    from taper_app.storage.engine import open_database
    from taper_app.ui import messages
    from taper_app.ui.app import application
    from taper_app.ui.dose_form import DoseDialog
    from taper_app.ui.main_window import MainWindow

    as_of = date.fromisoformat(as_of_text)

    def clock() -> datetime:
        return datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)

    app = application()
    # A question (a signed period the dose falls in) is answered Save at once, as a nurse
    # who has read it would; nothing else is shown.
    messages.set_presenter(lambda _parent, message: True)
    beat = _Heartbeat()
    db = open_database(db_path)
    connections: list[ServerConnection] = []
    fields = {"drug": "prednisone", "dose_mg": "5", "frequency": "QD", "route": "PO",
              "start_date": as_of.isoformat(), "end_date": as_of.isoformat(),
              "source": "diary", "comment": "benchmark", "deviation_reason": "benchmark"}

    def settle(window: MainWindow) -> None:
        while window.tasks.busy() or window.patients_model.rowCount() == 0:
            app.processEvents()
        app.processEvents()

    def open_window(where: str) -> MainWindow:
        if where == "file":
            actor = authenticate(db, "nurse", PASSWORD, clock)
            window = MainWindow(db, load_study(db), actor, today=lambda: as_of, clock=clock)
        else:
            connection = ServerConnection(url)
            connections.append(connection)
            actor = connection.authenticate("nurse", PASSWORD, clock)
            assert actor is not None, "the synthetic nurse has her own password on the server"
            gateway = connection.open(actor, clock, lambda: as_of)
            window = MainWindow(gateway, gateway.load_study(), actor, today=lambda: as_of,
                                clock=clock)
        window.resize(1366, 768)
        window.show()
        settle(window)
        return window

    def sign_in(where: str) -> tuple[float, float]:
        beat.restart()
        start = time.perf_counter()
        window = open_window(where)
        took, block = time.perf_counter() - start, beat.block()
        window.sign_out()
        app.processEvents()
        window.deleteLater()
        return took, block

    def show(window: MainWindow, name: str) -> None:
        if not window.select_subject(name):
            raise SystemExit(f"window-remote: no patient {name}")
        settle(window)

    def forget(window: MainWindow, name: str) -> None:
        """The patient back to what the list load gives (through the server: no record)."""
        model = window.patients_model
        row = model.row_at(model.row_of_subject(name))
        if not window.gateway.is_local:
            model.upsert(PatientRow.from_listing(row.listing()))

    def switch(window: MainWindow) -> tuple[float, float]:
        show(window, other)
        forget(window, subject)
        app.processEvents()
        beat.restart()
        start = time.perf_counter()
        show(window, subject)
        assert window.current_row().complete
        return time.perf_counter() - start, beat.block()

    def save(window: MainWindow) -> tuple[float, float]:
        """The dose form's Save, as the nurse presses it (its fields already typed)."""
        show(window, subject)
        row = window.loaded_row()
        assert row is not None
        form = DoseDialog(window.ctx, window.study, row.record, initial=fields,
                          parent=window)
        form.saved.connect(window.after_save)
        form.show()
        app.processEvents()
        assert form.fields() == fields, form.fields()
        beat.restart()
        start = time.perf_counter()
        form.save_button.click()
        while form.isVisible():
            app.processEvents()
        settle(window)
        took, block = time.perf_counter() - start, beat.block()
        form.deleteLater()
        return took, block

    def summaries(window: MainWindow) -> list[dict[str, object]]:
        return [r.summary for r in window.patients_model.rows()]

    runs = int(runs_text)
    report: dict[str, object] = {}

    def measure(name: str, work: Any, on: dict[str, Any]) -> None:
        """``work`` on the server's and the file's alternately (the first pair warms up);
        its times and blocks into the report."""
        done: dict[str, list[tuple[float, float]]] = {"server": [], "file": []}
        for i in range(runs + 1):
            for where in (("server", "file") if i % 2 == 0 else ("file", "server")):
                measured = work(on[where])
                if i:
                    done[where].append(measured)
        for where, suffix in (("server", ""), ("file", " file")):
            report[f"{name}{suffix}"] = [t for t, _b in done[where]]
            report[f"{name}{suffix} block"] = [b for _t, b in done[where]]

    measure("sign-in", sign_in, {"server": "server", "file": "file"})
    windows = {"server": open_window("server"), "file": open_window("file")}
    report["same figures before"] = summaries(windows["server"]) == summaries(windows["file"])
    for tab, label in ((0, "doses"), (2, "charts")):
        for w in windows.values():
            w.detail.tabs.setCurrentIndex(tab)
            app.processEvents()
        measure(f"switch {label}", switch, windows)
    for w in windows.values():
        w.detail.tabs.setCurrentIndex(0)
    measure("save", save, windows)
    for w in windows.values():
        w.refresh()
        settle(w)
    report["same figures after"] = summaries(windows["server"]) == summaries(windows["file"])
    report["records"] = len(windows["file"].current_row().record.doses)
    print("READY", flush=True)
    print("REPORT " + json.dumps(report), flush=True)
    for w in windows.values():
        w.sign_out()
    for connection in connections:
        connection.close()
    db.dispose()


def main(argv: list[str]) -> int:
    command, *args = argv
    {"startup": startup, "startup-bare": startup_bare, "memory": memory,
     "memory-bare": memory_bare, "window-switch": window_switch,
     "window-remote": window_remote}[command](*args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
