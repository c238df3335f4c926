"""Where things live: shipped resources (from source or frozen) and per-user folders."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "taper-app"
APP_AUTHOR = "TaperTracker"


def is_frozen() -> bool:
    """Whether this is the packaged program (build.spec) rather than Python running source."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def bundle_dir() -> Path:
    """The packaged program's own folder of files (``_internal`` beside ``taper-app``).

    Only meaningful when frozen: from source there is no bundle, hence the error.
    """
    if not is_frozen():
        raise RuntimeError("not the packaged program: there is no bundle folder")
    return Path(getattr(sys, "_MEIPASS"))  # noqa: B009 (set by PyInstaller's bootloader)


#: Where a wheel (``pip install .``, not editable) puts ``resources/``, under the
#: environment's prefix: pyproject.toml's ``[tool.setuptools.data-files]``.
INSTALLED_RESOURCES = ("share", APP_NAME, "resources")


def resources_dir() -> Path:
    """The shipped ``resources/`` folder: inside a PyInstaller bundle; beside the package
    from a source checkout (or an editable install of one); else where an installed wheel
    put it, under the environment's prefix.

    build.spec copies ``resources/`` into the bundle at the same relative place as in the
    source tree, so this is the one place that knows the difference.
    """
    if is_frozen():
        return bundle_dir() / "resources"
    beside = Path(__file__).resolve().parent.parent / "resources"
    if beside.is_dir():
        return beside
    return Path(sys.prefix).joinpath(*INSTALLED_RESOURCES)


def resource(*parts: str) -> Path:
    """A file under ``resources/`` (``resource("protocols", "example-iim.toml")``)."""
    return resources_dir().joinpath(*parts)


def package_data(*parts: str) -> Path:
    """A data file shipped inside the package, such as the Alembic migrations: beside the
    modules from source, at the same relative place in the bundle (build.spec)."""
    base = bundle_dir() / "taper_app" if is_frozen() else Path(__file__).resolve().parent
    return base.joinpath(*parts)


def migrations_dir() -> Path:
    """The Alembic scripts (``env.py``, ``versions/``), read as files by Alembic."""
    return package_data("storage", "migrations")


def app_icon() -> Path:
    """The application icon (PNG, for a window); build.spec gives the Windows program the
    ``.ico`` and the macOS bundle the ``.icns`` beside it."""
    return resource("icons", "taper-app.png")


def docs_dir() -> Path:
    """The user guide's folder, with its screenshots: ``docs/`` of a source checkout; in
    the packaged program or an installed wheel, ``resources/docs`` (build.spec and
    pyproject.toml ship ``docs/user-guide.md`` and ``docs/screenshots/`` there)."""
    if not is_frozen():
        beside = Path(__file__).resolve().parent.parent / "docs"
        if (beside / "user-guide.md").is_file():
            return beside
    return resources_dir() / "docs"


def user_guide() -> Path:
    """The user guide (Markdown) that F1 opens."""
    return docs_dir() / "user-guide.md"


def data_dir() -> Path:
    path = Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Per-user cache (matplotlib's font list for the frozen program); safe to delete."""
    path = Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database() -> Path:
    return data_dir() / "taper.sqlite"
