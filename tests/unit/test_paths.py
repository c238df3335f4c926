"""Shipped files are found through one helper, from the source tree and in the packaged
program (PyInstaller's ``sys.frozen`` and ``sys._MEIPASS``, imitated here)."""

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


def test_from_source_the_resources_are_the_source_trees():
    assert not paths.is_frozen()
    assert paths.resources_dir() == ROOT / "resources"
    assert paths.resource("protocols", "example-iim.toml").is_file()


def test_from_source_the_migrations_are_the_ones_the_engine_runs():
    assert paths.migrations_dir() == engine.MIGRATIONS_DIR
    assert (paths.migrations_dir() / "env.py").is_file()
    assert list((paths.migrations_dir() / "versions").glob("0001_*.py"))


def test_from_source_there_is_no_bundle_folder():
    with pytest.raises(RuntimeError, match="not the packaged program"):
        paths.bundle_dir()


def test_frozen_the_resources_are_inside_the_bundle(frozen_bundle: Path):
    assert paths.is_frozen()
    assert paths.bundle_dir() == frozen_bundle
    assert paths.resources_dir() == frozen_bundle / "resources"
    assert paths.resource("protocols", "example-iim.toml") == (
        frozen_bundle / "resources" / "protocols" / "example-iim.toml")
    assert paths.app_icon() == frozen_bundle / "resources" / "icons" / "taper-app.png"


def test_frozen_the_migrations_are_at_the_source_trees_place_in_the_bundle(frozen_bundle: Path):
    assert paths.migrations_dir() == frozen_bundle / "taper_app" / "storage" / "migrations"
    # The same relative place as from source, which build.spec relies on.
    assert (paths.migrations_dir().relative_to(frozen_bundle)
            == engine.MIGRATIONS_DIR.relative_to(ROOT))


def test_another_freezer_without_a_bundle_folder_counts_as_source(monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert not paths.is_frozen()
    assert paths.resources_dir() == ROOT / "resources"


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


def test_an_installed_wheel_finds_the_resources_under_the_environments_prefix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`pip install .` (not editable) puts the package in site-packages, without the
    checkout's resources/ beside it, and resources/ under <prefix>/share/taper-app."""
    site_packages = tmp_path / "lib" / "site-packages"
    package = site_packages / "taper_app"
    package.mkdir(parents=True)
    monkeypatch.setattr(paths, "__file__", str(package / "paths.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert paths.resources_dir() == tmp_path / "share" / "taper-app" / "resources"


def test_pyproject_ships_every_resource_the_program_reads():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = config["tool"]["setuptools"]["data-files"]
    shipped = {Path(target).relative_to(Path(*paths.INSTALLED_RESOURCES)) / Path(f).name
               for target, patterns in data_files.items() for pattern in patterns
               for f in ROOT.glob(pattern)}
    assert Path("protocols/example-iim.toml") in shipped
    for icon in ("taper-app.png", "taper-app.ico", "taper-app.icns"):
        assert Path("icons") / icon in shipped


def test_the_user_guide_is_found_from_source_frozen_and_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert paths.user_guide() == ROOT / "docs" / "user-guide.md"
    assert paths.user_guide().read_text(encoding="utf-8").startswith("# User guide")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.user_guide() == tmp_path / "resources" / "docs" / "user-guide.md"
    monkeypatch.setattr(sys, "frozen", False, raising=False)
    package = tmp_path / "lib" / "site-packages" / "taper_app"
    package.mkdir(parents=True)
    monkeypatch.setattr(paths, "__file__", str(package / "paths.py"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    assert paths.user_guide() == (tmp_path / "share" / "taper-app" / "resources" / "docs"
                                  / "user-guide.md")


def test_the_packaged_program_and_the_wheel_ship_the_user_guide_and_its_screenshots():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = config["tool"]["setuptools"]["data-files"]
    assert data_files["share/taper-app/resources/docs"] == ["docs/user-guide.md"]
    assert data_files["share/taper-app/resources/docs/screenshots"] == ["docs/screenshots/*.png"]
    spec = (ROOT / "build.spec").read_text(encoding="utf-8")
    assert '(str(ROOT / "docs" / "user-guide.md"), "resources/docs")' in spec
    assert '"resources/docs/screenshots")' in spec
    # Every image the guide shows is among the shipped screenshots.
    import re
    guide = paths.user_guide().read_text(encoding="utf-8")
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", guide):
        assert image.startswith("screenshots/") and (ROOT / "docs" / image).is_file(), image
