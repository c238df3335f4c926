"""Screenshots of the investigator's corrections, the audit view and administration, on
the demo study: ``python -m tests.gui.screenshots_monitor DIR`` (under Xvfb at 1366x768,
as tests/gui/screenshots.py)."""

from __future__ import annotations

import sys

from taper_app.services.corrections import withdraw_amendment
from taper_app.services.demo import DEMO_PASSWORD
from taper_app.ui.admin import SettingsDialog, UserChangeDialog, UsersDialog
from taper_app.ui.audit_view import AuditDialog
from taper_app.ui.corrections import CorrectEnrollmentDialog, WithdrawAmendmentDialog
from taper_app.ui.verification import VerifyDialog
from tests.gui.demo_shots import demo_shots


def main(out_dir: str) -> int:
    with demo_shots(out_dir) as shots:
        investigator = shots.user("investigator")
        window = shots.window(investigator)
        rows = window.patients_model.rows()
        amended = next(r for r in rows if r.record.amendments)
        plain = next(r for r in rows if not r.record.amendments)
        window.select_subject(amended.subject_id)
        window.detail.tabs.setCurrentWidget(window.detail.schedule)
        window.detail.schedule.amendments_view.selectRow(0)
        shots.settle()
        window.withdraw_amendment()
        withdraw = shots.dialog(WithdrawAmendmentDialog)
        withdraw.reason.setText("entered on the wrong patient")
        shots.shot(withdraw, "withdraw-amendment.png")
        withdraw.discard()
        window.correct_enrollment()
        blocked = shots.dialog(CorrectEnrollmentDialog)
        shots.shot(blocked, "correct-enrollment-blocked.png")
        blocked.discard()
        withdraw_amendment(shots.context(investigator), shots.study, amended.subject_id, 1,
                           "entered on the wrong patient", DEMO_PASSWORD)
        window.refresh()
        shots.settle()
        window.select_subject(amended.subject_id)
        window.detail.tabs.setCurrentWidget(window.detail.schedule)
        shots.shot(window, "schedule-withdrawn.png")
        window.select_subject(plain.subject_id)
        shots.settle()
        window.correct_enrollment()
        correct = shots.dialog(CorrectEnrollmentDialog)
        correct.baseline.setText("25")
        correct.reason.setText("baseline misread from the CRF (20 mg written as 25)")
        shots.shot(correct, "correct-enrollment.png")
        correct.discard()
        window.select_subject(amended.subject_id)
        window.show_patient_audit()
        audit = shots.dialog(AuditDialog)
        audit.resize(1366, 740)
        audit.tree.expand(audit.model.index(1, 0))
        audit.tree.setCurrentIndex(audit.model.index(0, 0))
        shots.shot(audit, "audit-view.png")
        audit.close()
        window.close()

        window = shots.window(shots.user("monitor"))
        window.select_subject(plain.subject_id)
        shots.settle()
        window.verify_source()
        verify = shots.dialog(VerifyDialog)
        verify.through.setText("2026-10-31")
        shots.shot(verify, "verify-dialog.png")
        verify.save()
        shots.settle()
        window.select_subject(plain.subject_id)
        shots.shot(window, "monitor-verified.png")
        window.close()

        window = shots.window(shots.user("admin"))
        shots.save(window, "admin-window.png")
        window.show_users()
        users = shots.dialog(UsersDialog)
        users.table.selectRow(1)
        shots.shot(users, "admin-users.png")
        users.change("sites")
        sites = shots.dialog(UserChangeDialog)
        sites.sites.setText("101")
        sites.reason.setText("monitors site 101 only from January")
        shots.shot(sites, "admin-user-sites.png")
        sites.discard()
        users.close()
        window.show_settings()
        settings = shots.dialog(SettingsDialog)
        shots.shot(settings, "admin-settings.png")
        settings.discard()
        window.show_dashboard()
        assert window.dashboard is not None
        shots.shot(window.dashboard, "dashboard-export.png")
        window.dashboard.close()
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/monitor-shots"))
