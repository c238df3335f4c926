"""Smoke test of the frozen program in dist/taper-app (docs/packaging.md).

Runs the built program as a site would, in a throw-away home folder: --version, init, a
CSV import, summary --json, a PDF report, the migration of a database made at the first
schema revision, and the window opened offscreen and closed by itself. Every check prints
one line (ok / FAIL / NOTE); the exit status is 1 when any check failed.

    .venv/bin/python .ci/smoke_frozen.py [--program dist/taper-app/taper-app] [--timing]

--timing also measures start-up (median wall time of a few runs) of the frozen program
against the source install in .venv, for the figures in docs/packaging.md.

Runs under the project's .venv Python: the old (revision 0001) database is made by
downgrading a fresh one with the source tree's own Alembic scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PROGRAM = ROOT / "dist" / "taper-app" / ("taper-app.exe" if os.name == "nt"
                                                 else "taper-app")
PASSWORD = "smoke-test-password-1"
INVESTIGATOR_PASSWORD = "smoke-test-password-2"
SUBJECT = "101-001"
PATIENTS_CSV = ("subject_id,site,day1_date,baseline_mg,template_id,kit_number\n"
                f"{SUBJECT},101,2024-01-01,20,stepdown-a,K-1001\n")
DOSES_CSV = ("subject_id,drug,dose_mg,frequency,route,start_date,end_date\n"
             f"{SUBJECT},prednisone,20,QD,PO,2024-01-01,2024-01-28\n"
             f"{SUBJECT},prednisone,16,QD,PO,2024-01-29,2024-02-11\n")
AS_OF = "2024-02-11"
GUI_QUIT_MS = 4000


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


@dataclass
class Smoke:
    program: Path
    home: Path
    failures: list[str] = field(default_factory=list)

    def env(self, **extra: str) -> dict[str, str]:
        """The program's environment: a throw-away home, so no real user file is touched."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TAPER_", "QT_", "XDG_", "MPL"))}
        env.update(HOME=str(self.home), USERPROFILE=str(self.home),
                   APPDATA=str(self.home / "AppData" / "Roaming"),
                   LOCALAPPDATA=str(self.home / "AppData" / "Local"),
                   XDG_DATA_HOME=str(self.home / ".local" / "share"),
                   XDG_STATE_HOME=str(self.home / ".local" / "state"),
                   XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_CACHE_HOME=str(self.home / ".cache"),
                   MPLCONFIGDIR=str(self.home / "mpl"),
                   TAPER_PASSWORD=PASSWORD)
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 120, **env: str) -> Run:
        start = time.perf_counter()
        proc = subprocess.run([str(self.program), *args], capture_output=True, text=True,
                              env=self.env(**env), timeout=timeout, stdin=subprocess.DEVNULL)
        return Run(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start)

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        print(f"{'ok  ' if passed else 'FAIL'}  {name}" + (f": {detail}" if detail else ""),
              flush=True)
        if not passed:
            self.failures.append(name)
        return passed

    @staticmethod
    def note(name: str, detail: str) -> None:
        print(f"NOTE  {name}: {detail}", flush=True)


def tail(text: str, lines: int = 12) -> str:
    return "\n        ".join(text.strip().splitlines()[-lines:])


def alembic_revision(path: Path) -> str | None:
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        con.close()
    return row[0] if row else None


def downgrade_to_first_revision(path: Path) -> None:
    """Take a database back to schema 0001 with the source tree's Alembic scripts."""
    sys.path.insert(0, str(ROOT))
    from alembic import command

    from taper_app.storage.engine import _alembic_config, make_engine, resolve_url

    engine = make_engine(resolve_url(path))
    try:
        command.downgrade(_alembic_config(engine), "0001")
    finally:
        engine.dispose()


def source_head_revision() -> str:
    sys.path.insert(0, str(ROOT))
    from taper_app.storage.engine import head_revision

    return head_revision()


