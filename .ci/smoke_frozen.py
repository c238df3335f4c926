"""Smoke test of the frozen program in dist/taper-app (docs/packaging.md).

Runs the built program as a site would, in a throw-away home folder: --version, init, a
CSV import, summary --json, PDF reports, the migration of a database made at the first
schema revision, and the window opened offscreen, signed in and closed by itself. Outputs
are checked against known figures and against the source tree's own command line run on
the same file (the frozen program must give the same figures and the same report data),
and a command that succeeds must print nothing on stderr. Every check prints one line
(ok / FAIL); the exit status is 1 when any check failed.

    .venv/bin/python .ci/smoke_frozen.py [--program dist/taper-app/taper-app]
                                         [--timing [--runs N] [--compare PROGRAM]]

--timing also measures start-up (median wall time of a few runs) of the frozen program
against the source install in .venv, and against another build with --compare, for the
figures in docs/packaging.md.

Runs under the project's .venv Python: the old (revision 0001) database is made by
downgrading a fresh one with the source tree's own Alembic scripts.
"""

from __future__ import annotations

import argparse
import importlib.util
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
FIRST_PASSWORD = "smoke-first-password-3"
SUBJECT = "101-001"
PATIENTS_CSV = ("subject_id,site,day1_date,baseline_mg,template_id,kit_number\n"
                f"{SUBJECT},101,2024-01-01,20,stepdown-a,K-1001\n")
DOSES_CSV = ("subject_id,drug,dose_mg,frequency,route,start_date,end_date\n"
             f"{SUBJECT},prednisone,20,QD,PO,2024-01-01,2024-01-28\n"
             f"{SUBJECT},prednisone,16,QD,PO,2024-01-29,2024-02-11\n")
AS_OF = "2024-02-11"
#: What summary --json must say of SUBJECT on AS_OF (Day 42: 28 days of 20 mg, then 16 mg).
EXPECTED_FIGURES = {"subject_id": SUBJECT, "site": "101", "as_of": AS_OF, "as_of_day": 42,
                    "baseline_mg": 20.0, "observed_days": 42, "missing_days": 0,
                    "actual_mg": 16.0, "cumulative_mg": 28 * 20.0 + 14 * 16.0}
GUI_QUIT_MS = 2000  # after the main window shows: time for its first work to run


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
        """The program's environment: a throw-away home, so no real user file is touched,
        and no PYTHONPATH (.ci/build sets it), so nothing but the bundle can be imported."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TAPER_", "QT_", "XDG_", "MPL", "PYTHON"))}
        env.update(HOME=str(self.home), USERPROFILE=str(self.home),
                   APPDATA=str(self.home / "AppData" / "Roaming"),
                   LOCALAPPDATA=str(self.home / "AppData" / "Local"),
                   XDG_DATA_HOME=str(self.home / ".local" / "share"),
                   XDG_STATE_HOME=str(self.home / ".local" / "state"),
                   XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_CACHE_HOME=str(self.home / ".cache"),
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

    def check_command(self, name: str, r: Run, passed: bool, detail: str = "") -> bool:
        """A command's check, and that it said nothing on stderr when it succeeded."""
        ok = self.check(name, passed, detail or tail(r.out + r.err))
        if ok and r.err.strip():
            self.check(f"{name}: nothing on stderr", False, tail(r.err))
        return ok


def source_cli(*args: str) -> Run:
    """The source tree's command line (cli.run, in this process) on the same arguments."""
    import io

    sys.path.insert(0, str(ROOT))
    from taper_app.cli import run

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    code = run(list(args), out, err, io.StringIO())
    return Run(code, out.getvalue(), err.getvalue(), time.perf_counter() - start)


