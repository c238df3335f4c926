"""A real application server process (``taper-app serve``) on 127.0.0.1, for the tests."""

from __future__ import annotations

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def application_role(owner_url: str) -> Iterator[str]:
    """Make a login role for the study at ``owner_url``, grant it the application's
    privileges with ``taper-app db grant`` (as IT does: it must say so); yield its URL;
    drop it afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(owner_url)
    role = f"app_{url.database}"

    def sql(statement: str) -> None:
        engine = create_engine(owner_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(statement)
        finally:
            engine.dispose()

    sql(f"CREATE ROLE {role} LOGIN")
    try:
        import io

        from taper_app import cli

        out, err = io.StringIO(), io.StringIO()
        status = cli.run(["db", "grant", "--role", role, "--db", owner_url], out=out, err=err)
        if status != 0 or not out.getvalue().startswith(
                f"granted {role} the application's privileges on "):
            raise RuntimeError(f"db grant failed ({status}): {out.getvalue()}{err.getvalue()}")
        yield url.set(username=role).render_as_string(hide_password=False)
    finally:
        sql(f"DROP OWNED BY {role}")
        sql(f"DROP ROLE {role}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(db_url: str, log: Path, *, tls: tuple[Path, Path] | None = None
                   ) -> Iterator[str]:
    """Start ``python -m taper_app serve`` on ``db_url`` (with ``tls``, the certificate and
    key files: HTTPS); yield its address; stop it."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TAPER_DB", None)
    extra = [] if tls is None else ["--certfile", str(tls[0]), "--keyfile", str(tls[1])]
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taper_app", "serve", "--db", db_url, "--host",
             "127.0.0.1", "--port", str(port), *extra], stdout=out, stderr=subprocess.STDOUT,
            env=env, cwd=ROOT)
    url = f"{'http' if tls is None else 'https'}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server stopped: {log.read_text()}")
            try:
                httpx.post(f"{url}/v1/sign-out", timeout=1, verify=True if tls is None
                           else ssl.create_default_context(cafile=str(tls[0])))
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start: {log.read_text()}"
                                       ) from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
