"""Shipped files are package data found through one helper (importlib.resources), from the
source tree and any install; whether this is the packaged program (PyInstaller's
``sys.frozen`` and ``sys._MEIPASS``, imitated here). A real non-editable install is
checked in tests/integration/test_start_from_source.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from taper_app import paths
from taper_app.storage import engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def frozen_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make this process look like the packaged program with its files in ``tmp_path``."""
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    return tmp_path


def test_from_source_the_resources_are_the_packages_data():
    assert not paths.is_frozen()
    assert paths.resources_dir() == ROOT / "resources"
    assert paths.resource("protocols", "example-iim.toml").is_file()


def test_from_source_the_migrations_are_the_ones_the_engine_runs():
    assert paths.migrations_dir() == engine.MIGRATIONS_DIR
    assert (paths.migrations_dir() / "env.py").is_file()
    assert list((paths.migrations_dir() / "versions").glob("0001_*.py"))


def test_frozen_is_pyinstallers_bundle(frozen_bundle: Path):
    assert paths.is_frozen()


def test_another_freezer_without_a_bundle_folder_counts_as_source(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert not paths.is_frozen()


def test_a_package_that_is_not_on_disk_is_refused_clearly(monkeypatch, tmp_path):
    """A zipped install cannot hand Alembic its scripts as files: say so, not a bare error."""
    class InZip:  # what a zip importer's resources look like: a Traversable, not a Path
        def joinpath(self, *_parts: str) -> InZip:
            return self

    monkeypatch.setattr(paths, "files", lambda _package: InZip())
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path)  # installed: no checkout beside it
    with pytest.raises(RuntimeError, match="not installed as files on disk"):
        paths.resource("protocols", "example-iim.toml")


@pytest.mark.parametrize(("name", "magic"), [
    ("taper-app.png", b"\x89PNG\r\n\x1a\n"),   # the window and Linux
    ("taper-app.ico", b"\x00\x00\x01\x00"),    # the Windows program
    ("taper-app.icns", b"icns"),               # the macOS bundle
])
def test_the_application_icons_build_spec_names_are_shipped(name: str, magic: bytes):
    icon = paths.resources_dir() / "icons" / name
    assert icon.read_bytes().startswith(magic)


def test_per_user_folders_are_made_under_the_platforms_places(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if sys.platform.startswith("linux"):
        assert paths.cache_dir() == tmp_path / "cache" / paths.APP_NAME
        assert paths.data_dir() == tmp_path / "data" / paths.APP_NAME
    assert paths.cache_dir().is_dir() and paths.data_dir().is_dir()


def _shipped_resources() -> set[Path]:
    """The files under resources/ that pyproject.toml installs as taper_app.resources."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    assert setuptools["package-dir"]["taper_app.resources"] == "resources"
    assert "taper_app.resources" in setuptools["packages"]
    return {f.relative_to(ROOT / "resources")
            for pattern in setuptools["package-data"]["taper_app.resources"]
            for f in (ROOT / "resources").glob(pattern)}


def test_pyproject_ships_every_resource_the_program_reads():
    """Every file under resources/ that the program reads is package data (so a wheel
    carries it), and nothing else is needed: the example protocol and the icons."""
    shipped = _shipped_resources()
    assert Path("protocols/example-iim.toml") in shipped
    for icon in ("taper-app.png", "taper-app.ico", "taper-app.icns"):
        assert Path("icons") / icon in shipped


def test_the_user_guide_is_package_data_linked_to_docs(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    assert paths.user_guide() == ROOT / "resources" / "guide" / "user-guide.md"
    assert paths.user_guide().resolve() == ROOT / "docs" / "user-guide.md"  # one text
    assert paths.user_guide().read_text(encoding="utf-8").startswith("# User guide")
    # A checkout without symbolic links (the link is a file holding its target's path)
    # falls back to docs/ itself.
    (tmp_path / "resources" / "guide").mkdir(parents=True)
    (tmp_path / "resources" / "guide" / "user-guide.md").write_text("../../docs/user-guide.md")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "user-guide.md").write_text("# User guide\n")
    monkeypatch.setattr(paths, "resources_dir", lambda: tmp_path / "resources")
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path)
    assert paths.user_guide() == tmp_path / "docs" / "user-guide.md"


def test_the_packaged_program_and_the_wheel_ship_the_user_guide_and_its_screenshots():
    import re

    shipped = _shipped_resources()
    assert Path("guide/user-guide.md") in shipped
    spec = (ROOT / "build.spec").read_text(encoding="utf-8")
    assert '(str(ROOT / "docs" / "user-guide.md"), "taper_app/resources/guide")' in spec
    assert '"taper_app/resources/guide/screenshots")' in spec
    # Every image the guide shows is among the shipped screenshots.
    guide = paths.user_guide().read_text(encoding="utf-8")
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", guide):
        assert image.startswith("screenshots/"), image
        assert Path("guide") / image in shipped, image


def test_an_install_without_a_checkout_beside_it_reads_the_package_data(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Installed (no resources/ beside the package), the files are the package's data."""
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path)  # no resources/__init__.py here
    monkeypatch.setattr(paths, "files", lambda _package: tmp_path / "site" / "taper_app")
    assert paths.resources_dir() == tmp_path / "site" / "taper_app" / "resources"
