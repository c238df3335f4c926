"""Start-up safety on real SQLite files: a damaged file is refused and the newest good
backup offered and restored; automatic backups at start, on the timer and at close."""

from __future__ import annotations

import hashlib
import itertools
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from taper_app.services.audit import verify_chain
from taper_app.services.file_safety import automatic_backup, backups_of, check_study_file
from taper_app.services.patients import enroll_patient
from taper_app.services.settings import set_setting
from taper_app.services.study import authenticate, load_study
from taper_app.storage.engine import Database, open_database
from taper_app.storage.sqlite_copies import backup_folder, integrity_check
from taper_app.storage.uow import UnitOfWork
from taper_app.ui import app as app_module
from taper_app.ui.file_safety import AutomaticBackups, check_before_opening
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QApplication
from taper_app.ui.rows import load_patient_row
from taper_app.ui.tasks import TaskRunner
from tests.conftest import NOW, PASSWORD, TODAY, context, fixed_clock

from .conftest import audit_rows, dose, when_the_window_shows


def ticking_clock():
    """A clock that moves on a minute at each reading, so every backup has its own time."""
    minutes = itertools.count()
    return lambda: NOW + timedelta(minutes=next(minutes))


def damage(path: Path) -> None:
    """Overwrite two pages in the middle of the file, as a failing disk would."""
    with path.open("r+b") as fh:
        fh.seek(4096)
        fh.write(b"\xff" * 8192)


def close_for_good(db: Database) -> None:
    """Dispose of the engine: SQLite checkpoints the WAL into the file and removes it."""
    db.dispose()
    for side in ("-wal", "-shm"):
        assert not Path(f"{db.path}{side}").exists()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_file_is_refused_and_the_newest_good_backup_restored_and_opened(
        qtbot, db, db_path, study, patient, nurse, message_log):
    before = load_patient_row(db, study, patient, TODAY).summary
    clock = ticking_clock()
    good = automatic_backup(db, "start", clock, keep=10)
    # a later backup that is itself damaged: "newest good" must pass over it
    broken = automatic_backup(db, "timer", clock, keep=10)
    assert good is not None and broken is not None and broken.name > good.name
    damage(broken)
    close_for_good(db)
    damage(db_path)
    assert not integrity_check(db_path).ok
    damaged_bytes = sha256(db_path)

    message_log.answers.append(True)  # "Restore the newest good backup?" Yes
    go_on, restored = check_before_opening(str(db_path), clock)

    [question] = message_log.take("question")
    assert "damaged" in question.text and "will not write" in question.text
    assert good.name in question.text and broken.name not in question.text
    [done] = message_log.take("info")
    assert restored is not None and go_on
    assert restored.backup == good
    assert sha256(restored.damaged_kept_as) == damaged_bytes, "the damaged file is kept"
    assert restored.damaged_kept_as.name in done.text
    assert integrity_check(db_path).ok

    reopened = open_database(db_path)
    try:
        actor = authenticate(reopened, "nurse", PASSWORD, fixed_clock)
        app_module.record_restore(context(reopened, "nurse"), restored)
        window = MainWindow(reopened, load_study(reopened), actor, today=lambda: TODAY,
                            clock=fixed_clock, tasks=TaskRunner(synchronous=True))
        qtbot.addWidget(window)
        assert window.current_subject() == patient
        assert window.current_row().summary == before  # the app shows the same figures
        [row] = audit_rows(reopened, "restore_backup")
        assert row.new_value == good.name and restored.damaged_kept_as.name in row.reason
        with UnitOfWork(reopened, write=False) as uow:
            assert verify_chain(uow.session).ok
    finally:
        reopened.dispose()


def test_a_damaged_file_without_a_good_backup_is_refused_and_left_untouched(
        db, db_path, message_log):
    close_for_good(db)
    damage(db_path)
    untouched = sha256(db_path)

    go_on, restored = check_before_opening(str(db_path), fixed_clock)

    assert (go_on, restored) == (False, None)
    [refused] = message_log.take("error")
    assert "damaged" in refused.text and "No good backup" in refused.text
    assert sha256(db_path) == untouched
    assert list(db_path.parent.glob("*.replaced-*")) == []


def test_declining_the_restore_opens_nothing_and_changes_nothing(db, db_path, message_log):
    backup = automatic_backup(db, "start", fixed_clock, keep=10)
    close_for_good(db)
    damage(db_path)
    untouched = sha256(db_path)
    message_log.answers.append(False)

    assert check_before_opening(str(db_path), fixed_clock) == (False, None)

    assert len(message_log.take("question")) == 1
    assert sha256(db_path) == untouched and backup is not None and backup.exists()
    assert list(db_path.parent.glob("*.replaced-*")) == []


