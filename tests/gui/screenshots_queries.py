"""Screenshots of queries in the window on the demo study: the monitor's Queries view, the
step form and the patient pane with its "open queries" line, and the nurse's view:
``python -m tests.gui.screenshots_queries DIR`` (under Xvfb at 1366x768, as
tests/gui/screenshots.py)."""

from __future__ import annotations

import sys

from taper_app.services.queries import answer_query, open_query
from taper_app.ui.queries_view import QueriesDialog, QueryStepDialog
from tests.gui.demo_shots import demo_shots


def main(out_dir: str) -> int:
    with demo_shots(out_dir) as shots:
        monitor, nurse = shots.user("monitor"), shots.user("nurse")
        mctx, nctx = shots.context(monitor), shots.context(nurse)
        window = shots.window(monitor, resize=(1366, 768))
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
        shots.shot(window, "queries-pane.png")
        window.show_queries()
        view = shots.dialog(QueriesDialog)
        view.resize(1366, 600)
        shots.shot(view, "queries-view-monitor.png")
        view.step("reask")
        step = shots.dialog(QueryStepDialog)
        step.text.setText("No corrected record is entered yet")
        shots.shot(step, "queries-reask.png")
        step.discard()
        view.accept()
        window.close()
        site = shots.window(nurse, resize=(1366, 768))
        site.show_queries()
        nview = shots.dialog(QueriesDialog)
        shots.shot(nview, "queries-view-nurse.png")
        nview.accept()
        site.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "screenshots"))
