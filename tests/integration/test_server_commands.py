"""The remaining commands through a real application server, as a site laptop runs them:
the same arguments, output, exit codes and messages as on the database URL itself.

The server is a real ``taper-app serve`` process on the granted application role; the
"direct" runs use the database URL (the owner's), as IT's tools would.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import text

from taper_app.services.patients import record_dose
from taper_app.services.study import load_study
from taper_app.storage.uow import UnitOfWork
from tests.conftest import PASSWORD, context
from tests.integration.server_process import application_role, running_server
from tests.integration.test_server import DOSE, _run, _set_up, server
from tests.unit.services.test_patients import dump

pytestmark = pytest.mark.postgres_only
__all__ = ["server"]  # a fixture used here


@pytest.fixture
def doses(db) -> None:
    study = load_study(db)
    nurse = context(db, "nurse")
    record_dose(nurse, study, "101-001", DOSE)
    record_dose(nurse, study, "102-001", {**DOSE, "dose_mg": "15"})


def _same_but_paths(direct: tuple[int, str, str], remote: tuple[int, str, str],
                    a: Path, b: Path) -> None:
    assert remote[0] == direct[0]
    assert remote[1].replace(str(b), str(a)) == direct[1]
    assert remote[2] == direct[2]


def _both(db_url: str, server: str, tmp_path: Path, *argv: str, user: str = "nora"
          ) -> tuple[Path, Path]:
    """Run ``argv`` (``{out}`` replaced by a folder of each run's own) on the URL and through
    the server; check they print the same; return the two folders."""
    a, b = tmp_path / "direct", tmp_path / "remote"
    a.mkdir()
    b.mkdir()
    direct = _run(*[x.replace("{out}", str(a)) for x in argv], "--db", db_url, "--user", user)
    remote = _run(*[x.replace("{out}", str(b)) for x in argv], "--db", server, "--user", user)
    _same_but_paths(direct, remote, a, b)
    assert direct[0] == 0, direct[2]
    return a, b


# ------------------------------------------------------------------ reading commands

@pytest.mark.parametrize("which", [["--subject", "101-001"], ["--cohort"]],
                         ids=["patient", "cohort"])
def test_report_through_the_server_is_the_same_pdf_of_the_same_data(
        server, db_url, doses, tmp_path, monkeypatch, which):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    a, b = _both(db_url, server, tmp_path, "report", *which, "--out", "{out}/r.pdf",
                 "--as-of", "2026-02-01")
    here, there = PdfReader(a / "r.pdf"), PdfReader(b / "r.pdf")
    assert len(here.pages) == len(there.pages) > 0
    text = "".join(p.extract_text() for p in there.pages)
    assert "101-001" in text and "102-001" not in text  # her site only, made on the server


def test_a_report_of_another_sites_patient_is_refused_the_same_way(
        server, db_url, doses, tmp_path, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    out = tmp_path / "r.pdf"
    direct = _run("report", "--subject", "102-001", "--out", str(out), "--db", db_url,
                  "--user", "nora")
    remote = _run("report", "--subject", "102-001", "--out", str(out), "--db", server,
                  "--user", "nora")
    assert remote == direct and direct[0] == 1 and not out.exists()


@pytest.mark.parametrize("fmt", ["csv", "sdtm"])
def test_export_through_the_server_writes_the_same_files(server, db_url, doses, tmp_path,
                                                         monkeypatch, fmt):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    a, b = _both(db_url, server, tmp_path, "export", "--format", fmt, "--out", "{out}/x",
                 "--as-of", "2026-02-01")
    names = sorted(p.name for p in (a / "x").iterdir())
    assert names == sorted(p.name for p in (b / "x").iterdir()) and names
    for name in names:
        if name != "README.md":  # the README says when it was extracted
            assert (a / "x" / name).read_bytes() == (b / "x" / name).read_bytes(), name
    assert "102-001" not in "".join((b / "x" / n).read_text() for n in names)


def test_audit_export_through_the_server(server, db_url, doses, tmp_path, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    a, b = _both(db_url, server, tmp_path, "audit", "export", "--out", "{out}/a.csv",
                 "--entity", "dose_record")
    def rows(folder: Path) -> list[str]:  # below the preamble (the head when exported)
        return [line for line in (folder / "a.csv").read_text(encoding="utf-8").splitlines()
                if not line.startswith("#")]

    assert rows(a) == rows(b) and len(rows(b)) > 1
    assert (b / "a.csv").read_text(encoding="utf-8").startswith("#")
    assert "101-001" in (b / "a.csv").read_text() and "102-001" not in (b / "a.csv").read_text()


# ------------------------------------------------------------------ changing commands

def test_import_through_the_server_is_all_or_nothing_with_the_same_messages(
        server, db_url, db, tmp_path, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    patients = tmp_path / "patients.csv"
    patients.write_text("subject_id,site,day1_date,baseline_mg,template_id\n"
                        "101-007,101,2026-01-05,20,stepdown-a\n"
                        "102-007,102,2026-01-05,20,stepdown-a\n", encoding="utf-8")
    doses = tmp_path / "doses.csv"
    doses.write_text("subject_id,drug,dose_mg,frequency,route,start_date,end_date\n"
                     "101-007,prednisone,20,QD,PO,2026-01-05,2026-01-20\n"
                     "101-007,aspirin,20,QD,PO,2026-01-21,\n", encoding="utf-8")
    before = dump(db)
    argv = ["import", "--patients", str(patients), "--doses", str(doses), "--user", "nora"]
    direct = _run(*argv, "--db", db_url)
    remote = _run(*argv, "--db", server)
    assert remote[0] == direct[0] == 1
    assert remote[2] == direct[2]  # every FILE:LINE: column: message, in the same order
    assert f"{patients}:3: site: you do not work for site 102" in remote[2]
    assert f"{doses}:3: drug:" in remote[2] and "nothing was imported" in remote[2]
    assert {t: r for t, r in dump(db).items() if t not in ("audit_log", "audit_head",
                                                           "app_user")} == \
        {t: r for t, r in before.items() if t not in ("audit_log", "audit_head", "app_user")}
    patients.write_text("subject_id,site,day1_date,baseline_mg,template_id\n"
                        "101-007,101,2026-01-05,20,stepdown-a\n", encoding="utf-8")
    doses.write_text("subject_id,drug,dose_mg,frequency,route,start_date,end_date\n"
                     "101-007,prednisone,20,QD,PO,2026-01-05,2026-01-20\n", encoding="utf-8")
    code, out, err = _run(*argv, "--db", server)
    assert (code, out) == (0, "imported 1 patients, 1 dose records, 0 amendments\n"), err
    with UnitOfWork(db, write=False) as uow:
        who = uow.session.execute(text(
            "SELECT DISTINCT username FROM audit_log WHERE subject_id = '101-007'")).all()
    assert who == [("nora",)]  # the acting user is the session's
    missing = _run("import", "--doses", str(tmp_path / "none.csv"), "--user", "nora",
                   "--db", server)
    assert missing[0] == 1 and f"{tmp_path / 'none.csv'}:1: file: cannot be read" in missing[2]


def test_handout_through_the_server(server, db_url, db, tmp_path, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    a, b = _both(db_url, server, tmp_path, "handout", "--subject", "101-001", "--from",
                 "2026-02-01", "--weeks", "2", "--out", "{out}/cal.pdf", "--csv",
                 "{out}/cal.csv")
    assert (a / "cal.csv").read_bytes() == (b / "cal.csv").read_bytes()
    assert len(PdfReader(a / "cal.pdf").pages) == len(PdfReader(b / "cal.pdf").pages)
    assert "101-001" in PdfReader(b / "cal.pdf").pages[0].extract_text()
    with UnitOfWork(db, write=False) as uow:
        printed = uow.session.execute(text(
            "SELECT username FROM audit_log WHERE action = 'print_calendar'")).all()
    assert printed == [("nora",), ("nora",)]  # the file's run, then the server's
    refused = _run("handout", "--subject", "102-001", "--out", str(tmp_path / "x.pdf"),
                   "--db", server, "--user", "nora")
    assert refused == (1, "", "taper-app handout: nora does not work for site 102\n")


def test_patient_end_and_reopen_through_the_server(server, db_url, db, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    end = ["patient", "end", "--subject", "101-001", "--date", "2026-03-01",
           "--disposition", "adverse_event", "--reason", "rash"]
    before = dump(db)
    assert _run(*end, "--db", server, "--user", "nora") == \
        _run(*end, "--db", db_url, "--user", "nora")
    assert _run(*end, "--db", server)[0] == 2 == _run(*end, "--db", db_url)[0]
    assert _run(*end, "--db", server)[2] == _run(*end, "--db", db_url)[2]
    assert dump(db)["patient"] == before["patient"]
    assert _run(*end, "--db", server, "--user", "investigator") == (
        0, "ended 101-001's participation on 2026-03-01 (adverse_event)\n", "")
    _, out, _ = _run("summary", "--subject", "101-001", "--json", "--as-of", "2026-07-01",
                     "--db", server, "--user", "investigator")
    assert json.loads(out)[0]["participation"] == {"status": "adverse_event",
                                                   "end_date": "2026-03-01"}
    assert _run("patient", "reopen", "--subject", "101-001", "--reason", "entered in error",
                "--db", server, "--user", "investigator") == (
        0, "reopened 101-001's participation\n", "")


def test_sdv_and_queries_through_the_server(server, db_url, doses, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    code, out, err = _run("sdv", "--subject", "101-001", "--through", "2026-01-31",
                          "--db", server, "--user", "mona")
    assert (code, out) == (0, "101-001: 1 dose record(s) marked source-verified (through "
                              "2026-01-31)\n"), err
    assert _run("sdv", "--subject", "101-001", "--through", "2026-01-31", "--db", server,
                "--user", "nora") == _run("sdv", "--subject", "101-001", "--through",
                                          "2026-01-31", "--db", db_url, "--user", "nora")
    code, out, err = _run("query", "open", "--subject", "101-001", "--text", "dose?",
                          "--db", server, "--user", "mona")
    assert code == 0 and out.strip().isdigit(), err
    qid = out.strip()
    assert _run("query", "answer", qid, "--text", "chart says 20", "--db", server,
                "--user", "nora") == (0, f"answered query {qid}\n", "")
    assert _run("query", "close", qid, "--db", server, "--user", "mona") == (
        0, f"closed query {qid}\n", "")
    listed = ["query", "list", "--json", "--user", "nora"]
    direct, remote = _run(*listed, "--db", db_url), _run(*listed, "--db", server)
    assert remote == direct and json.loads(remote[1])[0]["state"] == "closed"
    assert _run("query", "open", "--subject", "101-001", "--text", "x", "--db", server,
                "--user", "nora") == _run("query", "open", "--subject", "101-001", "--text",
                                          "x", "--db", db_url, "--user", "nora")


# ------------------------------------------------------------------ TLS

@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made here with the openssl command."""
    cert, key = tmp_path / "server.pem", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_server(db, db_url, tmp_path, certificate) -> Iterator[str]:
    _set_up(db)
    for app_url in application_role(db_url):
        with running_server(app_url, tmp_path / "tls.log", tls=certificate) as url:
            yield url


def test_the_server_speaks_tls_and_the_client_checks_its_certificate(
        tls_server, certificate, db_url, monkeypatch):
    assert tls_server.startswith("https://127.0.0.1:")
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    code, _, err = _run("summary", "--db", tls_server, "--user", "nora")
    assert code == 1 and "cannot reach the application server" in err  # not trusted
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # the laptop trusts the CA
    argv = ["summary", "--json", "--as-of", "2026-02-01", "--user", "nora"]
    assert _run(*argv, "--db", tls_server) == _run(*argv, "--db", db_url)
    with pytest.raises(httpx.HTTPError):  # plain HTTP to the TLS port gets no answer
        httpx.post(tls_server.replace("https://", "http://") + "/v1/sign-in",
                   json={"username": "nora", "password": PASSWORD}, timeout=5)


def test_plain_http_off_the_loopback_is_refused_before_anything_starts(db_url, certificate):
    from taper_app.server.app import serve
    from taper_app.storage.engine import open_database

    db = open_database(db_url)
    try:
        with pytest.raises(ValueError, match="only on a loopback address"):
            serve(db, "10.1.2.3", 9)
        with pytest.raises(ValueError, match="both --certfile and --keyfile"):
            serve(db, "127.0.0.1", 9, certfile=str(certificate[0]))
    finally:
        db.dispose()
    code, _, err = _run("serve", "--db", db_url, "--host", "192.168.1.10", "--port", "9")
    assert code == 2 and "plain HTTP is allowed only on a loopback address" in err


# ------------------------------------------------------------------ audit verify

def test_audit_verify_through_the_server_checks_the_data_and_a_given_head(
        server, db_url, db, doses, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)

    def verify(*extra: str, where: str) -> tuple[int, list[str], str]:
        code, out, err = _run("audit", "verify", *extra, "--db", where, "--user", "nora")
        lines = out.splitlines()
        assert lines[0].startswith("head: ")
        # Each sign-in through the server adds audit rows: the count is compared apart.
        return code, [re.sub(r"^audit trail intact: \d+ rows", "audit trail intact: N rows", x)
                      for x in lines[1:]], err

    code, out, err = _run("audit", "verify", "--db", server, "--user", "nora")
    assert code == 0 and "audit trail intact" in out, err
    rows, digest = out.splitlines()[0].split()[1:]
    held = f"{rows}:{digest[:16]}"
    assert verify("--head", held, where=server) == verify("--head", held, where=db_url)
    assert verify("--head", held, where=server)[0] == 0
    bogus = f"{rows}:{'0' * 16}"
    refused = verify("--head", bogus, where=server)
    assert refused == verify("--head", bogus, where=db_url)
    assert refused[0] == 1 and "no longer holds row" in "".join(refused[1])
    nonsense = ["audit", "verify", "--head", "nonsense", "--user", "nora"]
    assert _run(*nonsense, "--db", server) == _run(*nonsense, "--db", db_url)
    assert _run(*nonsense, "--db", server)[0] == 1
    with db.engine.begin() as conn:  # behind the application's back, as the owner could
        conn.execute(text("UPDATE dose_record SET dose_ug = 5000 WHERE id = "
                          "(SELECT min(id) FROM dose_record)"))
    tampered = verify(where=server)
    assert tampered == verify(where=db_url)
    assert tampered[0] == 1 and "does NOT agree" in tampered[2]


def test_template_import_through_the_server(server, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    templates = tmp_path / "templates.toml"
    templates.write_text('[[template]]\nid = "new-slow"\nname = "New"\nkind = "table"\n'
                         '  [[template.step]]\n  day = 29\n  dose_mg = 10\n', encoding="utf-8")
    argv = ["template", "import", str(templates)]
    assert _run(*argv, "--db", server, "--user", "nora") == \
        _run(*argv, "--db", db_url, "--user", "nora")  # a nurse may not
    assert _run(*argv, "--db", server, "--user", "admin") == (
        0, "added templates: new-slow\n", "")
    again = _run(*argv, "--db", server, "--user", "admin")
    assert again == _run(*argv, "--db", db_url, "--user", "admin") and again[0] == 1
    missing = ["template", "import", str(tmp_path / "none.toml"), "--user", "admin"]
    assert _run(*missing, "--db", server) == _run(*missing, "--db", db_url)


def test_the_server_never_shows_its_database_password(db, app_role_url, tmp_path,
                                                       monkeypatch):
    from sqlalchemy.engine import make_url

    _set_up(db)
    with_password = make_url(app_role_url).set(password="s3cret-pw").render_as_string(
        hide_password=False)  # trust authentication: the test server does not ask for it
    log = tmp_path / "server.log"
    with running_server(with_password, log) as url:
        monkeypatch.setenv("TAPER_PASSWORD", "wrong-password-1")
        refused = _run("summary", "--db", url, "--user", "nora")
        monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
        fine = _run("summary", "--db", url, "--user", "nora", "--as-of", "2026-02-01")
    assert refused[0] == 1 and fine[0] == 0
    shown = log.read_text() + refused[1] + refused[2] + fine[1] + fine[2]
    assert "serving postgresql+psycopg://app_" in shown and ":***@" in shown
    assert "s3cret-pw" not in shown


def test_patient_correct_and_withdraw_amendment_through_the_server(server, db_url, db,
                                                                   monkeypatch):
    from taper_app.services.patients import amend_patient_schedule

    amend_patient_schedule(context(db, "investigator"), load_study(db), "101-001",
                           {"day": "40", "dose_mg": "25", "reason": "flare"})
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    withdraw = ["patient", "withdraw-amendment", "--subject", "101-001", "--amendment", "1",
                "--reason", "wrong patient"]
    correct = ["patient", "correct", "--subject", "101-001", "--baseline", "25", "--reason",
               "misread"]
    before = dump(db)
    for argv in (withdraw, correct):
        assert _run(*argv, "--db", server, "--user", "nora") == \
            _run(*argv, "--db", db_url, "--user", "nora")  # a nurse may not
    monkeypatch.setenv("TAPER_PASSWORD", "wrong-password-1")
    for argv in (withdraw, correct):
        remote = _run(*argv, "--db", server, "--user", "investigator")
        assert remote == _run(*argv, "--db", db_url, "--user", "investigator")
        assert remote[0] == 1
    changed = {t for t in dump(db) if dump(db)[t] != before[t]}
    assert changed <= {"audit_log", "audit_head", "app_user"}  # refusals, counted: no data
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    code, out, err = _run(*withdraw, "--db", server, "--user", "investigator")
    assert code == 0 and out.startswith("withdrew amendment 1 of 101-001; schedule now: "), err
    code, out, err = _run(*correct, "--db", server, "--user", "investigator")
    assert (code, out) == (0, "corrected 101-001: baseline_mg\n"), err
    _, out, _ = _run("summary", "--subject", "101-001", "--json", "--as-of", "2026-02-01",
                     "--db", server, "--user", "investigator")
    assert json.loads(out)[0]["baseline_mg"] == 25.0
