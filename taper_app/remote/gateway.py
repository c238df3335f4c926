"""The window's door through the application server: the shape of services/gateway.py,
each method one of the server's explicit use cases (server/usecases.py), which runs the
same LocalStudy method on the server for the session's user.

The acting user is always the server session's: no method sends a user name, except
sign-in and a first password's change, which prove it with the password.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

from ..results import AuditHeadMark, DosingCalendar, QueryView
from ..services.accounts import UserView
from ..services.audit_query import AuditChoices, AuditFilter, AuditRow
from ..services.auth import Actor
from ..services.calendar import (
    CalendarPrintout,
    PrintedCalendar,
    ReturnedCalendarSaved,
    ReturnedDay,
)
from ..services.errors import FirstPasswordNotChanged, ServiceError
from ..services.gateway import ListedPatient, PatientParts, PatientRow, StudyText, study_from_text
from ..services.patients import SavedDose
from ..services.reporting import Progress, Report, write_files
from ..services.signatures import SignatureView
from ..services.study import StudyInfo
from .client import RemoteStudy, SessionEnded
from .wire import ExportedFiles


class ServerConnection:
    """Signing in at the application server at ``url``: one HTTP client for every session
    of this window (each sign-in makes a new server session; sign-out ends it)."""

    def __init__(self, url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0) -> None:
        self.remote = RemoteStudy(url, transport=transport, timeout=timeout)
        #: The study and its settings, asked for right after a sign-in (in the sign-in's
        #: worker thread), for the window that opens next: it opens without a round trip.
        self._study_after_sign_in: Any = None

    def _signed_in(self, actor: Actor) -> Actor:
        """After a sign-in, in the same worker: the study the window opens on. A refusal
        here is left for the window's own load_study to meet and say."""
        try:
            self._study_after_sign_in = self.remote.call("window_study")
        except ServiceError:
            self._study_after_sign_in = None
        return actor

    @property
    def shown_location(self) -> str:
        return self.remote.url

    @property
    def is_local(self) -> bool:
        return False

    def authenticate(self, username: str, password: str,
                     clock: Callable[[], datetime]) -> Actor | None:
        """The signed-in user; None when the account still has its first password (no
        session is made until the user has chosen their own)."""
        try:
            actor = self.remote.sign_in(username, password, first_password_refused=True)
        except FirstPasswordNotChanged:
            return None
        return self._signed_in(actor)

    def choose_first_password(self, pending: Actor | None, username: str, old: str, new: str,
                              clock: Callable[[], datetime]) -> Actor:
        """The user's own password instead of the first one, then the sign-in with it."""
        self.remote.change_password(username, old, new)
        return self._signed_in(self.remote.sign_in(username, new, first_password_refused=True))

    def open(self, actor: Actor, clock: Callable[[], datetime],
             today: Callable[[], date]) -> ServerStudy:
        first, self._study_after_sign_in = self._study_after_sign_in, None
        return ServerStudy(self.remote, actor, clock, today, study_answer=first)

    def close(self) -> None:
        self.remote.close()