def pdf_text(path: Path) -> tuple[int, str]:
    """Pages and text of a PDF, read back (pypdf, from the dev tools)."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() or "" for page in reader.pages)


def fingerprint(output: str) -> str | None:
    """The report's 'data SHA-256' from what `report` printed."""
    words = output.split("data SHA-256 ")
    return words[1].split(")")[0].strip() if len(words) == 2 else None


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
    s.check_command("--version", r, r.code == 0 and r.out.strip() == f"taper-app {__version__}",
                    f"{r.out.strip()!r} (exit {r.code}){' ' + tail(r.err) if r.code else ''}")

    # init, with the example protocol shipped inside the bundle
    bundle = s.program.parent / "_internal"
    protocol = bundle / "taper_app" / "resources" / "protocols" / "example-iim.toml"
    s.check("example protocol shipped", protocol.is_file(), str(protocol))
    study = work / "study.sqlite"
    r = s.run("init", "--db", str(study), "--protocol", str(protocol), "--admin", "admin",
              "--full-name", "Ada Admin")
    if not s.check_command("init", r, r.code == 0 and study.exists()):
        return  # nothing further can work

    # a user who may enter clinical data (the administrator may not), then the import
    r = s.run("user", "add", "ivan", "--role", "investigator", "--full-name", "Ivan Investigator",
              "--db", str(study), "--user", "admin", TAPER_NEW_PASSWORD=FIRST_PASSWORD)
    s.check_command("user add", r, r.code == 0)
    # An administrator's first password changes nothing until the user chooses their own.
    r = s.run("import", "--db", str(study), "--user", "ivan", "--patients", str(work / "none.csv"),
              TAPER_PASSWORD=FIRST_PASSWORD)
    s.check("first password refused", r.code == 1 and "still has the first password" in r.err,
            tail(r.out + r.err))
    r = s.run("user", "passwd", "--db", str(study), "--user", "ivan",
              TAPER_PASSWORD=FIRST_PASSWORD, TAPER_NEW_PASSWORD=INVESTIGATOR_PASSWORD)
    s.check_command("user passwd", r, r.code == 0)
    patients, doses = work / "patients.csv", work / "doses.csv"
    patients.write_text(PATIENTS_CSV, encoding="utf-8")
    doses.write_text(DOSES_CSV, encoding="utf-8")
    r = s.run("import", "--db", str(study), "--user", "ivan", "--patients", str(patients),
              "--doses", str(doses), TAPER_PASSWORD=INVESTIGATOR_PASSWORD)
    s.check_command("import", r, r.code == 0 and "imported 1 patients, 2 dose records" in r.out)

    # summary --json: the known figures, and exactly what the source says of the same file
    summary_args = ("summary", "--db", str(study), "--json", "--as-of", AS_OF)
    r = s.run(*summary_args)
    frozen_rows: list = []
    try:
        frozen_rows = json.loads(r.out)
        row = frozen_rows[0]
        wrong = {key: row.get(key) for key, value in EXPECTED_FIGURES.items()
                 if row.get(key) != value}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        s.check("summary --json", False, f"not the expected JSON ({exc}): {tail(r.out + r.err)}")
    else:
        s.check_command("summary --json", r, r.code == 0 and len(frozen_rows) == 1 and not wrong,
                        f"{len(frozen_rows)} patient(s); "
                        + (f"wrong figures {wrong}" if wrong else "figures as expected"))
        source = source_cli(*summary_args)
        s.check("summary --json: the same as from source",
                source.code == 0 and json.loads(source.out) == frozen_rows,
                "identical" if source.out and json.loads(source.out) == frozen_rows
                else f"source said: {tail(source.out + source.err)}")

    # reports (PDF): read back, and the same report data as the source produces
    for label, what in (("report --subject", ("--subject", SUBJECT)),
                        ("report --cohort", ("--cohort",))):
        pdf = work / f"{what[-1].strip('-')}.pdf"
        r = s.run("report", "--db", str(study), *what, "--as-of", AS_OF, "--out", str(pdf))
        pages, text = pdf_text(pdf) if r.code == 0 and pdf.is_file() else (0, "")
        s.check_command(f"{label} (PDF)", r,
                        r.code == 0 and pages >= 1 and SUBJECT in text and "EXAMPLE-IIM-01" in text,
                        f"{pages} pages read back; {tail(r.out + r.err)}")
        source_pdf = work / f"source-{pdf.name}"
        source = source_cli("report", "--db", str(study), *what, "--as-of", AS_OF,
                            "--out", str(source_pdf))
        s.check(f"{label}: the same report data as from source",
                fingerprint(r.out) is not None and fingerprint(r.out) == fingerprint(source.out),
                f"frozen {fingerprint(r.out)}, source {fingerprint(source.out)}")

    # matplotlib's font list, made by the first chart, kept in the per-user cache for the
    # next start (build.spec leaves out PyInstaller's hook that would throw it away)
    font_lists = sorted(str(p.relative_to(s.home)) for p in s.home.rglob("fontlist-*.json"))
    s.check("matplotlib's font list kept in the per-user cache",
            any("taper-app" in Path(name).parts for name in font_lists),
            ", ".join(font_lists) or "none made")

    # audit trail (hashing, triggers) and the demo study (reads the shipped protocol)
    r = s.run("audit", "verify", "--db", str(study))
    s.check_command("audit verify", r, r.code == 0 and "intact" in r.out)
    demo = work / "demo.sqlite"
    r = s.run("init", "--demo", "--db", str(demo), "--as-of", AS_OF)
    s.check_command("init --demo", r, r.code == 0 and demo.exists())

    # migration of an old database: a copy of the study taken back to revision 0001
    old = work / "old.sqlite"
    r = s.run("backup", "--db", str(study), "--out", str(old))
    if s.check_command("backup", r, r.code == 0 and old.exists()):
        downgrade_to_first_revision(old)
        head = source_head_revision()
        s.check("old database made at revision 0001", alembic_revision(old) == "0001",
                f"revision {alembic_revision(old)}")
        r = s.run("summary", "--db", str(old), "--json", "--as-of", AS_OF)
        try:
            migrated_rows = json.loads(r.out)
        except ValueError:
            migrated_rows = []
        copies = sorted(p.name for p in work.glob("old.before-*.sqlite"))
        s.check_command(f"migration 0001 -> {head} by the frozen program", r,
                        r.code == 0 and alembic_revision(old) == head and bool(copies)
                        and migrated_rows == frozen_rows,
                        f"now at {alembic_revision(old)}, "
                        f"{'the same' if migrated_rows == frozen_rows else 'NOT the same'} "
                        f"figures as before, copy taken first: {copies or 'none'}"
                        f"{'; ' + tail(r.err) if r.code else ''}")

    # PostgreSQL (multi-site): the driver and its libpq are in the bundle and get as far as
    # trying to connect (nothing listens on port 9 here), not stopped by a missing module
    if importlib.util.find_spec("psycopg") is not None:  # built with the postgres extra
        r = s.run("summary", "--json", "--db",
                  "postgresql+psycopg://smoke@127.0.0.1:9/none?connect_timeout=10")
        missing = [word for word in ("No module named", "Can't load plugin", "ImportError")
                   if word in r.err]
        s.check("PostgreSQL driver bundled (connection tried)",
                r.code != 0 and not missing and "127.0.0.1" in r.err,
                f"exit {r.code}; " + next((line.strip() for line in r.err.splitlines()
                                           if "127.0.0.1" in line), tail(r.err, 3)))

    # the window, offscreen, signed in, closed by itself
    r = s.run("--db", str(study), timeout=120, QT_QPA_PLATFORM="offscreen",
              TAPER_SMOKE_QUIT_MS=str(GUI_QUIT_MS), TAPER_SMOKE_USER="admin")
    shown = [line for line in r.out.splitlines() if line.startswith("smoke: shown")]
    s.check("window opened offscreen, signed in and closed",
            r.code == 0 and any("LoginDialog" in line for line in shown)
            and any("MainWindow" in line and "Ada Admin" in line for line in shown)
            and "smoke: closing" in r.out,
            f"exit {r.code}; " + ("; ".join(shown) or "no window shown")
            + (f"; stdout: {tail(r.out)}" if r.code else ""))
    s.check("window: nothing on stderr", not r.err.strip(), tail(r.err) or "clean")

    # a bundle is often installed read-only: running it must not write into it
    written = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("__pycache__"))
    s.check("nothing written into the bundle", not written, ", ".join(written) or "clean")


