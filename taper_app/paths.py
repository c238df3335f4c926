"""Where things live: shipped resources (from source or frozen) and per-user folders."""

from __future__ import annotations

import sys
from importlib.resources import files
from pathlib import Path

import platformdirs

APP_NAME = "taper-app"
APP_AUTHOR = "TaperTracker"


def is_frozen() -> bool:
    """Whether this is the packaged program (build.spec) rather than Python running source."""
    return bool(getattr(sys, "frozen", False)) and hasattr(sys, "_MEIPASS")


def package_data(*parts: str) -> Path:
    """A file shipped inside the package (``package_data("resources", "protocols")``),
    found with ``importlib.resources``: beside the modules in a source checkout, in
    site-packages after any install (editable, ``pip install .``, ``--user``, a wheel), and
    in the packaged program, whose modules are plain files in the bundle (build.spec
    copies the package data to the same relative places).

    Only a package on the file system can hand out real paths, which Alembic (it reads its
    scripts as files) and the callers here need; a zipped install is refused clearly.
    """
    found = files("taper_app").joinpath(*parts)
    if not isinstance(found, Path):
        raise RuntimeError(f"taper_app is not installed as files on disk ({found!r}); "
                           "install it with pip, not as a zip")
    return found


#: The checkout this module runs from, if it runs from one (its ``resources/`` beside it).
_CHECKOUT = Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """The shipped files: protocols/, icons/, guide/. In a source checkout, its top-level
    ``resources/`` folder; after any install and in the packaged program, the package data
    ``taper_app/resources`` that pyproject.toml and build.spec make of that folder."""
    checkout = _CHECKOUT / "resources"
    if (checkout / "__init__.py").is_file() and (_CHECKOUT / "taper_app").is_dir():
        return checkout
    return package_data("resources")


def resource(*parts: str) -> Path:
    """A file under ``resources/`` (``resource("protocols", "example-iim.toml")``)."""
    return resources_dir().joinpath(*parts)


def migrations_dir() -> Path:
    """The Alembic scripts (``env.py``, ``versions/``), read as files by Alembic."""
    return package_data("storage", "migrations")


def app_icon() -> Path:
    """The application icon (PNG, for a window); build.spec gives the Windows program the
    ``.ico`` and the macOS bundle the ``.icns`` beside it."""
    return resource("icons", "taper-app.png")


def docs_dir() -> Path:
    """The user guide's folder, with its screenshots: package data
    (``resources/guide``, links to ``docs/`` in the source tree that a wheel and
    build.spec copy as files), or ``docs/`` of the checkout itself where the links were
    not made (a Windows checkout without symbolic links)."""
    shipped = resources_dir() / "guide"
    if _is_guide(shipped / "user-guide.md"):
        return shipped
    checkout = _CHECKOUT / "docs"
    return checkout if _is_guide(checkout / "user-guide.md") else shipped


def _is_guide(path: Path) -> bool:
    try:
        return path.is_file() and path.read_text(encoding="utf-8").startswith("# ")
    except (OSError, UnicodeDecodeError):
        return False


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
