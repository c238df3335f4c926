"""The declared dependency ranges are honest: requirements/lowest.txt pins exactly the floors
of pyproject.toml (what `.ci/lowest` runs the suites on), and requirements/lock.txt (what CI,
the benchmarks and the build install) lies inside every range."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    return [Requirement(text) for text in
            [*project["dependencies"], *extras["postgres"], *extras["server"], *extras["dev"]]]


def pins(name: str) -> dict[str, Version]:
    found = {}
    for line in (ROOT / "requirements" / name).read_text(encoding="utf-8").splitlines():
        package, sep, version = line.split("#")[0].strip().partition("==")
        if sep:
            found[canonicalize_name(package)] = Version(version)
    return found


def test_every_declared_dependency_has_a_floor_and_lowest_txt_pins_exactly_it():
    lowest = pins("lowest.txt")
    for requirement in declared():
        floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert len(floors) == 1, f"{requirement}: one floor (>=) is needed"
        assert lowest.get(canonicalize_name(requirement.name)) == floors[0], requirement


def test_the_lowest_and_the_locked_versions_are_inside_every_declared_range():
    for name in ("lowest.txt", "lock.txt"):
        pinned = pins(name)
        for requirement in declared():
            version = pinned.get(canonicalize_name(requirement.name))
            assert version is not None, f"{name} has no {requirement.name}"
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{name}: {requirement.name} {version} is outside {requirement.specifier}")


def test_the_qt_binding_keeps_its_ceiling_below_6_12():
    """tests/gui/test_qt_binding.py: 6.12 on Python 3.11 kills the process (pyproject.toml)."""
    [qt] = [r for r in declared() if canonicalize_name(r.name) == "pyside6-essentials"]
    assert not qt.specifier.contains("6.12.0") and qt.specifier.contains("6.11.3")
