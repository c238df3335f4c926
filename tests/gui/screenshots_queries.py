"""Screenshots of queries in the window on the demo study: the monitor's Queries view, the
step form and the patient pane with its "open queries" line, and the nurse's view:
``python -m tests.gui.screenshots_queries DIR`` (under Xvfb at 1366x768, as
tests/gui/screenshots.py)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from taper_app.services.context import ServiceContext
from taper_app.services.demo import DEMO_PASSWORD, create_demo
from taper_app.services.queries import answer_query, open_query
from taper_app.services.study import authenticate, load_study
from taper_app.ui import messages
from taper_app.ui.app import application
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QDialog
from taper_app.ui.queries_view import QueriesDialog, QueryStepDialog
from taper_app.ui.tasks import TaskRunner
from tests.gui.screenshots import DEMO_TODAY, save, settle


def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = application()
    opened: list[QDialog] = []
    DialogHost.present = classmethod(lambda cls, d: (opened.append(d), d.show()))  # type: ignore[method-assign,assignment]
    messages.set_presenter(lambda parent, message: True)
    with tempfile.TemporaryDirectory() as tmp:
        db = create_demo(Path(tmp) / "demo.sqlite", DEMO_TODAY)
        study = load_study(db)
        monitor = authenticate(db, "monitor", DEMO_PASSWORD)
        nurse = authenticate(db, "nurse", DEMO_PASSWORD)
        mctx = ServiceContext(db, monitor, today=lambda: DEMO_TODAY)
        nctx = ServiceContext(db, nurse, today=lambda: DEMO_TODAY)
        window = MainWindow(db, study, monitor, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        window.resize(1366, 768)
        window.show()
        settle(app)
        rows = window.patients_model.rows()
        first, second = rows[0], rows[1]
        dose = first.record.doses[0]
        q1 = open_query(mctx, first.subject_id, "The clinic chart says 15 mg on this day, "
                        "not the dose entered: please check", record_id=dose.id)
        open_query(mctx, first.subject_id, "Kit number missing from the enrollment form")
        q3 = open_query(mctx, second.subject_id, "Diary week 3 not returned?")
        answer_query(nctx, q1, "Transcription error: corrected, see the new record")
        answer_query(nctx, q3, "Returned late; entered today")
        window.refresh()
        window.select_subject(first.subject_id)
        settle(app)
        save(window, out / "queries-pane.png")
        window.show_queries()
        view = opened[-1]
        assert isinstance(view, QueriesDialog)
        view.resize(1366, 600)
        settle(app)
        save(view, out / "queries-view-monitor.png")
        view.step("reask")
        step = opened[-1]
        assert isinstance(step, QueryStepDialog)
        step.text.setText("No corrected record is entered yet")
        settle(app)
        save(step, out / "queries-reask.png")
        step.discard()
        view.accept()
        window.close()
        site = MainWindow(db, study, nurse, today=lambda: DEMO_TODAY,
                          tasks=TaskRunner(synchronous=True))
        site.resize(1366, 768)
        site.show()
        settle(app)
        site.show_queries()
        nview = opened[-1]
        assert isinstance(nview, QueriesDialog)
        settle(app)
        save(nview, out / "queries-view-nurse.png")
        nview.accept()
        site.close()
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "screenshots"))
