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