class ServerStudy:
    """One signed-in window's door through the server (StudyGateway's shape)."""

    def __init__(self, remote: RemoteStudy, actor: Actor, clock: Callable[[], datetime],
                 today: Callable[[], date], *, study_answer: Any = None) -> None:
        """``study_answer``: window_study's answer if asked for already (at sign-in)."""
        self.remote = remote
        self._study_answer = study_answer
        self.actor = actor
        self.clock = clock
        self.today = today
        #: A patient as the server read them right after this window's own change (sent
        #: with the change's answer): the reload that follows at once takes them instead
        #: of a round trip. Each is used once, and only within FRESH_SECONDS; by subject.
        self._fresh_parts: dict[str, tuple[float, date, PatientParts]] = {}
        self._fresh_signatures: dict[str, tuple[float, list[SignatureView], list[str]]] = {}
        self._settings_with_study: dict[str, int] | None = None

    def _changed(self, answer: Any, as_of: date) -> Any:
        """The result of a window_* change; its patient kept for the reload after it."""
        result, parts, views, missing = answer
        subject, now = parts.record.subject_id, time.monotonic()
        self._fresh_parts[subject] = (now, as_of, parts)
        self._fresh_signatures[subject] = (now, list(views), list(missing))
        return result

    @property
    def shown_location(self) -> str:
        return self.remote.url

    @property
    def is_local(self) -> bool:
        return False

    def _call(self, use_case: str, **args: Any) -> Any:
        return self.remote.call(use_case, **args)

    def load_study(self) -> StudyInfo:
        """The study, and the settings the window asks for next (kept for that once)."""
        answer, self._study_answer = self._study_answer, None
        text, self._settings_with_study = answer if answer is not None else self._call(
            "window_study")
        assert isinstance(text, StudyText)
        return study_from_text(text)

    def patient_rows(self, study: StudyInfo, as_of: date) -> list[PatientRow]:
        listed: list[ListedPatient] = self._call("window_list", as_of=as_of)
        return [PatientRow.from_listing(entry) for entry in listed]

    def patient_row(self, study: StudyInfo, subject_id: str, as_of: date) -> PatientRow:
        fresh = self._fresh_parts.pop(subject_id, None)
        if fresh is not None and _still_fresh(fresh[0]) and fresh[1] == as_of:
            return PatientRow.from_parts(study, fresh[2], as_of)
        parts: PatientParts = self._call("window_patient", subject_id=subject_id, as_of=as_of)
        return PatientRow.from_parts(study, parts, as_of)

    def whole_patient_rows(self, study: StudyInfo, as_of: date) -> list[PatientRow]:
        """Every patient's whole record: only the dashboard's chart asks for it."""
        every: list[PatientParts] = self._call("window_records", as_of=as_of)
        return [PatientRow.from_parts(study, parts, as_of) for parts in every]

    def signatures(self, subject_id: str) -> tuple[list[SignatureView], list[str]]:
        fresh = self._fresh_signatures.pop(subject_id, None)
        if fresh is not None and _still_fresh(fresh[0]):
            return fresh[1], fresh[2]
        views, missing = self._call("window_signatures", subject_id=subject_id)
        return list(views), list(missing)

    def signatures_a_change_breaks(self, subject_id: str, first_changed: date | None
                                   ) -> list[SignatureView]:
        return list(self._call("window_signatures_broken", subject_id=subject_id,
                               first_changed=first_changed))

    def record_dose(self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
                    close_ongoing: bool, patient_version: int | None) -> SavedDose:
        _broken, saved = self.record_dose_unless_breaking(
            study, subject_id, fields, close_ongoing=close_ongoing,
            patient_version=patient_version, first_changed=None, confirmed=True)
        assert saved is not None
        return saved

    def record_dose_unless_breaking(
            self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
            close_ongoing: bool, patient_version: int | None, first_changed: date | None,
            confirmed: bool) -> tuple[list[SignatureView], SavedDose | None]:
        as_of = self.today()
        broken, *answer = self._call(
            "window_record_dose", subject_id=subject_id, fields=_text_fields(fields),
            close_ongoing=close_ongoing, patient_version=patient_version,
            first_changed=first_changed, confirmed=confirmed, as_of=as_of)
        if answer[0] is None:  # nothing saved: the signatures it would break
            return list(broken), None
        saved: SavedDose = self._changed(tuple(answer), as_of)
        return [], saved

    def correct_dose(self, study: StudyInfo, record_id: int, reason: str,
                     fields: dict[str, object], *, expected_version: int | None,
                     patient_version: int | None) -> int:
        as_of = self.today()
        new_id: int = self._changed(self._call(
            "window_correct_dose", record_id=record_id, reason=reason,
            fields=_text_fields(fields), expected_version=expected_version,
            patient_version=patient_version, as_of=as_of), as_of)
        return new_id

    def void_dose(self, record_id: int, reason: str, *, expected_version: int | None,
                  patient_version: int | None) -> None:
        as_of = self.today()
        self._changed(self._call("window_void_dose", record_id=record_id, reason=reason,
                                 expected_version=expected_version,
                                 patient_version=patient_version, as_of=as_of), as_of)

    def sign_record(self, subject_id: str, through: date, meaning: str, password: str, *,
                    patient_version: int | None) -> SignatureView:
        view: SignatureView = self._call("sign_record", subject_id=subject_id,
                                         through=through, meaning=meaning, password=password,
                                         patient_version=patient_version)
        return view

    def sign_records(self, patients: Sequence[tuple[str, int | None]], through: date,
                     meaning: str, password: str) -> list[SignatureView]:
        return list(self._call("sign_records", patients=[tuple(p) for p in patients],
                               through=through, meaning=meaning, password=password))

    def settings(self) -> dict[str, int]:
        kept, self._settings_with_study = self._settings_with_study, None
        if kept is not None:
            return kept
        settings: dict[str, int] = self._call("settings_show")
        return settings

    def patient_report(self, study: StudyInfo, subject_id: str, as_of: date) -> Report:
        report: Report = self._call("report", subject_id=subject_id, as_of=as_of)
        return report

    def cohort_report(self, study: StudyInfo, as_of: date, progress: Progress,
                      cancelled: Callable[[], bool]) -> Report:
        """Built on the server in one call: no progress per patient on the way."""
        report: Report = self._call("report", subject_id=None, as_of=as_of)
        return report

    def export_data(self, study: StudyInfo, kind: str, folder: Path, as_of: date
                    ) -> list[Path]:
        """The export made on the server for the session's user, its files written into
        ``folder`` whole (each to a temporary name first), as on a file."""
        made: ExportedFiles = self._call("export", format=kind, as_of=as_of)
        files = {folder / Path(name).name: data for name, data in made.files}
        write_files(files)
        return list(files)

    def reauthenticate(self, password: str) -> Actor:
        """The idle lock's password. The server ends a session idle for the lock's minutes
        (as the window locks): then the same user signs in again with it, on a new session
        (counted and locked out like any sign-in), and the window goes on as it was."""
        try:
            return self.remote.unlock(password)
        except SessionEnded:
            actor = self.remote.sign_in(self.actor.username, password,
                                        first_password_refused=True)
            self.actor = actor
            return actor

    def sign_out(self, how: str) -> None:
        self.remote.sign_out(how)

    # ------------------------------------------------------------ the other forms

    def enroll_patient(self, study: StudyInfo, fields: dict[str, object]) -> str:
        subject: str = self._call("patient_enroll", fields=_text_fields(fields))
        return subject

    def amend_schedule(self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
                       patient_version: int | None) -> int:
        seq: int = self._call("patient_amend", subject_id=subject_id,
                              fields=_text_fields(fields), patient_version=patient_version)
        return seq

    def correct_enrollment(self, study: StudyInfo, subject_id: str, fields: dict[str, object],
                           password: str, *, patient_version: int | None) -> list[str]:
        return list(self._call("patient_correct", subject_id=subject_id,
                               fields=_text_fields(fields), password=password,
                               patient_version=patient_version))

    def withdraw_amendment(self, study: StudyInfo, subject_id: str, seq: int, reason: str,
                           password: str, *, patient_version: int | None) -> str:
        schedule: str = self._call("patient_withdraw_amendment", subject_id=subject_id,
                                   amendment=seq, reason=reason, password=password,
                                   patient_version=patient_version)
        return schedule

    def verify_source(self, subject_id: str, through: date | None,
                      record_id: int | None) -> int:
        marked: int = self._call("sdv", subject_id=subject_id, through=through,
                                 record_id=record_id)
        return marked

    def open_query(self, subject_id: str, text: str, record_id: int | None) -> int:
        query_id: int = self._call("query_open", subject_id=subject_id, text=text,
                                   record_id=record_id)
        return query_id

    def answer_query(self, query_id: int, text: str) -> None:
        self._call("query_answer", query_id=query_id, text=text)

    def close_query(self, query_id: int, text: str | None) -> None:
        self._call("query_close", query_id=query_id, text=text)

    def reask_query(self, query_id: int, text: str) -> None:
        self._call("query_reask", query_id=query_id, text=text)

    def list_queries(self, subject_id: str | None, state: str | None) -> list[QueryView]:
        return list(self._call("query_list", subject_id=subject_id, state=state))

    def list_users(self) -> list[UserView]:
        return list(self._call("user_list"))

    def add_user(self, username: str, role: str, full_name: str, password: str,
                 sites: list[str] | None) -> None:
        self._call("user_add", name=username, role=role, full_name=full_name,
                   password=password, sites=sites)

    def reset_password(self, username: str, password: str, reason: str) -> None:
        self._call("user_reset", name=username, password=password, reason=reason)

    def change_role(self, username: str, role: str, reason: str) -> None:
        self._call("user_role", name=username, role=role, reason=reason)

    def set_user_sites(self, username: str, sites: list[str], reason: str) -> None:
        self._call("user_sites", name=username, sites=list(sites), reason=reason)

    def deactivate_user(self, username: str, reason: str) -> None:
        self._call("user_deactivate", name=username, reason=reason)

    def set_setting(self, key: str, value: str, reason: str) -> None:
        self._call("settings_set", key=key, value=value, reason=reason)

    def audit_choices(self) -> AuditChoices:
        choices: AuditChoices = self._call("audit_choices")
        return choices

    def dosing_calendar(self, subject_id: str, first_date: date | None, weeks: int,
                        drug: str | None) -> DosingCalendar:
        calendar: DosingCalendar = self._call("calendar_preview", subject_id=subject_id,
                                              first_date=first_date, weeks=weeks, drug=drug)
        return calendar

    def print_dosing_calendar(self, subject_id: str, first_date: date | None, weeks: int,
                              drug: str | None, *, patient_version: int | None
                              ) -> CalendarPrintout:
        printout: CalendarPrintout = self._call(
            "calendar_print", subject_id=subject_id, first_date=first_date, weeks=weeks,
            drug=drug, patient_version=patient_version)
        return printout

    def printed_calendars(self, subject_id: str) -> list[PrintedCalendar]:
        return list(self._call("calendar_printed", subject_id=subject_id))

    def enter_returned_calendar(self, subject_id: str, first_date: date, weeks: int,
                                drug: str | None, days: list[ReturnedDay], *,
                                close_ongoing: bool, patient_version: int | None
                                ) -> ReturnedCalendarSaved:
        saved: ReturnedCalendarSaved = self._call(
            "calendar_returned", subject_id=subject_id, first_date=first_date, weeks=weeks,
            drug=drug, days=[(d.date, d.taken_mg, d.reason) for d in days],
            close_ongoing=close_ongoing, patient_version=patient_version)
        return saved

    def read_audit(self, wanted: AuditFilter, limit: int | None, *, with_head: bool = False
                   ) -> tuple[AuditHeadMark | None, list[AuditRow]]:
        head, rows = self._call(
            "audit_read", subject_id=wanted.subject_id, username=wanted.username,
            entity=wanted.entity,
            actions=None if wanted.actions is None else list(wanted.actions),
            since=wanted.since, until=wanted.until, limit=limit, with_head=with_head)
        return head, list(rows)


#: How long a patient read with a change's answer stands for a reload (the window reloads
#: at once after its own change; later, it asks the server again).
FRESH_SECONDS = 5.0


def _still_fresh(read_at: float) -> bool:
    return time.monotonic() - read_at < FRESH_SECONDS


def _text_fields(fields: dict[str, object]) -> dict[str, str | None]:
    """A form's fields as the server takes them: text, or None for an empty choice."""
    return {k: None if v is None else str(v) for k, v in fields.items()}