def test_a_file_behind_its_newest_backup_is_flagged_before_it_opens(db, db_path, study,
                                                                      message_log):
    clock = ticking_clock()
    older = automatic_backup(db, "start", clock, keep=10)
    enroll_patient(context(db, "nurse"), study, {"subject_id": "101-009", "site": "101",
                                          "day1_date": "2026-03-01", "baseline_mg": "20",
                                          "template_id": "stepdown-a"})
    newest = automatic_backup(db, "close", clock, keep=10)
    close_for_good(db)
    assert older is not None and newest is not None
    shutil.copyfile(older, db_path)  # an older copy put in the file's place
    rolled_back = sha256(db_path)

    message_log.answers.append(False)
    assert check_before_opening(str(db_path), clock) == (False, None)
    [question] = message_log.take("question")
    assert "not the one last backed up" in question.title and newest.name in question.text
    assert sha256(db_path) == rolled_back

    message_log.answers.append(True)  # the data manager knows why: open it anyway
    assert check_before_opening(str(db_path), clock) == (True, None)
    assert len(message_log.take("question")) == 1


def test_a_sound_file_and_a_server_need_no_question(db_path, db, message_log):
    assert check_before_opening(str(db_path), fixed_clock) == (True, None)
    assert check_study_file("postgresql+psycopg://taper@127.0.0.1:1/study") is None
    assert message_log.shown == []


def test_backups_at_start_on_the_timer_and_at_close_are_rotated(
        qtbot, db, db_path, study, patient, admin, monkeypatch):
    set_setting(admin, "backups_kept", "3", "keep fewer on this laptop")
    set_setting(admin, "backup_interval_hours", "2", "busy clinic")
    clock = ticking_clock()
    backups = AutomaticBackups(db, clock)
    assert backups.timer.interval() == 2 * 3600 * 1000  # from the setting
    start = backups.backup_now("start")
    actor = authenticate(db, "nurse", PASSWORD, fixed_clock)
    window = MainWindow(db, study, actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner(synchronous=True))
    qtbot.addWidget(window)
    backups.attach(window, window.tasks)
    assert window.backups is backups and backups.timer.isActive()

    for _ in range(3):  # three intervals pass
        backups.timer.timeout.emit()
    assert "Backup saved" in window.statusBar().currentMessage()
    dose(context(db, "nurse"), study, patient, "10.5", TODAY)  # saved after the last timer
    window.close()

    kept = backups_of(db_path)
    assert start is not None and not start.exists(), "rotated out: only 3 are kept"
    assert [p.name.rsplit("-", 1)[1] for p in kept] == ["close.sqlite", "timer.sqlite",
                                                        "timer.sqlite"]
    assert kept[0].parent == backup_folder(db_path) == db_path.parent / "study-backups"
    assert not backups.timer.isActive()
    copy = open_database(kept[0])  # the close backup has the dose saved just before closing
    try:
        assert load_patient_row(copy, study, patient, TODAY).summary == load_patient_row(
            db, study, patient, TODAY).summary
    finally:
        copy.dispose()
    assert all(integrity_check(p).ok for p in kept)


def test_the_backup_timer_backs_up_off_the_gui_thread(qtbot, db, db_path, study, monkeypatch):
    """The timer is started with the setting's interval, and its backup runs on a worker
    thread with the result back on the GUI thread. The timer's tick is emitted here, not
    waited for: no test waits on a real interval."""
    from taper_app.ui import file_safety

    threads = []
    real_backup = file_safety.automatic_backup

    def on_which_thread(*args, **kwargs):
        threads.append(threading.get_ident())
        return real_backup(*args, **kwargs)

    monkeypatch.setattr(file_safety, "automatic_backup", on_which_thread)
    backups = AutomaticBackups(db, ticking_clock())
    actor = authenticate(db, "nurse", PASSWORD, fixed_clock)
    window = MainWindow(db, study, actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner())
    qtbot.addWidget(window)
    backups.attach(window, window.tasks)
    assert backups.timer.isActive()
    assert backups.timer.interval() == 4 * 3600 * 1000  # the setting's default
    backups.timer.timeout.emit()
    qtbot.waitUntil(lambda: len(backups.made) == 1)  # until the worker's result is delivered
    assert threads and threads[0] != threading.get_ident()  # not the GUI thread's
    backups.timer.stop()
    assert all(p.exists() and integrity_check(p).ok for p in backups.made)


def test_a_failed_backup_is_a_warning_not_a_crash(qtbot, db, db_path, study, message_log,
                                                  monkeypatch):
    backups = AutomaticBackups(db, fixed_clock)
    # the backup folder's name is taken by a file: the copy cannot be made
    backup_folder(db_path).write_text("not a folder")
    assert backups.backup_now("start") is None
    [warning] = message_log.take("warning")
    assert "backup" in warning.title.lower() and "saved in the study file" in warning.detail


