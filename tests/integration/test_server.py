"""The application server, for real: a PostgreSQL server and a ``taper-app serve`` process
on 127.0.0.1, called through the client and the command line, as a site laptop would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from taper_app.remote.client import RemoteStudy
from taper_app.services.errors import PermissionDenied, ServiceError, ValidationError
from taper_app.services.patients import SavedDose, enroll_patient
from taper_app.services.study import add_user, load_study
from taper_app.storage.engine import Database
from taper_app.storage.models import User
from taper_app.storage.uow import UnitOfWork
from tests.cli_door import taper as _run
from tests.conftest import PASSWORD, context
from tests.integration.server_process import running_server
from tests.unit.services.test_patients import dump

pytestmark = pytest.mark.postgres_only

DOSE = {"drug": "prednisone", "dose_mg": "20", "frequency": "QD", "route": "PO",
        "start_date": "2026-01-05", "end_date": "2026-01-10", "source": "clinic"}


def _set_up(db: Database) -> None:
    """Two sites' patients; Nora a nurse of site 101, Mona a monitor; passwords their own."""
    study = load_study(db)
    nurse = context(db, "nurse")
    for subject in ("101-001", "102-001"):
        enroll_patient(nurse, study, {"subject_id": subject, "site": subject[:3],
                                      "day1_date": "2026-01-05", "baseline_mg": "20",
                                      "template_id": "stepdown-a"})
    admin = context(db, "admin")
    add_user(admin, "nora", "nurse", "Nora Nurse", PASSWORD, sites=["101"])
    add_user(admin, "mona", "monitor", "Mona Monitor", PASSWORD)
    with UnitOfWork(db) as uow:
        uow.session.execute(update(User).values(must_change_password=False))
        uow.commit()


@pytest.fixture
def server(db: Database, app_role_url: str, tmp_path: Path) -> Iterator[str]:
    """A real ``taper-app serve`` as the application role (tests/integration/conftest.py)
    on the study of ``_set_up``."""
    _set_up(db)
    with running_server(app_role_url, tmp_path / "server.log") as url:
        yield url


# ------------------------------------------------------------------ what users may do