def smoke(s: Smoke, work: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from taper_app import __version__

    # --version
    r = s.run("--version")
    s.check("--version", r.code == 0 and r.out.strip() == f"taper-app {__version__}",
            f"{r.out.strip()!r} (exit {r.code}){' ' + tail(r.err) if r.code else ''}")

    # init, with the example protocol shipped inside the bundle
    bundle = s.program.parent / "_internal"
    protocol = bundle / "resources" / "protocols" / "example-iim.toml"
    s.check("example protocol shipped", protocol.is_file(), str(protocol))
    study = work / "study.sqlite"
    r = s.run("init", "--db", str(study), "--protocol", str(protocol), "--admin", "admin",
              "--full-name", "Ada Admin")
    if not s.check("init", r.code == 0 and study.exists(), tail(r.err or r.out)):
        return  # nothing further can work

    # a user who may enter clinical data (the administrator may not), then the import
    r = s.run("user", "add", "ivan", "--role", "investigator", "--full-name", "Ivan Investigator",
              "--db", str(study), "--user", "admin", TAPER_NEW_PASSWORD=INVESTIGATOR_PASSWORD)
    s.check("user add", r.code == 0, tail(r.out + r.err))
    patients, doses = work / "patients.csv", work / "doses.csv"
    patients.write_text(PATIENTS_CSV, encoding="utf-8")
    doses.write_text(DOSES_CSV, encoding="utf-8")
    r = s.run("import", "--db", str(study), "--user", "ivan", "--patients", str(patients),
              "--doses", str(doses), TAPER_PASSWORD=INVESTIGATOR_PASSWORD)
    s.check("import", r.code == 0 and "imported 1 patients, 2 dose records" in r.out,
            tail(r.out + r.err))

    # summary --json
    r = s.run("summary", "--db", str(study), "--json", "--as-of", AS_OF)
    try:
        rows = json.loads(r.out)
        subjects = [row["subject_id"] for row in rows]
    except (ValueError, TypeError, KeyError) as exc:
        s.check("summary --json", False, f"not the expected JSON ({exc}): {tail(r.out + r.err)}")
    else:
        s.check("summary --json", r.code == 0 and SUBJECT in subjects, f"subjects {subjects}")

    # report (PDF)
    pdf = work / "report.pdf"
    r = s.run("report", "--db", str(study), "--subject", SUBJECT, "--as-of", AS_OF,
              "--out", str(pdf))
    if r.code == 2 and "not available" in r.err:
        s.note("report", f"PDF reports not available yet in this version: {r.err.strip()}")
    else:
        head = pdf.read_bytes()[:5] if pdf.exists() else b""
        s.check("report --subject (PDF)", r.code == 0 and head == b"%PDF-",
                f"{pdf.stat().st_size if pdf.exists() else 0} bytes; {tail(r.out + r.err)}")
    cohort = work / "cohort.pdf"
    r = s.run("report", "--db", str(study), "--cohort", "--as-of", AS_OF, "--out", str(cohort))
    if not (r.code == 2 and "not available" in r.err):
        head = cohort.read_bytes()[:5] if cohort.exists() else b""
        s.check("report --cohort (PDF)", r.code == 0 and head == b"%PDF-", tail(r.out + r.err))

    # audit trail (hashing, triggers) and the demo study (reads the shipped protocol)
    r = s.run("audit", "verify", "--db", str(study))
    s.check("audit verify", r.code == 0 and "intact" in r.out, tail(r.out + r.err))
    demo = work / "demo.sqlite"
    r = s.run("init", "--demo", "--db", str(demo), "--as-of", AS_OF)
    s.check("init --demo", r.code == 0 and demo.exists(), tail(r.out + r.err))

    # migration of an old database: a copy of the study taken back to revision 0001
    old = work / "old.sqlite"
    r = s.run("backup", "--db", str(study), "--out", str(old))
    if s.check("backup", r.code == 0 and old.exists(), tail(r.out + r.err)):
        downgrade_to_first_revision(old)
        head = source_head_revision()
        s.check("old database made at revision 0001", alembic_revision(old) == "0001",
                f"revision {alembic_revision(old)}")
        r = s.run("summary", "--db", str(old), "--json", "--as-of", AS_OF)
        try:
            migrated_subjects = [row["subject_id"] for row in json.loads(r.out)]
        except (ValueError, TypeError, KeyError):
            migrated_subjects = []
        copies = sorted(p.name for p in work.glob("old.before-*.sqlite"))
        s.check(f"migration 0001 -> {head} by the frozen program",
                r.code == 0 and alembic_revision(old) == head and SUBJECT in migrated_subjects
                and bool(copies),
                f"now at {alembic_revision(old)}, subjects {migrated_subjects}, copy taken "
                f"first: {copies or 'none'}{'; ' + tail(r.err) if r.code else ''}")

    # the window, offscreen, signed in, closed by itself
    r = s.run("--db", str(study), timeout=120, QT_QPA_PLATFORM="offscreen",
              TAPER_SMOKE_QUIT_MS=str(GUI_QUIT_MS), TAPER_SMOKE_USER="admin")
    if r.code == 2 and "window is not available" in r.err:
        s.check("window", False, "the window is missing from this build (taper_app.ui.app "
                f"could not be imported): {r.err.strip()}")
    else:
        shown = [line for line in r.out.splitlines() if line.startswith("smoke: shown")]
        s.check("window opened offscreen, signed in and closed",
                r.code == 0 and any("MainWindow" in line for line in shown)
                and "smoke: closing" in r.out,
                f"exit {r.code}; " + ("; ".join(shown) or "no window shown")
                + (f"; stdout: {tail(r.out)}" if r.code else ""))
        s.check("window: nothing on stderr", not r.err.strip(), tail(r.err) or "clean")

    # a bundle is often installed read-only: running it must not write into it
    written = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("__pycache__"))
    s.check("nothing written into the bundle", not written, ", ".join(written) or "clean")


def median_seconds(command: Sequence[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(command, capture_output=True, env=env, check=False)  # warm the disk cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, env=env, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timing(s: Smoke, work: Path, runs: int) -> None:
    study = work / "study.sqlite"
    source = ROOT / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "taper-app"
    print(f"\nstart-up, median of {runs} runs (seconds):")
    print(f"  {'command':<28} {'frozen':>8} {'source':>8}")
    for label, args in (("--version", ["--version"]),
                        ("summary --json", ["summary", "--db", str(study), "--json",
                                            "--as-of", AS_OF])):
        frozen = median_seconds([str(s.program), *args], s.env(), runs)
        from_source = median_seconds([str(source), *args], s.env(), runs)
        print(f"  {label:<28} {frozen:>8.3f} {from_source:>8.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", type=Path, default=DEFAULT_PROGRAM)
    parser.add_argument("--timing", action="store_true", help="also measure start-up times")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.program.is_file():
        print(f"FAIL  no program at {args.program}: build it first (bash .ci/build)")
        return 1
    with tempfile.TemporaryDirectory(prefix="taper-smoke-") as tmp:
        work = Path(tmp)
        s = Smoke(args.program.resolve(), work / "home")
        s.home.mkdir()
        print(f"smoke test of {s.program}")
        smoke(s, work)
        if args.timing and not s.failures:
            timing(s, work, args.runs)
    if s.failures:
        print(f"\nsmoke test FAILED: {', '.join(s.failures)}")
        return 1
    print("\nsmoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
