"""Screenshots for the README, on the demo study: ``python -m tests.gui.screenshots DIR``.

Run it under a real X server at the size of a small laptop, for example::

    Xvfb :99 -screen 0 1366x768x24 &
    DISPLAY=:99 .venv/bin/python -m tests.gui.screenshots docs/screenshots

``QT_SCALE_FACTOR=1.5`` shows the window as at 150 % display scaling.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from matplotlib.backend_bases import MouseEvent

from taper_app.services.context import ServiceContext
from taper_app.services.gateway import LocalConnection
from taper_app.services.patients import record_dose, void_dose
from taper_app.services.study import StudyInfo, add_user
from taper_app.ui.dose_form import DoseDialog
from taper_app.ui.enroll import EnrollDialog
from taper_app.ui.login import LoginDialog
from taper_app.ui.qt import QColor, QPainter, QPixmap, QWidget
from taper_app.ui.rows import PatientRow, dose_fields
from taper_app.ui.schedule_view import AmendDialog
from tests.gui.demo_shots import DEMO_TODAY, DemoShots, demo_shots


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
    with demo_shots(out_dir) as shots:
        nurse = shots.user("nurse")
        window = shots.window(nurse)
        # A patient with diary gaps shows the whole Doses tab at work.
        rows = window.patients_model.rows()
        gappy = next((r for r in rows if len(r.analysis.gaps) >= 2), rows[0])
        window.select_subject(gappy.subject_id)
        shots.shot(window, f"main-window{suffix}.png")

        window.new_dose()
        form = shots.dialog(DoseDialog)
        form.drug.setEditText("methylprednisolone")
        form.dose_mg.setText("8")
        form.comment.setText("from the diary")
        form.save()  # a dose off the schedule: the form asks for a reason, in place
        shots.shot(form, f"dose-form{suffix}.png")
        form.reject()

        window.actions_by_name["enroll"].trigger()
        enroll = shots.dialog(EnrollDialog)
        enroll.subject_id.setText("101-015")
        enroll.site.setEditText("101")
        enroll.day1_date.setText("2026-11-20")
        enroll.baseline_mg.setText("25")
        enroll.kit_number.setText("K-55012")
        enroll.template_id.setCurrentIndex(enroll.template_id.findData("stepdown-a"))
        shots.shot(enroll, f"enroll-dialog{suffix}.png")
        enroll.reject()

        investigator = shots.user("investigator")
        window.close()
        window = shots.window(investigator)
        amended = next((r for r in window.patients_model.rows() if r.record.amendments),
                       window.patients_model.rows()[0])
        window.select_subject(amended.subject_id)
        window.detail.tabs.setCurrentWidget(window.detail.schedule)
        shots.shot(window, f"schedule-tab{suffix}.png")
        window.amend_schedule()
        amend = shots.dialog(AmendDialog)
        amend.day_date.setText((DEMO_TODAY - timedelta(days=3)).isoformat())  # the visit
        amend.dose_mg.setText("15")
        amend.reason.setText("flare: CK up, MMT-8 down on two visits")
        shots.shot(amend, f"amend-dialog{suffix}.png")
        amend.reject()
        window.close()

        # The Charts tab and the study dashboard, as an investigator sees them.
        subject = flare_with_missing_diary_days(shots.context(nurse), shots.study, rows)
        window = shots.window(investigator)
        window.select_subject(subject)
        window.detail.tabs.setCurrentWidget(window.detail.charts)
        shots.settle()
        charts = window.detail.charts
        charts.canvas.draw()
        row = window.current_row()
        assert row is not None
        flare_day = row.record.amendments[0].day
        x, y = charts.chart.ax_dose.transData.transform((flare_day + 12, 1))
        charts.canvas.callbacks.process(  # the read-out
            "motion_notify_event", MouseEvent("motion_notify_event", charts.canvas, x, y))
        shots.shot(window, f"charts-tab{suffix}.png")
        window.show_dashboard()
        assert window.dashboard is not None
        shots.shot(window.dashboard, f"dashboard{suffix}.png")
        window.dashboard.close()
        window.close()
        session_and_input_shots(shots, suffix)
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


def session_and_input_shots(shots: DemoShots, suffix: str) -> None:
    """The date calendar in the dose form, the lock, the first sign-in, the user guide."""
    window = shots.window(shots.user("nurse"))
    window.new_dose()
    form = shots.dialog(DoseDialog)
    form.start_date.setFocus()
    form.start_date.open_calendar()
    shots.settle()
    popup = form.start_date.popup
    assert popup is not None
    path = shots.out / f"date-calendar{suffix}.png"
    with_popup(form, popup).save(str(path))
    print(f"wrote {path}")
    popup.close()
    form.discard()

    window.lock_now()
    shots.settle()
    lock = window.idle_lock.dialog
    assert lock is not None
    shots.save(lock, f"lock-dialog{suffix}.png")
    window.idle_lock._unlock()  # (the screenshot needs no password)
    window.show_user_guide()
    shots.settle()
    assert window.help_viewer is not None
    window.help_viewer.resize(1100, 700)
    shots.shot(window.help_viewer, f"user-guide{suffix}.png")
    window.help_viewer.close()
    window.close()

    # A new account's first sign-in: choose your own password.
    add_user(shots.context(shots.user("admin")),
             "nadia", "nurse", "Nadia New (demo)", "first-password-123")
    login = LoginDialog(LocalConnection(shots.db), shots.study)
    login.show()
    login.username.setText("nadia")
    login.password.setText("first-password-123")
    login.sign_in()
    shots.shot(login, f"first-sign-in{suffix}.png")
    login.reject()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots",
                  sys.argv[2] if len(sys.argv) > 2 else ""))
