"""Screenshots of the investigator's corrections, the audit view and administration, on
the demo study: ``python -m tests.gui.screenshots_monitor DIR`` (under Xvfb at 1366x768,
as tests/gui/screenshots.py)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from taper_app.services.audit import utc_now
from taper_app.services.context import ServiceContext
from taper_app.services.corrections import withdraw_amendment
from taper_app.services.demo import DEMO_PASSWORD, create_demo
from taper_app.services.study import authenticate, load_study
from taper_app.ui import messages
from taper_app.ui.admin import SettingsDialog, UserChangeDialog, UsersDialog
from taper_app.ui.app import application
from taper_app.ui.audit_view import AuditDialog
from taper_app.ui.corrections import CorrectEnrollmentDialog, WithdrawAmendmentDialog
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QDialog
from taper_app.ui.tasks import TaskRunner
from taper_app.ui.verification import VerifyDialog
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
        investigator = authenticate(db, "investigator", DEMO_PASSWORD)
        window = MainWindow(db, study, investigator, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        window.show()
        settle(app)
        rows = window.patients_model.rows()
        amended = next(r for r in rows if r.record.amendments)
        plain = next(r for r in rows if not r.record.amendments)
        window.select_subject(amended.subject_id)
        window.detail.tabs.setCurrentWidget(window.detail.schedule)
        window.detail.schedule.amendments_view.selectRow(0)
        settle(app)
        window.withdraw_amendment()
        withdraw = opened[-1]
        assert isinstance(withdraw, WithdrawAmendmentDialog)
        withdraw.reason.setText("entered on the wrong patient")
        settle(app)
        save(withdraw, out / "withdraw-amendment.png")
        withdraw.discard()
        window.correct_enrollment()
        blocked = opened[-1]
        assert isinstance(blocked, CorrectEnrollmentDialog)
        settle(app)
        save(blocked, out / "correct-enrollment-blocked.png")
        blocked.discard()
        ctx = ServiceContext(db, investigator, utc_now, lambda: DEMO_TODAY)
        withdraw_amendment(ctx, study, amended.subject_id, 1, "entered on the wrong patient",
                           DEMO_PASSWORD)
        window.refresh()
        settle(app)
        window.select_subject(amended.subject_id)
        window.detail.tabs.setCurrentWidget(window.detail.schedule)
        settle(app)
        save(window, out / "schedule-withdrawn.png")
        window.select_subject(plain.subject_id)
        settle(app)
        window.correct_enrollment()
        correct = opened[-1]
        assert isinstance(correct, CorrectEnrollmentDialog)
        correct.baseline.setText("25")
        correct.reason.setText("baseline misread from the CRF (20 mg written as 25)")
        settle(app)
        save(correct, out / "correct-enrollment.png")
        correct.discard()
        window.select_subject(amended.subject_id)
        window.show_patient_audit()
        audit = opened[-1]
        assert isinstance(audit, AuditDialog)
        audit.resize(1366, 740)
        audit.tree.expand(audit.model.index(1, 0))
        audit.tree.setCurrentIndex(audit.model.index(0, 0))
        settle(app)
        save(audit, out / "audit-view.png")
        audit.close()
        window.close()

        monitor = authenticate(db, "monitor", DEMO_PASSWORD)
        window = MainWindow(db, study, monitor, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        window.show()
        settle(app)
        window.select_subject(plain.subject_id)
        settle(app)
        window.verify_source()
        verify = opened[-1]
        assert isinstance(verify, VerifyDialog)
        verify.through.setText("2026-10-31")
        settle(app)
        save(verify, out / "verify-dialog.png")
        verify.save()
        settle(app)
        window.select_subject(plain.subject_id)
        settle(app)
        save(window, out / "monitor-verified.png")
        window.close()

        admin = authenticate(db, "admin", DEMO_PASSWORD)
        window = MainWindow(db, study, admin, today=lambda: DEMO_TODAY,
                            tasks=TaskRunner(synchronous=True))
        window.show()
        settle(app)
        save(window, out / "admin-window.png")
        window.show_users()
        users = opened[-1]
        assert isinstance(users, UsersDialog)
        users.table.selectRow(1)
        settle(app)
        save(users, out / "admin-users.png")
        users.change("sites")
        sites = opened[-1]
        assert isinstance(sites, UserChangeDialog)
        sites.sites.setText("101")
        sites.reason.setText("monitors site 101 only from January")
        settle(app)
        save(sites, out / "admin-user-sites.png")
        sites.discard()
        users.close()
        window.show_settings()
        settings = opened[-1]
        assert isinstance(settings, SettingsDialog)
        settle(app)
        save(settings, out / "admin-settings.png")
        settings.discard()
        window.show_dashboard()
        assert window.dashboard is not None
        settle(app)
        save(window.dashboard, out / "dashboard-export.png")
        window.dashboard.close()
        window.close()
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/monitor-shots"))
