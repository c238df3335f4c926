"""Screenshots for the README, on the demo study: ``python -m tests.gui.screenshots DIR``.

Run it under a real X server at the size of a small laptop, for example::

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 .venv/bin/python -m tests.gui.screenshots docs/screenshots

``QT_SCALE_FACTOR=1.5`` shows the window as at 150 % display scaling.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from matplotlib.backend_bases import MouseEvent

from taper_app.services.audit import utc_now
from taper_app.services.context import ServiceContext
from taper_app.services.demo import DEMO_PASSWORD, create_demo
from taper_app.services.gateway import LocalConnection
from taper_app.services.patients import record_dose, void_dose
from taper_app.services.study import StudyInfo, add_user, authenticate, load_study
from taper_app.storage.engine import Database
from taper_app.ui import messages
from taper_app.ui.app import application
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.login import LoginDialog
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QApplication, QColor, QDialog, QPainter, QPixmap, QWidget
from taper_app.ui.rows import PatientRow, dose_fields
from taper_app.ui.schedule_view import AmendDialog
from taper_app.ui.tasks import TaskRunner

DEMO_TODAY = date(2026, 11, 22)


def settle(app: QApplication, rounds: int = 5) -> None:
    for _ in range(rounds):
        app.processEvents()


def save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path} ({widget.width()}x{widget.height()})")


def flare_with_missing_diary_days(nurse: ServiceContext, study: StudyInfo,
                                  rows: list[PatientRow]) -> str:
    """The demo's first flare patient (amended schedule, IV pulse), with the last week of a
    diary after the flare not returned: the nurse voids the diary record and enters it again
    without those days (through the services, audited), so one chart shows every mark."""
    flare = next(r for r in rows if r.record.amendments
                 and any(d.frequency == "ONCE" for d in r.record.valid_doses))
    pulse = min(d.start_date for d in flare.record.valid_doses if d.frequency == "ONCE")
    diary = next(d for d in sorted(flare.record.valid_doses, key=lambda d: d.start_date)
                 if d.source == "diary" and d.start_date > pulse and d.end_date is not None
                 and (d.end_date - d.start_date).days >= 14)
    void_dose(nurse, diary.id, "diary: the last week's pages were not returned")
    fields = dose_fields(diary)
    fields["end_date"] = (diary.end_date - timedelta(days=7)).isoformat()
    fields["comment"] = "diary pages for the last 7 days not returned"
    record_dose(nurse, study, flare.subject_id, fields)
    return flare.subject_id


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
        amend.day_date.setText((DEMO_TODAY - timedelta(days=3)).isoformat())  # the visit
        amend.dose_mg.setText("15")
        amend.reason.setText("flare: CK up, MMT-8 down on two visits")
        settle(app)
        save(amend, out / f"amend-dialog{suffix}.png")
        amend.reject()
        window.close()

        # The Charts tab and the study dashboard, as an investigator sees them.
        nurse_context = ServiceContext(db, nurse, utc_now, lambda: DEMO_TODAY)
        subject = flare_with_missing_diary_days(nurse_context, study, rows)
        window = MainWindow(db, study, investigator, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        window.show()
        window.select_subject(subject)
        window.detail.tabs.setCurrentWidget(window.detail.charts)
        settle(app)
        charts = window.detail.charts
        charts.canvas.draw()
        row = window.current_row()
        assert row is not None
        flare_day = row.record.amendments[0].day
        x, y = charts.chart.ax_dose.transData.transform((flare_day + 12, 1))
        charts.canvas.callbacks.process(  # the read-out
            "motion_notify_event", MouseEvent("motion_notify_event", charts.canvas, x, y))
        settle(app)
        save(window, out / f"charts-tab{suffix}.png")
        window.show_dashboard()
        assert window.dashboard is not None
        settle(app)
        save(window.dashboard, out / f"dashboard{suffix}.png")
        window.dashboard.close()
        window.close()
        session_and_input_shots(app, db, study, out, suffix, opened)
        db.dispose()
    return 0


def with_popup(widget: QWidget, popup: QWidget) -> QPixmap:
    """The widget with a pop-up (a separate window) drawn where it shows over it."""
    shot = widget.grab()
    at = widget.mapFromGlobal(popup.mapToGlobal(popup.rect().topLeft()))
    bottom = max(shot.height(), at.y() + popup.height())
    canvas = QPixmap(shot.width(), bottom)
    canvas.fill(QColor("#ffffff"))
    painter = QPainter(canvas)
    painter.drawPixmap(0, 0, shot)
    painter.drawPixmap(at, popup.grab())
    painter.end()
    return canvas


def session_and_input_shots(app: QApplication, db: Database, study: StudyInfo, out: Path,
                            suffix: str, opened: list[QDialog]) -> None:
    """The date calendar in the dose form, the lock, the first sign-in, the user guide."""
    nurse = authenticate(db, "nurse", DEMO_PASSWORD)
    window = MainWindow(db, study, nurse, today=lambda: DEMO_TODAY,
                        tasks=TaskRunner(synchronous=True))
    window.show()
    settle(app)
    window.new_dose()
    form = opened[-1]
    assert isinstance(form, DoseDialog)
    form.start_date.setFocus()
    form.start_date.open_calendar()
    settle(app)
    popup = form.start_date.popup
    assert popup is not None
    path = out / f"date-calendar{suffix}.png"
    with_popup(form, popup).save(str(path))
    print(f"wrote {path}")
    popup.close()
    form.discard()

    window.lock_now()
    settle(app)
    lock = window.idle_lock.dialog
    assert lock is not None
    save(lock, out / f"lock-dialog{suffix}.png")
    window.idle_lock._unlock()  # (the screenshot needs no password)
    window.show_user_guide()
    settle(app)
    assert window.help_viewer is not None
    window.help_viewer.resize(1100, 700)
    settle(app)
    save(window.help_viewer, out / f"user-guide{suffix}.png")
    window.help_viewer.close()
    window.close()

    # A new account's first sign-in: choose your own password.
    add_user(ServiceContext(db, authenticate(db, "admin", DEMO_PASSWORD), utc_now,
                            lambda: DEMO_TODAY),
             "nadia", "nurse", "Nadia New (demo)", "first-password-123")
    login = LoginDialog(LocalConnection(db), study)
    login.show()
    login.username.setText("nadia")
    login.password.setText("first-password-123")
    login.sign_in()
    settle(app)
    save(login, out / f"first-sign-in{suffix}.png")
    login.reject()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots",
                  sys.argv[2] if len(sys.argv) > 2 else ""))
