"""Screenshots for the README, on the demo study: ``python -m tests.gui.screenshots DIR``.

Run it under a real X server at the size of a small laptop, for example::

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 .venv/bin/python -m tests.gui.screenshots docs/screenshots

``QT_SCALE_FACTOR=1.5`` shows the window as at 150 % display scaling.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

from taper_app.services.demo import DEMO_PASSWORD, create_demo
from taper_app.services.study import authenticate, load_study
from taper_app.ui import messages
from taper_app.ui.app import application
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QApplication, QDialog, QWidget
from taper_app.ui.schedule_view import AmendDialog
from taper_app.ui.tasks import TaskRunner

DEMO_TODAY = date(2026, 11, 22)


def settle(app: QApplication, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path} ({widget.width()}x{widget.height()})")


def main(out_dir: str, suffix: str = "") -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app = application()
    opened: list[QDialog] = []
    DialogHost.present = classmethod(lambda cls, d: (opened.append(d), d.show()))  # type: ignore[method-assign,assignment]
    messages.set_presenter(lambda parent, message: True)
    with tempfile.TemporaryDirectory() as tmp:
        db = create_demo(Path(tmp) / "demo.sqlite", DEMO_TODAY)
        study = load_study(db)
        nurse = authenticate(db, "nurse", DEMO_PASSWORD)
        window = MainWindow(db, study, nurse, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        window.show()
        settle(app)
        # A patient with diary gaps shows the whole Doses tab at work.
        rows = window.patients_model.rows()
        gappy = next((r for r in rows if len(r.analysis.gaps) >= 2), rows[0])
        window.select_subject(gappy.subject_id)
        settle(app)
        save(window, out / f"main-window{suffix}.png")

        window.new_dose()
        form = opened[-1]
        assert isinstance(form, DoseDialog)
        form.drug.setEditText("methylprednisolone")
        form.dose_mg.setText("8")
        form.comment.setText("from the diary")
        form.save()  # a dose off the schedule: the form asks for a reason, in place
        settle(app)
        save(form, out / f"dose-form{suffix}.png")
        form.reject()

        window.actions_by_name["enroll"].trigger()
        enroll = opened[-1]
        assert isinstance(enroll, EnrollDialog)
        enroll.subject_id.setText("101-015")
        enroll.site.setEditText("101")
        enroll.day1_date.setText("2026-11-20")
        enroll.baseline_mg.setText("25")
        enroll.kit_number.setText("K-55012")
        enroll.template_id.setCurrentIndex(enroll.template_id.findData("stepdown-a"))
        settle(app)
        save(enroll, out / f"enroll-dialog{suffix}.png")
        enroll.reject()

        investigator = authenticate(db, "investigator", DEMO_PASSWORD)
        window.close()
        window = MainWindow(db, study, investigator, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        window.show()
        amended = next((r for r in window.patients_model.rows() if r.record.amendments),
                       window.patients_model.rows()[0])
        window.select_subject(amended.subject_id)
        window.detail.tabs.setCurrentWidget(window.detail.schedule)
        settle(app)
        save(window, out / f"schedule-tab{suffix}.png")
        window.amend_schedule()
        amend = opened[-1]
        assert isinstance(amend, AmendDialog)
        amend.dose_mg.setText("15")
        amend.reason.setText("flare: CK up, MMT-8 down on two visits")
        settle(app)
        save(amend, out / f"amend-dialog{suffix}.png")
        amend.reject()
        window.close()
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots",
                  sys.argv[2] if len(sys.argv) > 2 else ""))
