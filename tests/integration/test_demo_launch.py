"""The README's first command on a machine without a display: a clear message, not a crash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.sqlite_only


def test_demo_without_a_display_says_so_and_how_to_proceed(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # the demo file goes to the user data folder
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    done = subprocess.run([sys.executable, "-m", "taper_app", "--demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no display" in done.stderr and "xvfb-run" in done.stderr
    assert "demo-password" in done.stderr
    assert list((tmp_path / "data").rglob("demo.sqlite")), "the demo study was still created"


def test_the_demo_is_not_made_afresh_while_a_demo_window_has_it_open(tmp_path):
    """--demo deletes the demo file and makes it again: not under a window still using it."""
    from taper_app.storage.file_lock import ConnectionLock

    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")

    def demo() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "taper_app", "--demo"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    assert demo().returncode == 2  # made; no display for the window
    [made] = (tmp_path / "data").rglob("demo.sqlite")
    before = made.read_bytes()
    window = ConnectionLock.take(made)  # this process: a demo window left open
    assert window is not None
    try:
        done = demo()
    finally:
        window.release()
    assert done.returncode == 1
    assert "the old one is in use" in done.stderr and f"process {os.getpid()}" in done.stderr
    assert "then start the demo again" in done.stderr
    assert made.read_bytes() == before, "the open demo file was left alone"
    assert demo().returncode == 2  # once it is closed, made afresh
