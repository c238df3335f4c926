"""``python -m taper_app`` from the source tree: the same start-up the packaged program runs,
including the packaging smoke hook (docs/packaging.md), which signs in only with the user's
own password and never on a screen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from taper_app import __version__
from taper_app.storage.engine import Database
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.sqlite_only


def start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The program from source in a throw-away home, with only the variables given."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("TAPER_", "QT_", "XDG_", "DISPLAY", "WAYLAND_"))}
    base.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path / "home"),
                XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"),
                XDG_CACHE_HOME=str(tmp_path / "cache"), MPLCONFIGDIR=str(tmp_path / "mpl"))
    base.update(env)
    return subprocess.run([sys.executable, "-m", "taper_app", *args], cwd=ROOT, env=base,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture
def study_file(db: Database) -> str:
    assert db.path is not None
    db.dispose()
    return str(db.path)


def test_version_from_source(tmp_path):
    done = start(tmp_path, "--version")
    assert (done.returncode, done.stdout.strip(), done.stderr) == (
        0, f"taper-app {__version__}", "")


def test_smoke_hook_signs_in_shows_the_main_window_and_closes(tmp_path, study_file):
    done = start(tmp_path, "--db", study_file, QT_QPA_PLATFORM="offscreen",
                 TAPER_SMOKE_QUIT_MS="200", TAPER_SMOKE_USER="admin", TAPER_PASSWORD=PASSWORD)
    assert done.returncode == 0, done.stderr
    shown = [line for line in done.stdout.splitlines() if line.startswith("smoke: shown")]
    assert shown[0].startswith("smoke: shown LoginDialog: Sign in")
    assert any(line.startswith("smoke: shown MainWindow:") and "Ada Admin (admin)" in line
               for line in shown)
    assert "smoke: closing (main window shown)" in done.stdout
    assert done.stderr == ""


def test_smoke_hook_checks_the_password_like_anyone_typing_it(tmp_path, study_file):
    done = start(tmp_path, "--db", study_file, QT_QPA_PLATFORM="offscreen",
                 TAPER_SMOKE_QUIT_MS="200", TAPER_SMOKE_USER="admin",
                 TAPER_PASSWORD="not-the-password")
    assert done.returncode == 0, done.stderr
    assert "smoke: still at sign-in after typing the password" in done.stdout
    assert "MainWindow" not in done.stdout


def test_smoke_hook_is_ignored_outside_the_offscreen_platform(tmp_path, study_file):
    """With no display at all the window cannot open; the hook says it was not armed."""
    done = start(tmp_path, "--db", study_file, TAPER_SMOKE_QUIT_MS="200",
                 TAPER_SMOKE_USER="admin", TAPER_PASSWORD=PASSWORD)
    assert done.returncode == 2
    assert "TAPER_SMOKE_QUIT_MS ignored" in done.stderr and "no display" in done.stderr
    assert "smoke:" not in done.stdout


@pytest.mark.slow
def test_a_non_editable_install_finds_its_shipped_protocol(tmp_path):
    """`pip install .` (no checkout beside it, as with `--user` or a wheel) carries the
    example protocol as package data: `init --demo` reads it from the installed package."""
    target = tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--target", str(target), str(ROOT)],
                           capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert built.returncode == 0, built.stderr
    assert not (target / "resources").exists()  # nothing outside the package
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TAPER_", "QT_", "XDG_", "PYTHON"))}
    env.update(PYTHONPATH=str(target), HOME=str(tmp_path / "home"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), TAPER_PASSWORD=PASSWORD)
    where = subprocess.run(
        [sys.executable, "-c", "import taper_app.paths as p; print(p.__file__); "
         "print(p.resource('protocols', 'example-iim.toml'))"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    module, protocol = where.stdout.split()
    assert Path(module).is_relative_to(target)  # the install, not the checkout
    assert Path(protocol) == target / "taper_app" / "resources" / "protocols" / "example-iim.toml"
    demo = tmp_path / "demo.sqlite"
    done = subprocess.run([sys.executable, "-m", "taper_app", "init", "--demo", "--db",
                           str(demo), "--as-of", "2024-02-11"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert demo.is_file()
