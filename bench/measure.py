"""Timing helpers shared by the benchmarks: paired runs beside a baseline, medians, targets."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path


@dataclass
class Result:
    """One benchmark: its runs, the baseline's runs from the same session, and its targets."""

    name: str
    values: list[float]
    unit: str = "s"  # "s" or "MB"
    baseline_name: str | None = None
    baseline: list[float] = field(default_factory=list)
    target: float | None = None  # absolute, in ``unit``
    target_ratio: float | None = None
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def baseline_median(self) -> float | None:
        return statistics.median(self.baseline) if self.baseline else None

    @property
    def ratio(self) -> float | None:
        base = self.baseline_median
        return None if not base else self.median / base

    @property
    def ratio_spread(self) -> tuple[float, float] | None:
        """Min and max of the per-run ratios (each run paired with the baseline run beside it)."""
        if not self.baseline or len(self.baseline) != len(self.values):
            return None
        ratios = [v / b for v, b in zip(self.values, self.baseline, strict=True) if b]
        return (min(ratios), max(ratios)) if ratios else None

    @property
    def verdict(self) -> str:
        """``pass`` when every target is met, ``miss`` otherwise, ``-`` with no target."""
        checks = []
        if self.target is not None:
            checks.append(self.median < self.target)
        if self.target_ratio is not None and self.ratio is not None:
            checks.append(self.ratio < self.target_ratio)
        if not checks:
            return "-"
        return "pass" if all(checks) else "miss"


def paired(measure: Callable[[], float], baseline: Callable[[], float], runs: int,
           warmup: int = 1) -> tuple[list[float], list[float]]:
    """Alternate the measured work and its baseline so a noisy neighbour hits both alike."""
    for _ in range(warmup):
        measure()
        baseline()
    values, bases = [], []
    for i in range(runs):
        if i % 2:  # swap the order every other run: neither always goes first
            bases.append(baseline())
            values.append(measure())
        else:
            values.append(measure())
            bases.append(baseline())
    return values, bases


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def repeat(work: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        work()
    return [timed(work) for _ in range(runs)]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kib = int(fh.readline().split()[1])
        return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def _os_name() -> str:
    try:
        out = subprocess.run(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"],
                             capture_output=True, text=True, check=False)
        name = out.stdout.strip()
    except OSError:
        name = ""
    return f"{name or platform.system()} (kernel {platform.release()})"


LOCK = Path(__file__).resolve().parent.parent / "requirements" / "lock.txt"
#: Where the benchmarks' fresh processes keep this package's compiled bytecode.
BYTECODE = Path(__file__).resolve().parent / ".cache" / "bytecode"


def child_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's fresh process: this checkout first on the path,
    and this package's bytecode cached as in an installed program.

    An installed Taper Tracker runs from compiled bytecode (pip compiles a wheel's modules;
    PyInstaller ships them compiled). A shell with PYTHONDONTWRITEBYTECODE set (this
    project's machines have it) makes every fresh process compile the package's ~150
    modules from source again, about 135 ms that no installed program spends, while the
    baselines' libraries come compiled from site-packages. The children write and read
    their bytecode under bench/.cache/bytecode (not beside the sources); each timed series
    has a warm-up run first, which writes it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env["PYTHONPYCACHEPREFIX"] = str(BYTECODE)
    env.update(extra)
    return env


def unlocked_versions(lock: Path = LOCK) -> list[str]:
    """Installed packages whose version is not requirements/lock.txt's (``.ci/setup``
    installs the lock; a benchmark run anywhere else says how it differs). Packages the lock
    has and this environment lacks (PyInstaller, for the build) do not count."""
    differ = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        name, sep, locked = line.split("#")[0].strip().partition("==")
        if not sep:
            continue
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:  # the build tools (.ci/build installs them)
            continue
        if installed != locked:
            differ.append(f"{name} {installed} (locked {locked})")
    return differ


def machine() -> dict[str, str]:
    """What the figures were measured on: hardware, system and the versions that matter."""
    info = {"CPU": _cpu_model(), "cores": str(os.cpu_count()), "RAM": _ram_gib(),
            "OS": _os_name(), "Python": platform.python_version()}
    for package in ("numpy", "matplotlib", "SQLAlchemy", "PySide6_Essentials", "reportlab"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    try:
        load = os.getloadavg()
        info["load average at start"] = f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    except OSError:
        pass
    info["executable"] = sys.executable
    differ = unlocked_versions()
    info["versions"] = ("as requirements/lock.txt" if not differ
                        else "NOT the lock's: " + ", ".join(differ))
    return info