def test_summary_through_the_server_prints_what_the_database_url_prints(
        server, db_url, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    for args in (["--json"], [], ["--subject", "101-001", "--json"]):
        direct = _run("summary", "--db", db_url, "--user", "nora", "--as-of", "2026-02-01",
                      *args)
        remote = _run("summary", "--db", server, "--user", "nora", "--as-of", "2026-02-01",
                      *args)
        assert remote == direct
        assert direct[0] == 0
    code, out, _ = _run("summary", "--db", server, "--user", "nora", "--json",
                        "--as-of", "2026-02-01")
    assert code == 0 and "101-001" in out and "102-001" not in out  # only her site


def test_refusals_through_the_server_have_the_same_exit_status_and_message(
        server, db_url, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", "wrong-password-1")
    assert _run("summary", "--db", server, "--user", "nora") == \
        _run("summary", "--db", db_url, "--user", "nora")
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    assert _run("summary", "--db", server)[0] == 2
    code, _, err = _run("settings", "set", "idle_lock_minutes", "5", "--reason", "x",
                        "--db", server, "--user", "nora")
    assert (code, err) == (1, "taper-app settings: nora (nurse) may not manage users\n")


def test_a_dose_saved_through_the_server_is_in_the_database_and_its_audit_trail(
        server, db):
    with RemoteStudy(server) as remote:
        remote.sign_in("nora", PASSWORD)
        saved = remote.call("record_dose", subject_id="101-001", fields=DOSE,
                            close_ongoing=False, patient_version=None)
        assert isinstance(saved, SavedDose)
        check = remote.call("audit_verify")
        assert check.ok
    rows = {t: r for t, r in dump(db).items()}
    dose = [r for r in rows["dose_record"] if r[0] == saved.record_id]
    assert dose and 20000 in dose[0]
    assert any(r for r in rows["audit_log"] if "nora" in r and "dose_record" in r)


def test_settings_and_users_through_the_command_line(server, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    code, out, err = _run("user", "list", "--db", server, "--user", "admin")
    assert code == 0 and "nora" in out, err
    monkeypatch.setenv("TAPER_NEW_PASSWORD", "another-good-password")
    code, out, _ = _run("user", "add", "sam", "--role", "nurse", "--full-name", "Sam S.",
                        "--site", "102", "--db", server, "--user", "admin")
    assert (code, out) == (0, "added nurse sam for site(s) 102; they choose a new password "
                              "at first sign-in\n")
    code, out, _ = _run("settings", "show", "--db", server, "--user", "nora")
    assert code == 0 and "idle_lock_minutes" in out


def test_serve_refuses_plain_http_off_the_loopback(db_url):
    code, _, err = _run("serve", "--db", db_url, "--host", "0.0.0.0", "--port", "9")
    assert code == 2 and "only on a loopback address" in err


def test_a_command_not_yet_through_the_server_says_so(server):
    code, _, err = _run("backup", "--out", "x.sqlite", "--db", server, "--user", "admin")
    assert code == 2 and "not available through the application server" in err


# ------------------------------------------------------------------ the hostile suite

def _raw(server: str, path: str, body: bytes | dict, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, dict):
        return httpx.post(f"{server}{path}", json=body, headers=headers)
    return httpx.post(f"{server}{path}", content=body, headers=headers)


@pytest.fixture
def nora(server: str) -> Iterator[RemoteStudy]:
    remote = RemoteStudy(server)
    remote.sign_in("nora", PASSWORD)
    yield remote
    remote.close()


FORGED = [
    # (what she tries, use case, arguments, the message's words)
    ("another site's patient", "record_dose",
     {"subject_id": "102-001", "fields": DOSE, "close_ongoing": False,
      "patient_version": None}, "does not work for site 102"),
    ("her own role", "user_role", {"name": "nora", "role": "admin", "reason": "x"},
     "may not manage users"),
    ("adding a user", "user_add", {"name": "eve", "role": "investigator",
                                   "full_name": "Eve", "password": "long-enough-pw",
                                   "sites": None}, "may not manage users"),
    ("deactivating a user", "user_deactivate", {"name": "investigator", "reason": "x"},
     "may not manage users"),
    ("resetting a password", "user_reset", {"name": "investigator",
                                            "password": "long-enough-pw", "reason": "x"},
     "may not manage users"),
    ("revoking sessions", "sessions_revoke", {"username": "admin"}, "may not manage users"),
    ("signing a record", "sign_record", {"subject_id": "101-001",
                                         "through": date(2026, 1, 10), "meaning": "approved",
                                         "password": PASSWORD, "patient_version": None},
     "may not sign record"),
    ("a setting", "settings_set", {"key": "idle_lock_minutes", "value": "240",
                                   "reason": "x"}, "may not manage users"),
    ("marking records source-verified", "sdv", {"subject_id": "101-001",
                                                "through": date(2026, 1, 31),
                                                "record_id": None}, "may not verify source"),
    ("opening a query", "query_open", {"subject_id": "101-001", "text": "x",
                                       "record_id": None}, "may not raise query"),
    ("ending a participation", "patient_end", {
        "subject_id": "101-001", "end_date": date(2026, 3, 1), "disposition": "other",
        "reason": "x"}, "may not end participation"),
    ("reopening a participation", "patient_reopen", {"subject_id": "101-001",
                                                     "reason": "x"},
     "may not end participation"),
    ("another site's calendar", "handout", {"subject_id": "102-001", "first_date": None,
                                            "weeks": 2, "drug": None},
     "does not work for site 102"),
    ("another site's audit rows", "audit_rows", {
        "subject_id": "102-001", "username": None, "entity": None, "since": None,
        "until": None}, "does not work for site 102"),
    ("another site's report", "report", {"subject_id": "102-001",
                                         "as_of": date(2026, 2, 1)},
     "at a site you do not work for"),
]


@pytest.mark.parametrize(("what", "use_case", "args", "words"), FORGED,
                         ids=[f[0] for f in FORGED])
def test_a_nurse_forging_a_request_is_refused_and_nothing_is_written(
        nora, db, what, use_case, args, words):
    before = dump(db)
    with pytest.raises(PermissionDenied, match=words):
        nora.call(use_case, **args)
    assert dump(db) == before


def test_a_monitor_cannot_write_anything(server, db):
    with RemoteStudy(server) as mona:
        mona.sign_in("mona", PASSWORD)
        before = dump(db)
        with pytest.raises(PermissionDenied, match="monitor"):
            mona.call("record_dose", subject_id="101-001", fields=DOSE, close_ongoing=False,
                      patient_version=None)
        upload = ("doses.csv", b"subject_id,drug,dose_mg,frequency,route,start_date,"
                               b"end_date\n101-001,prednisone,5,QD,PO,2026-01-11,\n")
        with pytest.raises(PermissionDenied, match="monitor"):
            mona.call("import_files", patients=None, doses=upload, amendments=None)
        with pytest.raises(PermissionDenied, match="monitor"):
            mona.call("patient_end", subject_id="101-001", end_date=date(2026, 3, 1),
                      disposition="other", reason="x")
        with pytest.raises(PermissionDenied, match="monitor"):
            mona.call("query_answer", query_id=1, text="x")
        assert dump(db) == before
        assert mona.call("audit_verify").ok  # reading still works


def test_a_nurse_importing_another_sites_patient_is_refused_and_nothing_is_written(
        nora, db):
    before = dump(db)
    upload = ("patients.csv", b"subject_id,site,day1_date,baseline_mg,template_id\n"
                              b"102-009,102,2026-01-05,20,stepdown-a\n")
    with pytest.raises(ValidationError) as refused:
        nora.call("import_files", patients=upload, doses=None, amendments=None)
    assert [str(p) for p in refused.value.problems] == [
        "patients.csv:2: site: you do not work for site 102"]
    assert dump(db) == before


def test_a_user_changes_her_own_password_through_the_server(server, monkeypatch):
    monkeypatch.setenv("TAPER_PASSWORD", PASSWORD)
    monkeypatch.setenv("TAPER_NEW_PASSWORD", "sams-first-password")
    assert _run("user", "add", "sam", "--role", "nurse", "--full-name", "Sam S.", "--site",
                "101", "--db", server, "--user", "admin")[0] == 0
    monkeypatch.setenv("TAPER_PASSWORD", "sams-first-password")
    code, _, err = _run("summary", "--db", server, "--user", "sam")
    assert code == 1 and "first password" in err  # not her own yet
    monkeypatch.setenv("TAPER_PASSWORD", "not-the-password")
    monkeypatch.setenv("TAPER_NEW_PASSWORD", "sams-own-password-1")
    code, _, err = _run("user", "passwd", "--db", server, "--user", "sam")
    assert code == 1 and "the password was not changed" in err
    monkeypatch.setenv("TAPER_PASSWORD", "sams-first-password")
    assert _run("user", "passwd", "--db", server, "--user", "sam") == (
        0, "password changed for sam\n", "")
    monkeypatch.setenv("TAPER_PASSWORD", "sams-own-password-1")
    assert _run("summary", "--db", server, "--user", "sam", "--as-of", "2026-02-01")[0] == 0


@pytest.mark.parametrize("extra", ["actor", "username", "sites", "role"])
def test_who_acts_never_comes_from_the_request(nora, db, server, extra):
    before = dump(db)
    response = _raw(server, "/v1/call/record_dose", {"args": {
        "subject_id": "102-001", "fields": DOSE, "close_ongoing": False,
        "patient_version": None, extra: "admin"}}, nora.token)
    assert response.status_code == 400
    assert "unknown ['" + extra + "']" in response.json()["error"]["message"]
    assert dump(db) == before


@pytest.mark.parametrize("name", ["sql", "execute", "__init__", "USE_CASES", "..%2Fsign-in"])
def test_only_the_listed_use_cases_exist(nora, server, name):
    response = _raw(server, f"/v1/call/{name}", {"args": {}}, nora.token)
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "no such use case"


@pytest.mark.parametrize("token", [None, "", "forged-token-0123456789abcdef0123456789abc"])
def test_a_missing_or_forged_session_is_refused(server, db, token):
    before = dump(db)
    response = _raw(server, "/v1/call/record_dose", {"args": {
        "subject_id": "101-001", "fields": DOSE, "close_ongoing": False,
        "patient_version": None}}, token)
    assert response.status_code == 401
    assert response.json()["error"]["kind"] == "SessionRefused"
    assert dump(db) == before


def test_replay_after_sign_out_is_refused(server, db):
    remote = RemoteStudy(server)
    remote.sign_in("nora", PASSWORD)
    token = remote.token
    remote.sign_out()
    before = dump(db)
    response = _raw(server, "/v1/call/record_dose", {"args": {
        "subject_id": "101-001", "fields": DOSE, "close_ongoing": False,
        "patient_version": None}}, token)
    assert response.status_code == 401
    assert "signed out, revoked or never issued" in response.json()["error"]["message"]
    assert dump(db) == before


def test_a_revoked_session_is_refused(server, nora):
    with RemoteStudy(server) as admin:
        admin.sign_in("admin", PASSWORD)
        assert admin.call("sessions_revoke", username="nora") == 1
    with pytest.raises(ServiceError, match="signed out, revoked or never issued"):
        nora.call("audit_verify")


@pytest.mark.parametrize(("body", "words"), [
    (b"{not json", "not JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"args": {"subject_id": 7, "fields": {}, "close_ongoing": false, '
     b'"patient_version": null}}', "wrong type"),
    (b'{"args": {"subject_id": "101-001", "fields": {"$type": "Actor", "fields": {}}, '
     b'"close_ongoing": false, "patient_version": null}}', "fields"),
    (b'{"args": {"subject_id": "101-001", "fields": {}, "close_ongoing": "yes", '
     b'"patient_version": null}}', "wrong type"),
    (b'{"args": {}, "user": "admin"}', "body is"),
    (b'{"args": "' + b"x" * (9 << 20) + b'"}', "too large"),
])
def test_malformed_and_oversized_bodies_are_refused(nora, db, server, body, words):
    before = dump(db)
    response = _raw(server, "/v1/call/record_dose", body, nora.token)
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]
    assert dump(db) == before


def test_an_idle_session_expires_on_the_server_and_its_token_is_dead(db):
    """The server's own clock, moved on past the idle-lock minutes (the app in-process,
    with an injected clock; everything else as in the server process)."""
    import asyncio
    from datetime import timedelta

    from taper_app.server.app import make_app
    from taper_app.services.settings import load_settings
    from tests.conftest import NOW

    _set_up(db)
    now = [NOW]
    idle = timedelta(minutes=load_settings(db)["idle_lock_minutes"])
    app = make_app(db, clock=lambda: now[0])
    record = {"args": {"subject_id": "101-001", "fields": DOSE, "close_ongoing": False,
                       "patient_version": None}}

    async def session() -> tuple[dict, httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as client:
            token = (await client.post("/v1/sign-in", json={
                "username": "nora", "password": PASSWORD})).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            now[0] += idle - timedelta(seconds=1)  # still within the idle time: it works
            assert (await client.post("/v1/call/audit_verify", json={"args": {}},
                                      headers=auth)).status_code == 200
            before = dump(db)
            now[0] += idle + timedelta(seconds=1)
            expired = await client.post("/v1/call/record_dose", json=record, headers=auth)
            again = await client.post("/v1/call/audit_verify", json={"args": {}},
                                      headers=auth)
            return before, expired, again

    before, expired, again = asyncio.run(session())
    assert expired.status_code == 401
    assert "expired after the idle time" in expired.json()["error"]["message"]
    assert again.status_code == 401
    assert "signed out, revoked or never issued" in again.json()["error"]["message"]
    after = dump(db)
    assert {t: r for t, r in after.items() if t not in ("audit_log", "audit_head")} == \
        {t: r for t, r in before.items() if t not in ("audit_log", "audit_head")}
    new_rows = [r for r in after["audit_log"] if r not in before["audit_log"]]
    assert len(new_rows) == 1 and "session expired on the server" in new_rows[0]
