"""The layer order, stated once and checked on every import the package makes.

    cli, __main__  -> anything (the doors: they open a database and may start the window)
    ui             -> services, reports, results, domain (storage: only its error types)
    services       -> storage, reports, results, domain
    reports        -> results, domain
    results        -> domain
    domain, storage -> none of the layers above

The window and the command line call services; services use storage and domain and hand
back the plain types of ``results``; the report builders print results and domain values
and know nothing of services or storage. Every import counts: at module level, inside
functions and under ``if TYPE_CHECKING`` (a lazy import hides a cycle, it does not remove
it)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import taper_app

PACKAGE = Path(taper_app.__file__).parent
ROOT = PACKAGE.name

#: Each layer and the layers it may import (its own included). ``support`` is the package's
#: own top-level helpers (paths, version, the collector): they import no layer at all.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "support": frozenset({"support"}),
    "domain": frozenset({"domain", "support"}),
    "results": frozenset({"results", "domain", "support"}),
    "storage": frozenset({"storage", "support"}),
    "reports": frozenset({"reports", "results", "domain", "support"}),
    "services": frozenset({"services", "storage", "reports", "results", "domain", "support"}),
    # The application server runs services for remote windows; its client is what ui/
    # and the command line talk to instead of a database (style.md's shape). The server
    # shares the client's wire format (remote/wire.py), so both read it one way.
    "server": frozenset({"server", "remote", "services", "storage", "reports", "results",
                         "domain", "support"}),
    "remote": frozenset({"remote", "services", "results", "domain", "support"}),
    "ui": frozenset({"ui", "remote", "services", "reports", "results", "domain", "support"}),
    # The two doors: start-up and the command line open a database and may start the window.
    "entry": frozenset({"entry", "ui", "server", "remote", "services", "storage", "reports",
                        "results", "domain", "support"}),
}

#: What the window may take from storage besides its engine: the error types it catches.
UI_STORAGE_ALWAYS = frozenset({f"{ROOT}.storage.errors"})

#: The window modules that still open or hold a ``Database`` themselves. The window is
#: being moved onto a connection that is either a local file or the application server
#: (branch ``server``); each module leaves this list when it stops, and the list must not
#: grow. A name here that no longer imports storage fails the test too: take it out.
UI_STILL_IMPORTING_STORAGE = frozenset({
    "app", "file_safety", "main_window",
})

#: Libraries that belong to one layer only.
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "shiboken2")
SQL = ("sqlalchemy", "sqlite3", "psycopg", "alembic")
DRAWING = ("matplotlib", "reportlab")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")
            if "migrations" not in p.relative_to(PACKAGE).parts}


def imported_names(source: str, module: str, is_package: bool,
                   known: set[str] | None = None) -> set[str]:
    """Every module ``source`` imports, anywhere in it (functions, ``TYPE_CHECKING``
    blocks and all), relative imports resolved; ``from m import x`` names ``m.x`` when
    that is a module of the package (``known``), else ``m``."""
    known = known or set()
    here = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                candidate = f"{prefix}.{alias.name}"
                names.add(candidate if candidate in known else prefix)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> every module of the package or library it imports."""
    modules = package_modules()
    known = set(modules)
    return {name: imported_names(path.read_text(encoding="utf-8"), name,
                                 path.name == "__init__.py", known)
            for name, path in modules.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if parts[0] != ROOT:
        raise ValueError(module)
    if len(parts) == 1:
        return "support"
    top = parts[1]
    if top in ("cli", "__main__"):
        return "entry"
    if top in MAY_IMPORT and top != "support":
        return top
    if (PACKAGE / top).is_dir():
        raise AssertionError(f"{ROOT}.{top} is in no layer: add it to MAY_IMPORT")
    return "support"


def is_library(name: str, libraries: tuple[str, ...]) -> bool:
    return name.split(".")[0] in libraries


GRAPH = import_graph()


# ------------------------------------------------------------------ the scanner itself


def test_the_scanner_sees_imports_inside_functions_and_type_checking_blocks() -> None:
    source = ("from typing import TYPE_CHECKING\n"
              "if TYPE_CHECKING:\n    from ..reports.pdf_common import styles\n"
              "def later():\n    from ..storage import engine\n    import sqlite3\n"
              "    return engine\n"
              "from . import errors\n")
    names = imported_names(source, f"{ROOT}.services.example", False,
                           {f"{ROOT}.storage.engine", f"{ROOT}.services.errors"})
    assert {f"{ROOT}.reports.pdf_common", f"{ROOT}.storage.engine", "sqlite3",
            f"{ROOT}.services.errors"} <= names


def test_every_module_is_in_a_layer() -> None:
    layers = {m: layer_of(m) for m in GRAPH}
    assert layers[f"{ROOT}.results"] == "results"
    assert layers[f"{ROOT}.cli"] == "entry"
    assert {"domain", "storage", "services", "reports", "ui", "results"} <= set(layers.values())


# ------------------------------------------------------------------ the order


def test_the_layer_order_is_itself_acyclic() -> None:
    """Read as a graph, MAY_IMPORT has no loop between two layers."""
    seen: dict[str, int] = {}

    def visit(layer: str, path: tuple[str, ...]) -> None:
        assert layer not in path, f"layers import each other: {' -> '.join((*path, layer))}"
        if seen.get(layer):
            return
        for lower in MAY_IMPORT[layer] - {layer}:
            visit(lower, (*path, layer))
        seen[layer] = 1

    for layer in MAY_IMPORT:
        visit(layer, ())


def test_every_import_goes_down_the_layers() -> None:
    wrong = defaultdict(list)
    for module, names in GRAPH.items():
        layer = layer_of(module)
        for name in names:
            if not name.startswith(f"{ROOT}.") and name != ROOT:
                continue
            target = layer_of(name)
            if target in MAY_IMPORT[layer]:
                continue
            if layer == "ui" and target == "storage":
                continue  # the next test: the window's own storage rule
            wrong[module].append(name)
    assert dict(wrong) == {}


def test_the_package_has_no_import_cycle() -> None:
    """No module reaches itself through imports (lazy ones included): each layer can be
    read, tested and replaced from the bottom up."""
    ours = {m: {n for n in names if n in GRAPH and n != m} for m, names in GRAPH.items()}
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        stack.append(module)
        for name in sorted(ours[module]):
            if state.get(name) == "open":
                cycles.append([*stack[stack.index(name):], name])
            elif name not in state:
                visit(name, stack)
        stack.pop()
        state[module] = "done"

    for module in sorted(ours):
        if module not in state:
            visit(module, [])
    assert cycles == []


def test_the_window_imports_no_sqlite3_and_no_storage_engine_beyond_its_allow_list() -> None:
    storage_users = set()
    for module, names in GRAPH.items():
        if layer_of(module) != "ui":
            continue
        assert not any(is_library(n, SQL) for n in names), (module, sorted(names))
        storage = {n for n in names if n.startswith(f"{ROOT}.storage")} - UI_STORAGE_ALWAYS
        if storage:
            storage_users.add(module.rsplit(".", 1)[-1])
            assert storage <= {f"{ROOT}.storage.engine"}, (module, sorted(storage))
    assert storage_users <= UI_STILL_IMPORTING_STORAGE, (
        f"new window modules import storage: {sorted(storage_users - UI_STILL_IMPORTING_STORAGE)}")
    assert storage_users >= UI_STILL_IMPORTING_STORAGE, (
        "these no longer import storage; take them off the allow-list: "
        f"{sorted(UI_STILL_IMPORTING_STORAGE - storage_users)}")


def test_qt_only_in_the_window_and_there_only_through_ui_qt() -> None:
    door = f"{ROOT}.ui.qt"
    offenders = {m: sorted(n for n in names if is_library(n, QT) or "backend_qt" in n)
                 for m, names in GRAPH.items() if m != door}
    assert {m: v for m, v in offenders.items() if v} == {}
    below_ui = {m: sorted(n for n in names if n == door or n.startswith(f"{ROOT}.ui"))
                for m, names in GRAPH.items() if layer_of(m) not in ("ui", "entry")}
    assert {m: v for m, v in below_ui.items() if v} == {}


def test_libraries_stay_in_their_layer() -> None:
    """Domain and results are numbers and plain values; SQL is storage's (and services'
    queries through SQLAlchemy); drawing is the reports' and the window's."""
    rules = {
        "domain": SQL + DRAWING,
        "results": SQL + DRAWING,
        "reports": SQL,
        "storage": DRAWING,
        "services": (*DRAWING, "sqlite3", "psycopg"),
    }
    wrong = {m: sorted(n for n in names if is_library(n, rules[layer_of(m)]))
             for m, names in GRAPH.items() if layer_of(m) in rules}
    assert {m: v for m, v in wrong.items() if v} == {}