def test_run_gui_restores_signs_in_backs_up_and_shows_the_restored_figures(
        db, db_path, study, patient, message_log, monkeypatch):
    """The whole start-up of the window on a damaged file, then a close."""
    before = load_patient_row(db, study, patient, TODAY).summary
    good = automatic_backup(db, "start", ticking_clock(), keep=10)
    close_for_good(db)
    damage(db_path)
    message_log.answers.append(True)
    signed_in = []

    def sign_in(connection, study_info, clock):
        signed_in.append(connection.authenticate("monitor", PASSWORD, clock))
        return signed_in[-1]

    shown: list[dict] = []

    def look_then_close(window: MainWindow) -> None:
        shown.append(window.current_row().summary)
        window.close()

    monkeypatch.setattr(app_module.LoginDialog, "ask", staticmethod(sign_in))
    when_the_window_shows(look_then_close)
    status = app_module.run_gui(str(db_path), today=lambda: TODAY, clock=ticking_clock())

    assert status == 0 and signed_in
    assert shown == [before]
    message_log.take("question")
    message_log.take("info")
    reasons = [p.name.rsplit("-", 1)[1] for p in backups_of(db_path)]
    assert reasons[:2] == ["close.sqlite", "start.sqlite"] and good in backups_of(db_path)
    reopened = open_database(db_path)
    try:
        [row] = audit_rows(reopened, "restore_backup")
        assert row.username == "monitor"
    finally:
        reopened.dispose()


@pytest.fixture(autouse=True)
def _no_leftover_windows(qtbot):
    yield
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, MainWindow):
            widget.close()


def test_a_restore_is_audited_even_when_nobody_signs_in(db, db_path, message_log,
                                                        monkeypatch):
    automatic_backup(db, "start", ticking_clock(), keep=10)
    close_for_good(db)
    damage(db_path)
    message_log.answers.append(True)
    monkeypatch.setattr(app_module.LoginDialog, "ask",
                        staticmethod(lambda database, study_info, clock: None))

    assert app_module.run_gui(str(db_path), today=lambda: TODAY, clock=ticking_clock()) == 0

    message_log.take("question")
    message_log.take("info")
    reopened = open_database(db_path)
    try:
        [row] = audit_rows(reopened, "restore_backup")
        assert row.username == "system" and "integrity check failed" in row.reason
        with UnitOfWork(reopened, write=False) as uow:
            assert verify_chain(uow.session).ok
    finally:
        reopened.dispose()


def test_a_file_held_by_another_writer_is_busy_not_damaged(db, db_path, message_log):
    """A lock is no evidence of damage: no restore is offered and nothing is changed."""
    import sqlite3

    automatic_backup(db, "start", fixed_clock, keep=10)
    close_for_good(db)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")  # another program in the middle of a write
    try:
        result = integrity_check(db_path)
        assert not result.ok and not result.damaged
        go_on, restored = check_before_opening(str(db_path), fixed_clock)
        assert (go_on, restored) == (False, None)
        [said] = message_log.take("error")
        assert "cannot be checked now" in said.title and "Nothing was changed" in said.text
        assert message_log.take("question") == []
        assert list(db_path.parent.glob("*.replaced-*")) == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_restore_is_refused_while_another_program_is_writing(db, db_path):
    import sqlite3

    from taper_app.storage.file_lock import StudyFileInUse
    from taper_app.storage.sqlite_copies import restore_backup

    good = automatic_backup(db, "start", fixed_clock, keep=10)
    close_for_good(db)
    holder = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")  # a window saving right now
    try:
        with pytest.raises(StudyFileInUse, match="open in another window"):
            restore_backup(good, db_path, NOW)
        assert list(db_path.parent.glob("*.replaced-*")) == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_restore_is_refused_while_another_window_has_the_file_open_and_names_it(
        db, db_path, message_log, tmp_path):
    """Another window (a real second process) has the damaged file open: the restore is
    refused with the program named, and the damaged file is left where it is."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    automatic_backup(db, "start", fixed_clock, keep=10)
    close_for_good(db)
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.file_holder", str(db_path)], cwd=root,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(root)})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        damage(db_path)
        damaged_bytes = sha256(db_path)
        message_log.answers.append(True)  # "Restore the newest good backup?" Yes
        go_on, restored = check_before_opening(str(db_path), fixed_clock)
        assert (go_on, restored) == (False, None)
        message_log.take("question")
        [refused] = message_log.take("error")
        assert refused.title == "The backup could not be restored"
        assert f"process {holder.pid}" in refused.text and "file_holder" in refused.text
        assert "Close it there first" in refused.text
        assert sha256(db_path) == damaged_bytes
        assert list(db_path.parent.glob("*.replaced-*")) == []
    finally:
        holder.communicate(input="", timeout=60)
