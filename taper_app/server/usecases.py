"""The explicit list of use cases the server runs: name, typed arguments, service call.

Nothing else can be called: no SQL, no function named by the client. Each use case gets
a ServiceContext whose actor is the session's user, read again from the database at each
call (a changed role or a deactivation counts at once); the services check permissions
and sites exactly as for the window on a file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..remote.wire import ExportedFiles
from ..services import accounts, queries
from ..services.audit import head_of, holds_head, verify_chain
from ..services.audit_query import AuditFilter, read_audit
from ..services.audit_reconcile import reconcile
from ..services.calendar import ReturnedDay, print_dosing_calendar
from ..services.context import ServiceContext
from ..services.corrections import correct_enrollment, withdraw_amendment
from ..services.errors import PermissionDenied
from ..services.exports import export_csv
from ..services.figures import summary
from ..services.gateway import LocalStudy
from ..services.imports import CsvUpload, import_files
from ..services.participation import end_participation, reopen_participation
from ..services.reporting import cohort_report, patient_report
from ..services.sdtm import export_sdtm
from ..services.settings import load_settings, set_setting
from ..services.signatures import sign_record
from ..services.study import add_user, import_templates, load_study
from ..services.verification import verify_source
from ..storage.uow import UnitOfWork
from .sessions import SessionStore


class BadArguments(ValueError):
    """The arguments do not fit the use case (a malformed request)."""


def _optional(kind: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or kind(v)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_date(v: Any) -> bool:
    return isinstance(v, date)


def _is_fields(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and (x is None or isinstance(x, str))
                                       for k, x in v.items())


def _is_names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _is_upload(v: Any) -> bool:
    """A CSV file sent by the client: (its name as the user gave it, its bytes)."""
    return (isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str)
            and isinstance(v[1], bytes))


@dataclass(frozen=True)
class UseCase:
    name: str
    params: Mapping[str, Callable[[Any], bool]]
    run: Callable[..., Any]


@dataclass(frozen=True)
class Call:
    """What a use case is run with: the context (the session's user) and the sessions."""

    ctx: ServiceContext
    sessions: SessionStore


def _summary(c: Call, as_of: date, subject_id: str | None) -> Any:
    return summary(c.ctx.db, load_study(c.ctx.db), as_of, subject_id, c.ctx.actor.sites)


def _record_dose(c: Call, subject_id: str, fields: dict[str, object], close_ongoing: bool,
                 patient_version: int | None) -> Any:
    w = _window(c)
    return w.record_dose(w.load_study(), subject_id, fields, close_ongoing=close_ongoing,
                         patient_version=patient_version)


def _audit_verify(c: Call) -> Any:
    with UnitOfWork(c.ctx.db, write=False) as uow:
        return verify_chain(uow.session)


def _audit_check(c: Call, head: tuple[int, str] | None) -> Any:
    """What ``audit verify`` checks on a file, here: the chain, that the data agree with
    it, and (with ``head``) that the trail still holds that row with that hash."""
    with UnitOfWork(c.ctx.db, write=False) as uow:
        check = verify_chain(uow.session)
        found = [str(d) for d in reconcile(uow.session)] if check.ok else []
        held = holds_head(uow.session, *head) if head is not None else True
    return check, found, held


def _is_head(v: Any) -> bool:
    return (isinstance(v, tuple) and len(v) == 2 and _is_int(v[0]) and isinstance(v[1], str))


def _settings_set(c: Call, key: str, value: str, reason: str) -> Any:
    set_setting(c.ctx, key, value, reason)
    return load_settings(c.ctx.db)


def _user_add(c: Call, name: str, role: str, full_name: str, password: str,
              sites: list[str] | None) -> None:
    add_user(c.ctx, name, role, full_name, password, sites=sites)


def _revoke(c: Call, username: str) -> int:
    c.ctx.actor.require("manage_users")
    return c.sessions.revoke_user(username)


def _sign(c: Call, subject_id: str, through: date, meaning: str, password: str,
          patient_version: int | None) -> Any:
    # The signer is the session's user; the password re-authenticates that same user.
    return sign_record(c.ctx, subject_id, through, meaning, password,
                       patient_version=patient_version)


# ------------------------------------------------------------------ the window's door
# Each is the LocalStudy method (services/gateway.py) a window on a file calls, run here
# for the session's user: the window through the server runs the same code.

def _window(c: Call) -> LocalStudy:
    return LocalStudy(c.ctx.db, c.ctx.actor, c.ctx.clock, c.ctx.today)


def _window_list(c: Call, as_of: date) -> Any:
    w = _window(c)
    return w.listed_patients(w.load_study(), as_of)


def _window_patient(c: Call, subject_id: str, as_of: date) -> Any:
    w = _window(c)
    return w.patient_parts(w.load_study(), subject_id, as_of)


def _window_signatures(c: Call, subject_id: str) -> Any:
    views, missing = _window(c).signatures(subject_id)
    return tuple(views), tuple(missing)


def _with_the_patient_after(c: Call, change: Callable[[LocalStudy, Any], Any],
                            subject_of: Callable[[LocalStudy], str], as_of: date) -> Any:
    """A window's change, answered with its result and the patient as a reload right after
    it reads them (parts, signatures): one round trip where the window would make three."""
    w = _window(c)
    study = w.load_study()
    subject = subject_of(w)  # before the change: a record's patient, for void and correct
    result = change(w, study)
    return (result, *w.after_write(study, subject, as_of))


def _audit_read(c: Call, subject_id: str | None, username: str | None, entity: str | None,
                actions: list[str] | None, since: date | None, until: date | None,
                limit: int | None, with_head: bool) -> Any:
    wanted = AuditFilter(subject_id, username, entity,
                         None if actions is None else tuple(actions), since, until)
    head, rows = _window(c).read_audit(wanted, limit, with_head=with_head)
    return head, tuple(rows)


def _window_record_dose(c: Call, subject_id: str, fields: dict[str, object],
                        close_ongoing: bool, patient_version: int | None,
                        first_changed: date | None, confirmed: bool, as_of: date) -> Any:
    """The dose form's save (LocalStudy.record_dose_unless_breaking): the signatures it
    would break and nothing saved, or the saved dose with the patient as read after it."""
    w = _window(c)
    study = w.load_study()
    broken, saved = w.record_dose_unless_breaking(
        study, subject_id, fields, close_ongoing=close_ongoing,
        patient_version=patient_version, first_changed=first_changed, confirmed=confirmed)
    if saved is None:
        return tuple(broken), None, None, (), ()
    return (), saved, *w.after_write(study, subject_id, as_of)


def _is_returned_days(v: Any) -> bool:
    """A returned calendar's days: (date, mg taken or None, reason) each."""
    return isinstance(v, list) and all(
        isinstance(d, tuple) and len(d) == 3 and _is_date(d[0])
        and (d[1] is None or isinstance(d[1], Decimal)) and isinstance(d[2], str) for d in v)


def _returned_calendar(c: Call, subject_id: str, first_date: date, weeks: int,
                       drug: str | None, days: list[tuple[date, Decimal | None, str]],
                       close_ongoing: bool, patient_version: int | None) -> Any:
    return _window(c).enter_returned_calendar(
        subject_id, first_date, weeks, drug, [ReturnedDay(*d) for d in days],
        close_ongoing=close_ongoing, patient_version=patient_version)


def _is_versions(v: Any) -> bool:
    """Patients to sign: (subject id, the record version the signer saw) pairs."""
    return isinstance(v, list) and all(
        isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
        and (p[1] is None or _is_int(p[1])) for p in v)


def _user_list(c: Call) -> Any:
    return accounts.list_users(c.ctx.db)


def _correct_enrollment(c: Call, subject_id: str, fields: dict[str, object],
                        password: str, patient_version: int | None) -> Any:
    # The password re-authenticates the session's own user, as on a file.
    return correct_enrollment(c.ctx, load_study(c.ctx.db), subject_id, fields, password,
                              patient_version=patient_version)


def _withdraw_amendment(c: Call, subject_id: str, amendment: int, reason: str,
                        password: str, patient_version: int | None) -> Any:
    return withdraw_amendment(c.ctx, load_study(c.ctx.db), subject_id, amendment, reason,
                              password, patient_version=patient_version)


def _import(c: Call, patients: tuple[str, bytes] | None, doses: tuple[str, bytes] | None,
            amendments: tuple[str, bytes] | None) -> Any:
    def upload(sent: tuple[str, bytes] | None) -> CsvUpload | None:
        return None if sent is None else CsvUpload(*sent)

    return import_files(c.ctx, load_study(c.ctx.db), patients=upload(patients),
                        doses=upload(doses), amendments=upload(amendments))


def _report(c: Call, subject_id: str | None, as_of: date) -> Any:
    # The PDF is made here, for the session's user's sites, exactly as on a file.
    study, sites = load_study(c.ctx.db), c.ctx.actor.sites
    if subject_id is None:
        return cohort_report(c.ctx.db, study, as_of, sites=sites)
    return patient_report(c.ctx.db, study, subject_id, as_of, sites=sites)


def _files_of(paths: list[Path]) -> tuple[tuple[str, bytes], ...]:
    return tuple((p.name, p.read_bytes()) for p in paths)


def _export(c: Call, format: str, as_of: date) -> ExportedFiles:
    study, sites = load_study(c.ctx.db), c.ctx.actor.sites
    with tempfile.TemporaryDirectory(prefix="taper-export-") as folder:
        out = Path(folder)
        if format == "sdtm":
            made = export_sdtm(c.ctx.db, study, out, sites=sites, clock=c.ctx.clock)
            return ExportedFiles(_files_of(made.paths), made.cm_rows, made.voided_rows,
                                 made.subjects)
        if format == "csv":
            return ExportedFiles(_files_of(export_csv(c.ctx.db, study, out, as_of, sites)))
    raise BadArguments("export: format is csv or sdtm")


def _audit_rows(c: Call, subject_id: str | None, username: str | None, entity: str | None,
                since: date | None, until: date | None) -> Any:
    # The head is read before the rows, so the trail holds it whatever is saved next.
    head = head_of(c.ctx.db)
    return head, read_audit(c.ctx, AuditFilter(subject_id, username, entity, since=since,
                                               until=until))


def _handout(c: Call, subject_id: str, first_date: date | None, weeks: int,
             drug: str | None) -> Any:
    return print_dosing_calendar(c.ctx, subject_id, first_date, weeks, drug)


S, N, B, D = _is_str, _is_int, _is_bool, _is_date
OS, ON, OD, UP = _optional(S), _optional(N), _optional(D), _optional(_is_upload)
USE_CASES: Mapping[str, UseCase] = {u.name: u for u in (
    UseCase("import_files", {"patients": UP, "doses": UP, "amendments": UP}, _import),
    UseCase("report", {"subject_id": OS, "as_of": D}, _report),
    UseCase("export", {"format": S, "as_of": D}, _export),
    UseCase("audit_rows", {"subject_id": OS, "username": OS, "entity": OS, "since": OD,
                           "until": OD}, _audit_rows),
    UseCase("handout", {"subject_id": S, "first_date": OD, "weeks": N, "drug": OS},
            _handout),
    UseCase("patient_end", {"subject_id": S, "end_date": D, "disposition": S, "reason": S},
            lambda c, subject_id, end_date, disposition, reason: end_participation(
                c.ctx, subject_id, end_date, disposition, reason)),
    UseCase("patient_correct", {"subject_id": S, "fields": _is_fields, "password": S,
                                "patient_version": ON}, _correct_enrollment),
    UseCase("patient_withdraw_amendment", {"subject_id": S, "amendment": N, "reason": S,
                                           "password": S, "patient_version": ON},
            _withdraw_amendment),
    UseCase("patient_enroll", {"fields": _is_fields},
            lambda c, fields: _window(c).enroll_patient(load_study(c.ctx.db), fields)),
    UseCase("patient_amend", {"subject_id": S, "fields": _is_fields, "patient_version": ON},
            lambda c, subject_id, fields, patient_version: _window(c).amend_schedule(
                load_study(c.ctx.db), subject_id, fields, patient_version=patient_version)),
    UseCase("audit_choices", {}, lambda c: _window(c).audit_choices()),
    UseCase("audit_read", {"subject_id": OS, "username": OS, "entity": OS,
                           "actions": _optional(_is_names), "since": OD, "until": OD,
                           "limit": ON, "with_head": B}, _audit_read),
    UseCase("calendar_preview", {"subject_id": S, "first_date": OD, "weeks": N, "drug": OS},
            lambda c, subject_id, first_date, weeks, drug: _window(c).dosing_calendar(
                subject_id, first_date, weeks, drug)),
    UseCase("calendar_print", {"subject_id": S, "first_date": OD, "weeks": N, "drug": OS,
                               "patient_version": ON},
            lambda c, subject_id, first_date, weeks, drug, patient_version: _window(
                c).print_dosing_calendar(subject_id, first_date, weeks, drug,
                                         patient_version=patient_version)),
    UseCase("calendar_printed", {"subject_id": S},
            lambda c, subject_id: tuple(_window(c).printed_calendars(subject_id))),
    UseCase("calendar_returned", {"subject_id": S, "first_date": D, "weeks": N, "drug": OS,
                                  "days": _is_returned_days, "close_ongoing": B,
                                  "patient_version": ON}, _returned_calendar),
    UseCase("query_reask", {"query_id": N, "text": S},
            lambda c, query_id, text: _window(c).reask_query(query_id, text)),
    UseCase("patient_reopen", {"subject_id": S, "reason": S},
            lambda c, subject_id, reason: reopen_participation(c.ctx, subject_id, reason)),
    UseCase("sdv", {"subject_id": S, "through": OD, "record_id": ON},
            lambda c, subject_id, through, record_id: verify_source(c.ctx, subject_id,
                                                                     through, record_id)),
    UseCase("query_open", {"subject_id": S, "text": S, "record_id": ON},
            lambda c, subject_id, text, record_id: queries.open_query(c.ctx, subject_id, text,
                                                                      record_id)),
    UseCase("query_answer", {"query_id": N, "text": S},
            lambda c, query_id, text: queries.answer_query(c.ctx, query_id, text)),
    UseCase("query_close", {"query_id": N, "text": OS},
            lambda c, query_id, text: queries.close_query(c.ctx, query_id, text)),
    UseCase("query_list", {"subject_id": OS, "state": OS},
            lambda c, subject_id, state: queries.list_queries(c.ctx, subject_id, state)),
    UseCase("summary", {"as_of": D, "subject_id": OS}, _summary),
    UseCase("record_dose", {"subject_id": S, "fields": _is_fields, "close_ongoing": B,
                            "patient_version": _optional(N)}, _record_dose),
    UseCase("audit_verify", {}, _audit_verify),
    UseCase("template_import", {"text": S, "source": S},
            lambda c, text, source: import_templates(c.ctx, text, source)),
    UseCase("audit_check", {"head": _optional(_is_head)}, _audit_check),
    UseCase("settings_show", {}, lambda c: load_settings(c.ctx.db)),
    UseCase("settings_set", {"key": S, "value": S, "reason": S}, _settings_set),
    UseCase("user_list", {}, _user_list),
    UseCase("user_add", {"name": S, "role": S, "full_name": S, "password": S,
                         "sites": _optional(_is_names)}, _user_add),
    UseCase("user_role", {"name": S, "role": S, "reason": S},
            lambda c, name, role, reason: accounts.change_role(c.ctx, name, role, reason)),
    UseCase("user_sites", {"name": S, "sites": _is_names, "reason": S},
            lambda c, name, sites, reason: accounts.set_user_sites(c.ctx, name, sites,
                                                                   reason)),
    UseCase("user_deactivate", {"name": S, "reason": S},
            lambda c, name, reason: accounts.deactivate_user(c.ctx, name, reason)),
    UseCase("user_reset", {"name": S, "password": S, "reason": S},
            lambda c, name, password, reason: accounts.reset_password(c.ctx, name, password,
                                                                      reason)),
    UseCase("sessions_revoke", {"username": S}, _revoke),
    UseCase("sign_record", {"subject_id": S, "through": D, "meaning": S, "password": S,
                            "patient_version": ON}, _sign),
    UseCase("sign_records", {"patients": _is_versions, "through": D, "meaning": S,
                             "password": S},
            lambda c, patients, through, meaning, password: _window(c).sign_records(
                patients, through, meaning, password)),
    # The study and the settings the window starts with (its idle lock's minutes): one
    # round trip at sign-in.
    UseCase("window_study", {}, lambda c: (_window(c).study_text(), load_settings(c.ctx.db))),
    UseCase("window_list", {"as_of": D}, _window_list),
    UseCase("window_records", {"as_of": D},
            lambda c, as_of: tuple(_window(c).every_patients_parts(load_study(c.ctx.db),
                                                                  as_of))),
    UseCase("window_patient", {"subject_id": S, "as_of": D}, _window_patient),
    UseCase("window_signatures", {"subject_id": S}, _window_signatures),
    UseCase("window_signatures_broken", {"subject_id": S, "first_changed": OD},
            lambda c, subject_id, first_changed: _window(c).signatures_a_change_breaks(
                subject_id, first_changed)),
    UseCase("window_record_dose", {"subject_id": S, "fields": _is_fields, "close_ongoing": B,
                                   "patient_version": ON, "first_changed": OD,
                                   "confirmed": B, "as_of": D}, _window_record_dose),
    UseCase("window_void_dose", {"record_id": N, "reason": S, "expected_version": ON,
                                 "patient_version": ON, "as_of": D},
            lambda c, record_id, reason, expected_version, patient_version, as_of:
            _with_the_patient_after(c, lambda w, study: w.void_dose(
                record_id, reason, expected_version=expected_version,
                patient_version=patient_version),
                lambda w: w.subject_of_record(record_id), as_of)),
    UseCase("window_correct_dose", {"record_id": N, "reason": S, "fields": _is_fields,
                                    "expected_version": ON, "patient_version": ON,
                                    "as_of": D},
            lambda c, record_id, reason, fields, expected_version, patient_version, as_of:
            _with_the_patient_after(c, lambda w, study: w.correct_dose(
                study, record_id, reason, fields, expected_version=expected_version,
                patient_version=patient_version),
                lambda w: w.subject_of_record(record_id), as_of)),
)}


def checked_arguments(use_case: UseCase, args: Any) -> dict[str, Any]:
    """``args`` if they are exactly the use case's, each of its type; else BadArguments."""
    if not isinstance(args, dict):
        raise BadArguments("the arguments must be a mapping")
    missing = sorted(set(use_case.params) - set(args))
    unknown = sorted(set(args) - set(use_case.params))
    if missing or unknown:
        raise BadArguments(f"{use_case.name}: missing {missing}, unknown {unknown}")
    for name, fits in use_case.params.items():
        if not fits(args[name]):
            raise BadArguments(f"{use_case.name}: {name} has the wrong type")
    return args


__all__ = ["USE_CASES", "BadArguments", "Call", "PermissionDenied", "UseCase",
           "checked_arguments"]
