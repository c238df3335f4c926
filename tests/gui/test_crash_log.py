"""A fatal crash leaves faulthandler's trace in the log folder; the next start shows it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from taper_app import crash_log
from taper_app.ui import app as ui_app
from taper_app.ui.login import LoginDialog

ROOT = Path(__file__).resolve().parents[2]


def crash_in_a_real_process(folder: Path) -> int:
    """A process that enables the crash log as start-up does, then dies of a segfault."""
    code = textwrap.dedent(f"""
        import ctypes
        from pathlib import Path
        from taper_app import crash_log
        crash_log.enable(Path({str(folder)!r}))
        def deep_inside_the_window():
            ctypes.string_at(0)  # reads address 0: SIGSEGV, no Python handler runs
        deep_inside_the_window()
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode != 0  # it really crashed
    return done.returncode


def test_a_clean_exit_leaves_no_fault_file(tmp_path: Path) -> None:
    code = ("from pathlib import Path\nfrom taper_app import crash_log\n"
            f"print(crash_log.enable(Path({str(tmp_path)!r})))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(".log")  # it was enabled
    assert list(tmp_path.iterdir()) == []
    assert crash_log.previous_crashes(tmp_path) == []


def test_the_crash_log_of_the_last_run_is_shown_at_the_next_start_once(
        tmp_path: Path, db_path, db, monkeypatch, qtbot, message_log,
        caplog: pytest.LogCaptureFixture) -> None:
    crash_in_a_real_process(tmp_path)
    [fault] = list(tmp_path.glob("faults-*.log"))
    assert "Fatal Python error: Segmentation fault" in fault.read_text()
    monkeypatch.setattr(LoginDialog, "ask", classmethod(lambda cls, *a, **k: None))

    assert ui_app.run_gui(str(db_path), log_folder=tmp_path) == 0
    [shown] = message_log.take("warning")
    assert shown.title == "Taper Tracker closed unexpectedly"
    assert "Fatal Python error: Segmentation fault" in shown.text
    assert "deep_inside_the_window" in (shown.detail or "")  # the Python stack
    [kept] = list(tmp_path.glob("crash-*.log"))
    assert str(kept) in shown.text and not list(tmp_path.glob("faults-*.log"))
    assert any("crashed" in r.getMessage() and str(kept) in r.getMessage()
               for r in caplog.records)

    assert ui_app.run_gui(str(db_path), log_folder=tmp_path) == 0  # shown once only
    assert message_log.take("warning") == []
    assert kept.is_file()  # kept for support


def test_the_window_starts_after_the_crash_message(
        tmp_path: Path, db_path, db, nurse_started, qtbot, message_log) -> None:
    crash_in_a_real_process(tmp_path)
    crash_in_a_real_process(tmp_path)
    assert ui_app.run_gui(str(db_path), log_folder=tmp_path) == 0
    [message] = message_log.take("warning")
    assert "(2 crashes since the last start)" in message.text
    assert len(list(tmp_path.glob("crash-*.log"))) == 2
    assert len(nurse_started) == 1


def test_main_turns_faulthandler_on_into_the_log_folder(tmp_path: Path) -> None:
    """The start-up of every command: a crash of ``taper-app`` itself is recorded."""
    code = textwrap.dedent(f"""
        import ctypes, sys
        from pathlib import Path
        from taper_app import __main__ as start, paths
        paths.log_dir = lambda: Path({str(tmp_path)!r})
        from taper_app import cli
        cli.run = lambda argv: ctypes.string_at(0)
        sys.exit(start.main(["--version"]))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode != 0
    [report] = crash_log.previous_crashes(tmp_path)
    assert report.summary() == "Fatal Python error: Segmentation fault"
