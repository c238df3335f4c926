"""Administration in the window (users, settings) for administrators only, with the
command line's rules and audit; the CSV and SDTM exports into a chosen folder; the
dashboard table to CSV and to a printable PDF (read back); menus by role."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from pypdf import PdfReader

from taper_app import cli
from taper_app.services.accounts import list_users
from taper_app.services.settings import load_settings
from taper_app.ui.admin import SettingsDialog, UserChangeDialog, UsersDialog
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.report_export import ReportExport

from .conftest import audit_rows


def _menus(window) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    out = {}
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        out[menu_action.text().replace("&", "")] = [
            a.objectName() for a in menu.actions() if a.isVisible() and a.objectName()]
    return out


@pytest.mark.parametrize(("role", "shown", "hidden"), [
    ("nurse", {"enroll", "new_dose", "void_dose"}, {"amend", "sign", "users", "settings",
                                                    "correct_enrollment"}),
    ("investigator", {"amend", "sign", "correct_enrollment", "new_dose"}, {"users"}),
    ("monitor", {"patient_audit", "export_patient"}, {"enroll", "new_dose", "amend", "sign",
                                                      "void_dose", "users"}),
    ("admin", {"users", "settings", "export_csv"}, {"enroll", "new_dose", "amend", "sign"}),
])
def test_menus_show_what_the_role_may_do(open_window, patient, role, shown, hidden):
    window = open_window(role)
    menus = _menus(window)
    visible = {name for names in menus.values() for name in names}
    assert shown <= visible and not hidden & visible
    assert ("Administration" in menus) == (role == "admin")
    assert {"export_csv", "export_sdtm", "dashboard", "study_audit"} <= visible


def _users_dialog(window, dialogs) -> UsersDialog:  # type: ignore[no-untyped-def]
    window.actions_by_name["users"].trigger()
    return dialogs.last(UsersDialog)


def _select(view: UsersDialog, username: str) -> None:
    row = next(i for i, u in enumerate(view.model.rows()) if u.username == username)
    view.table.selectRow(row)


def test_an_administrator_adds_a_user_with_sites(open_window, dialogs, db):
    window = open_window("admin")
    users = _users_dialog(window, dialogs)
    users.buttons["add"].click()
    form = dialogs.last(UserChangeDialog)
    form.username.setText("sam")
    form.full_name.setText("Sam Site-Nurse")
    form.role.setCurrentIndex(form.role.findData("nurse"))
    form.sites.setText("102, 101")
    form.password.setText("first-password-1")
    form.repeat.setText("first-password-2")
    form.save()
    assert "is not the same password" in form.errors.message("repeat")
    form.repeat.setText("first-password-1")
    form.save()
    assert not form.isVisible()
    sam = next(u for u in list_users(db) if u.username == "sam")
    assert (sam.role, sam.sites, sam.must_change_password) == ("nurse", ("101", "102"), True)
    assert users.model.index(users.table.currentIndex().row(), 0).data() == "sam"
    assert {(r.action, r.username) for r in audit_rows(db) if r.entity_id == "sam"} >= {
        ("add_user", "admin"), ("set_sites", "admin")}


def test_reset_role_sites_and_deactivate_need_a_reason_and_are_audited(open_window, dialogs,
                                                                       db):
    window = open_window("admin")
    users = _users_dialog(window, dialogs)
    for kind, fill, check in (
            ("reset", lambda f: (f.password.setText("temporary-pass-1"),
                                 f.repeat.setText("temporary-pass-1")),
             lambda u: u.must_change_password),
            ("role", lambda f: f.role.setCurrentIndex(f.role.findData("investigator")),
             lambda u: u.role == "investigator"),
            ("sites", lambda f: f.sites.setText("101"), lambda u: u.sites == ("101",)),
            ("deactivate", lambda f: None, lambda u: not u.active)):
        _select(users, "monitor")
        users.buttons[kind].click()
        form = dialogs.last(UserChangeDialog)
        fill(form)
        form.save()
        assert "a reason is required" in form.errors.message("reason"), kind
        form.reason.setText(f"{kind}: asked by the sponsor")
        fill(form)  # the passwords are never left in a form after a try
        form.save()
        assert not form.isVisible(), kind
        monitor = next(u for u in list_users(db) if u.username == "monitor")
        assert check(monitor), kind
    reasons = {r.action: r.reason for r in audit_rows(db) if r.entity_id == "monitor"}
    assert reasons["reset_password"] == "reset: asked by the sponsor"
    assert reasons["change_role"] == "role: asked by the sponsor"
    assert reasons["set_sites"] == "sites: asked by the sponsor"
    assert reasons["deactivate_user"] == "deactivate: asked by the sponsor"
    _select(users, "monitor")
    assert not users.buttons["reset"].isEnabled()  # deactivated: nothing more to change
    assert users.model.index(users.table.currentIndex().row(), 4).data() == "deactivated"


def test_an_administrator_cannot_deactivate_themselves(open_window, dialogs, db,
                                                       message_log):
    users = _users_dialog(open_window("admin"), dialogs)
    _select(users, "admin")
    users.buttons["deactivate"].click()
    form = dialogs.last(UserChangeDialog)
    form.reason.setText("leaving")
    form.save()
    [refused] = message_log.take("error")
    assert "cannot deactivate your own account" in refused.text
    assert form.isVisible()
    form.discard()


def test_settings_are_changed_with_a_reason_all_or_none(open_window, dialogs, db):
    window = open_window("admin")
    window.actions_by_name["settings"].trigger()
    form = dialogs.last(SettingsDialog)
    form.edits["idle_lock_minutes"].setText("30")
    form.edits["backups_kept"].setText("1")  # below its minimum of 2
    form.reason.setText("site policy")
    form.save()
    assert "must be from 2 to 500" in form.errors.message("backups_kept")
    assert load_settings(db)["idle_lock_minutes"] == 15  # nothing saved
    form.edits["backups_kept"].setText("30")
    form.save()
    assert not form.isVisible()
    assert (load_settings(db)["idle_lock_minutes"], load_settings(db)["backups_kept"]) == (
        30, 30)
    assert {r.entity_id for r in audit_rows(db, "change_setting")} == {
        "idle_lock_minutes", "backups_kept"}
    assert "settings changed" in window.statusBar().currentMessage()


def test_a_nurse_has_no_administration(open_window, dialogs):
    window = open_window("nurse")
    window.show_users()
    window.show_settings()
    assert dialogs.opened == []


@pytest.mark.parametrize("kind", ["csv", "sdtm"])
def test_exports_write_the_command_lines_files_into_the_chosen_folder(
        open_window, patient, db, db_path, tmp_path, monkeypatch, message_log, kind):
    folder = tmp_path / "out"
    monkeypatch.setattr(DialogHost, "choose_folder", classmethod(lambda cls, p, t, s: folder))
    window = open_window("monitor")
    window.actions_by_name[f"export_{kind}"].trigger()
    [done] = message_log.take("info")
    assert f"written into {folder}" in done.text
    assert window.data_export.progress_dialog is None
    names = sorted(p.name for p in folder.iterdir())
    assert names == (["README.md", "daily_series.csv", "dose_records.csv"] if kind == "csv"
                     else ["README.md", "cm.csv", "cm_voided.csv"])
    if kind == "csv":  # the same rows as the command line writes
        other = tmp_path / "cli"
        status = cli.run(["export", "--format", "csv", "--out", str(other), "--db",
                          str(db_path), "--as-of", "2026-07-02"], io.StringIO(), io.StringIO(),
                         io.StringIO(""))
        assert status == 0
        assert (folder / "dose_records.csv").read_text(encoding="utf-8") == (
            other / "dose_records.csv").read_text(encoding="utf-8")


def test_cancelling_the_folder_dialog_writes_nothing(open_window, patient, tmp_path,
                                                     monkeypatch, message_log):
    monkeypatch.setattr(DialogHost, "choose_folder", classmethod(lambda cls, p, t, s: None))
    window = open_window("monitor")
    window.actions_by_name["export_sdtm"].trigger()
    assert message_log.take() == [] and list(tmp_path.glob("**/cm.csv")) == []


def test_the_dashboard_table_goes_to_csv_and_to_a_printable_pdf(
        open_window, patient, tmp_path, monkeypatch, message_log):
    targets = iter([tmp_path / "figures.csv", tmp_path / "figures.pdf"])
    monkeypatch.setattr(DialogHost, "save_file",
                        classmethod(lambda cls, p, t, s, f="": next(targets)))
    opened: list[Path] = []
    monkeypatch.setattr(ReportExport, "open_document",
                        classmethod(lambda cls, path: opened.append(path) or True))
    window = open_window("monitor")
    window.show_dashboard()
    board = window.dashboard
    summary = window.current_row().summary
    board.export_button.click()
    with (tmp_path / "figures.csv").open(encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["subject_id"] == "101-001" and row["as_of"] == summary["as_of"]
    assert float(row["reduction_pct"]) == summary["reduction_pct"]
    assert row["target_status"] == summary["target"]["status"]
    assert json.loads(json.dumps(summary))["baseline_mg"] == float(row["baseline_mg"])
    [info] = message_log.take("info")
    assert "1 patients written" in info.text
    board.print_button.click()
    assert opened == [tmp_path / "figures.pdf"]
    text = "".join(page.extract_text() for page in PdfReader(tmp_path / "figures.pdf").pages)
    assert "101-001" in text and "Every patient's figures" in text
    board.close()


def test_the_users_model_passes_the_model_tester(qtmodeltester, open_window, dialogs):
    users = _users_dialog(open_window("admin"), dialogs)
    assert users.model.rowCount() == 4
    qtmodeltester.check(users.model, force_py=True)
