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


def _launch(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    return subprocess.run([sys.executable, "-m", "taper_app", "--demo", *extra], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)


def test_the_demo_keeps_its_study_between_launches_and_reset_rebuilds_it(tmp_path):
    import sqlite3

    first = _launch(tmp_path)
    assert "demo study built" in first.stderr
    [demo] = list((tmp_path / "data").rglob("demo.sqlite"))
    with sqlite3.connect(demo) as con:  # something entered in the demo (as if in the window)
        con.execute("INSERT INTO site (code, created_at) VALUES ('999', '2026-07-01 00:00:00')")
    (demo.parent / "demo-backups").mkdir(exist_ok=True)

    kept = _launch(tmp_path)
    assert "kept from the last launch" in kept.stderr and str(demo) in kept.stderr
    with sqlite3.connect(demo) as con:
        assert con.execute("SELECT count(*) FROM site WHERE code = '999'").fetchone() == (1,)

    reset = _launch(tmp_path, "--reset-demo")
    assert "demo study built" in reset.stderr
    with sqlite3.connect(demo) as con:
        assert con.execute("SELECT count(*) FROM site WHERE code = '999'").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM patient").fetchone()[0] == 40
    assert not (demo.parent / "demo-backups").exists()  # an old backup would look newer


def test_reset_demo_without_demo_is_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "taper_app", "--reset-demo"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")})
    assert done.returncode == 2 and "--reset-demo goes with --demo" in done.stderr


def test_the_demo_is_not_rebuilt_while_a_demo_window_has_it_open(tmp_path):
    """--reset-demo deletes the demo file and makes it again: not under a window still
    using it (that window would go on saving into a deleted file)."""
    from taper_app.storage.file_lock import ConnectionLock

    assert _launch(tmp_path).returncode == 2  # built; no display for the window
    [made] = (tmp_path / "data").rglob("demo.sqlite")
    before = made.read_bytes()
    window = ConnectionLock.take(made)  # this process: a demo window left open
    assert window is not None
    try:
        done = _launch(tmp_path, "--reset-demo")
        kept = _launch(tmp_path)  # opening it as it is: fine while another window has it
    finally:
        window.release()
    assert done.returncode == 1
    assert "in use" in done.stderr and f"process {os.getpid()}" in done.stderr
    assert "then reset the demo again" in done.stderr
    assert made.read_bytes() == before, "the open demo file was left alone"
    assert kept.returncode == 2 and "kept from the last launch" in kept.stderr
    assert "demo study built" in _launch(tmp_path, "--reset-demo").stderr  # once closed
