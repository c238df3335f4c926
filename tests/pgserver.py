"""A real PostgreSQL server for the tests: initdb + pg_ctl in a temporary folder, free port.

Used when the server binaries are installed (``.ci/setup`` installs them). Outside CI a
missing server skips the PostgreSQL half of the suite with a clear reason; in CI
(``CI=true``) it is an error, so those tests are never silently skipped there.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    bindir: Path
    run_as: str | None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://taper@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://taper@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        _run(self, [str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "immediate",
                    "-w", "stop"], check=False)


def find_bindir() -> Path | None:
    candidates = [os.environ.get("TAPER_PG_BINDIR", "")]
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for c in candidates:
        if c and (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(server: PostgresServer, cmd: list[str], check: bool = True) -> None:
    if server.run_as:
        cmd = ["runuser", "-u", server.run_as, "--", *cmd]
    subprocess.run(cmd, check=check, capture_output=True, text=True)


def start_server(base: Path, *, durable: bool = False) -> PostgresServer:
    """initdb and start a throw-away server on a free port: without fsync (test data
    only) unless ``durable`` (the benchmarks: each commit on disk, as in production)."""
    bindir = find_bindir()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    run_as = None
    if os.geteuid() == 0:  # initdb refuses to run as root
        run_as = "postgres"
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", run_as], check=True)
    base.mkdir(parents=True, exist_ok=True)
    if run_as:
        shutil.chown(base, run_as)
        os.chmod(base, 0o755)
        for parent in base.parents:  # the server user must reach its folder
            if str(parent) in ("/", "/tmp"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
    server = PostgresServer(base / "data", _free_port(), bindir, run_as)
    _run(server, [str(bindir / "initdb"), "-D", str(server.data_dir), "-A", "trust", "-U",
                  "taper", "-E", "UTF8", "--no-sync", "--locale=C"])
    _run(server, [str(bindir / "pg_ctl"), "-D", str(server.data_dir), "-l",
                  str(base / "server.log"), "-w", "-t", "60", "-o",
                  f"-p {server.port} -k {base} -c listen_addresses=127.0.0.1"
                  + ("" if durable else " -c fsync=off -c synchronous_commit=off "
                                        "-c full_page_writes=off"), "start"])
    return server


@contextlib.contextmanager
def throwaway_server(prefix: str) -> Iterator[PostgresServer]:
    """A server in a new temp folder, stopped and removed afterwards. In CI a server that
    cannot start fails the test (CI installs PostgreSQL); elsewhere the test is skipped."""
    import pytest  # only the tests use this module

    # Its own folder: pytest prunes old numbered temp folders, even of a run still going.
    base = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        server = start_server(base / "server")
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but could not start: {detail}")
        pytest.skip(f"no PostgreSQL server here ({detail}); run bash .ci/setup to install it")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