def children_cpu_seconds() -> float:
    """User and system CPU time of this process's finished children (0 where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_seconds(commands: dict[str, tuple[list[str], dict[str, str]]],
                   runs: int) -> dict[str, tuple[float, float]]:
    """Median wall time and CPU time of each command, run in turns (one of each per round)
    so that the load of a shared machine falls on all of them alike; one unmeasured round
    first. CPU time is the steadier figure when others share the machine."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for round_number in range(runs + 1):
        for name, (command, env) in commands.items():
            start, cpu = time.perf_counter(), children_cpu_seconds()
            subprocess.run(command, capture_output=True, env=env, check=False)
            if round_number:  # the first round warms the disk cache
                times[name].append((time.perf_counter() - start, children_cpu_seconds() - cpu))
    return {name: (statistics.median(w for w, _ in values),
                   statistics.median(c for _, c in values)) for name, values in times.items()}


def timing(s: Smoke, work: Path, runs: int, compare: Path | None) -> None:
    """Start-up of the frozen program against the source install (and another build)."""
    study = work / "study.sqlite"
    source = ROOT / ".venv" / ("Scripts" if os.name == "nt" else "bin") / "taper-app"
    programs = {"frozen": (str(s.program), s.env()),
                # The source tree beside this script, whatever .venv's install points at.
                "source": (str(source), s.env(PYTHONPATH=str(ROOT)))}
    if compare is not None:
        programs["compared"] = (str(compare.resolve()), s.env())
    print(f"\nstart-up, median of {runs} runs in turns, wall / CPU seconds"
          + (f"; compared: {compare}" if compare else "") + ":")
    print(f"  {'command':<16}" + "".join(f"{name:>16}" for name in programs)
          + f"{'frozen/source':>16}")
    # The window: signed in on the offscreen platform, closed as soon as it is shown.
    window = {"QT_QPA_PLATFORM": "offscreen", "TAPER_SMOKE_QUIT_MS": "1",
              "TAPER_SMOKE_USER": "admin"}
    for label, args, extra in (
            ("--version", ["--version"], {}),
            ("summary --json", ["summary", "--db", str(study), "--json", "--as-of", AS_OF], {}),
            ("window shown", ["--db", str(study)], window)):
        medians = median_seconds({name: ([program, *args], {**env, **extra})
                                  for name, (program, env) in programs.items()}, runs)
        ratio = [medians["frozen"][i] / medians["source"][i] if medians["source"][i] else 0
                 for i in (0, 1)]
        print(f"  {label:<16}"
              + "".join(f"{medians[name][0]:>8.3f} /{medians[name][1]:>6.3f}" for name in programs)
              + f"{ratio[0]:>9.2f} /{ratio[1]:>5.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", type=Path, default=DEFAULT_PROGRAM)
    parser.add_argument("--timing", action="store_true", help="also measure start-up times")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--compare", type=Path, metavar="PROGRAM",
                        help="with --timing, also time another build (a plain one)")
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
            timing(s, work, args.runs, args.compare)
    if s.failures:
        print(f"\nsmoke test FAILED: {', '.join(s.failures)}")
        return 1
    print("\nsmoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
