"""The window's one door onto a study: each thing the window reads or does, as one method.

Two kinds of door share this shape (:class:`StudyGateway`): :class:`LocalStudy`, a
ServiceContext on a database file or URL that calls the services exactly as the window
always has, and the application server's client (``remote/gateway.py``), whose every
method is one of the server's explicit use cases. Where the server does the same work it
calls the same :class:`LocalStudy` method (server/usecases.py), so a window through the
server shows what a window on the file shows because it is the same code.

Size: the list of every patient (:meth:`LocalStudy.listed_patients`) carries each
patient's figures and triage but none of their dose records; one patient's whole record
(:meth:`LocalStudy.patient_parts`) comes when the window switches to them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from ..domain.protocol import parse_protocol, template_from_data
from ..results import (
    AuditHeadMark,
    DosingCalendar,
    PatientAnalysis,
    PatientRecord,
    QueryView,
    SdvStatus,
    StudyInfo,
    Triage,
)
from ..storage.engine import Database
from ..storage.errors import DatabaseError
from ..storage.models import DoseRecordRow, Patient, ScheduleTemplate, Study
from ..storage.uow import UnitOfWork
from . import accounts, audit_query, calendar, corrections, queries, verification
from . import patients as patient_service
from .accounts import UserView, change_password
from .audit import head_of
from .audit_query import AuditChoices, AuditFilter, AuditRow
from .auth import Actor
from .calendar import CalendarPrintout, PrintedCalendar, ReturnedCalendarSaved, ReturnedDay
from .context import ServiceContext
from .errors import NotFound, PermissionDenied, ServiceError
from .exports import export_csv
from .figures import analyse, analyse_all, analyse_patient, summary_dict
from .patients import SavedDose
from .queries import unresolved_counts
from .reporting import Progress, Report, cohort_report, patient_report
from .sdtm import export_sdtm
from .settings import load_settings, set_setting
from .signatures import (
    SignatureView,
    missing_signatures,
    sign_record,
    sign_records,
    signatures_a_change_breaks,
    signatures_for,
)
from .study import add_user, authenticate, load_study, reauthenticate, record_sign_out
from .triage import triage_all
from .verification import changed_since, marks_by_patient, sdv_marks, verified_through

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ what crosses the door


@dataclass(frozen=True)
class StudyText:
    """The study as stored: the protocol's TOML and each template's stored JSON, from
    which :func:`study_from_text` rebuilds the same StudyInfo ``load_study`` makes."""

    name: str
    protocol_version: str
    protocol_toml: str
    templates: tuple[str, ...]


def study_from_text(text: StudyText) -> StudyInfo:
    templates = [template_from_data(json.loads(t)) for t in text.templates]
    return StudyInfo(text.name, text.protocol_version,
                     parse_protocol(text.protocol_toml, "stored protocol"),
                     {t.id: t for t in templates})


@dataclass(frozen=True)
class ListedPatient:
    """One patient as the list shows them: the summary figures (``summary --json``'s
    object), the triage, the queries and the verification, without the dose records."""

    subject_id: str
    site: str
    version: int
    summary: dict[str, Any]
    triage: Triage
    queries: tuple[int, int]
    verified_through: date | None
    changed_since_verification: int
    verified_records: int


@dataclass(frozen=True)
class PatientParts:
    """One patient's whole stored record with what the server computed of it: the summary
    figures and triage (shown as they are), the verification marks and the queries. The
    charts' daily curves are drawn from the record (``figures.analyse``, pure)."""

    record: PatientRecord
    summary: dict[str, Any]
    triage: Triage
    sdv: tuple[SdvStatus, ...]
    queries: tuple[int, int]


@dataclass(frozen=True)
class PatientRow:
    """One patient as of one date: the stored record, its analysis, its summary figures
    and its triage (what needs attention). A row from the list alone (``listed``) has no
    analysis yet: its record comes when the window switches to the patient."""

    analysis: PatientAnalysis | None
    summary: dict[str, Any]
    triage: Triage
    #: The patient's source-data verification marks, by dose record id (services.verification).
    sdv: dict[int, SdvStatus] = field(default_factory=dict)
    #: The patient's queries not closed yet: (open, answered) (services.queries).
    queries: tuple[int, int] = (0, 0)
    listed: ListedPatient | None = None

    @classmethod
    def from_analysis(cls, analysis: PatientAnalysis, triage: Triage,
                      sdv: dict[int, SdvStatus] | None = None,
                      queries: tuple[int, int] = (0, 0)) -> PatientRow:
        return cls(analysis, summary_dict(analysis.record, analysis.figures), triage,
                   sdv or {}, queries)

    @classmethod
    def from_listing(cls, listed: ListedPatient) -> PatientRow:
        return cls(None, listed.summary, listed.triage, {}, listed.queries, listed)

    @classmethod
    def from_parts(cls, study: StudyInfo, parts: PatientParts, as_of: date) -> PatientRow:
        """The row of a patient's parts: the analysis (curves, gaps) drawn from the record,
        the figures and triage as the parts give them."""
        return cls(analyse(study, parts.record, as_of), parts.summary, parts.triage,
                   {m.record_id: m for m in parts.sdv}, parts.queries)

    def parts(self) -> PatientParts:
        record = self.record
        return PatientParts(replace(record, doses=tuple(record.doses)), self.summary,
                            self.triage, tuple(self.sdv.values()), self.queries)

    def listing(self) -> ListedPatient:
        if self.listed is not None:
            return self.listed
        return ListedPatient(self.subject_id, self.site, self.version, self.summary,
                             self.triage, self.queries, self.verified_through,
                             self.changed_since_verification, self.verified_records)

    @property
    def complete(self) -> bool:
        """Whether the row holds the patient's whole record (else: the list's figures)."""
        return self.analysis is not None

    @property
    def record(self) -> PatientRecord:
        if self.analysis is None:
            raise LookupError(f"{self.subject_id}: the record is not loaded yet")
        return self.analysis.record

    @property
    def subject_id(self) -> str:
        return self.analysis.record.subject_id if self.analysis else self._listed.subject_id

    @property
    def site(self) -> str:
        return self.analysis.record.site if self.analysis else self._listed.site

    @property
    def version(self) -> int:
        return self.analysis.record.version if self.analysis else self._listed.version

    @property
    def _listed(self) -> ListedPatient:
        assert self.listed is not None, "a row holds an analysis or a listing"
        return self.listed

    @property
    def unresolved_queries(self) -> int:
        """Queries opened and not closed yet (open, or answered and waiting to be closed)."""
        return sum(self.queries)

    @property
    def verified_through(self) -> date | None:
        """The latest date the records were verified through (marks still holding)."""
        return verified_through(self.sdv) if self.listed is None else \
            self.listed.verified_through

    @property
    def changed_since_verification(self) -> int:
        return changed_since(self.sdv) if self.listed is None else \
            self.listed.changed_since_verification

    @property
    def verified_records(self) -> int:
        """How many dose records carry a verification mark (holding or not)."""
        return len(self.sdv) if self.listed is None else self.listed.verified_records

    @property
    def status(self) -> str:
        """The badge: the most urgent triage flag, or on_schedule (docs/figures.md)."""
        return self.triage.badge


def load_patient_rows(db: Database, study: StudyInfo, as_of: date,
                      sites: frozenset[str] | None = None) -> list[PatientRow]:
    """Every patient's row (of the user's sites), in subject order: the list's load."""
    analyses = analyse_all(db, study, as_of, sites)
    marks = marks_by_patient(db)
    unresolved = unresolved_counts(db)
    return [PatientRow.from_analysis(a, t, marks.get(a.record.id),
                                     unresolved.get(a.record.subject_id, (0, 0)))
            for a, t in zip(analyses, triage_all(db, analyses), strict=True)]


def load_patient_row(db: Database, study: StudyInfo, subject_id: str, as_of: date,
                     sites: frozenset[str] | None = None) -> PatientRow:
    analysis = analyse_patient(db, study, subject_id, as_of, sites)
    [triage] = triage_all(db, [analysis])
    return PatientRow.from_analysis(analysis, triage, sdv_marks(db, subject_id),
                                    unresolved_counts(db, subject_id).get(subject_id, (0, 0)))


# ------------------------------------------------------------------ the door's shape


class StudyGateway(Protocol):
    """What the window does with a study, wherever the services run."""

    actor: Actor

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def today(self) -> Callable[[], date]: ...

    @property
    def shown_location(self) -> str: ...

    @property
    def is_local(self) -> bool: ...

    def load_study(self) -> StudyInfo: ...

    def patient_rows(self, study: StudyInfo, as_of: date) -> list[PatientRow]: ...

    def patient_row(self, study: StudyInfo, subject_id: str, as_of: date) -> PatientRow: ...

    def whole_patient_rows(self, study: StudyInfo, as_of: date) -> list[PatientRow]: ...

    def signatures(self, subject_id: str) -> tuple[list[SignatureView], list[str]]: ...

    def signatures_a_change_breaks(self, subject_id: str, first_changed: date | None
                                   ) -> list[SignatureView]: ...

    def record_dose(self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
                    close_ongoing: bool, patient_version: int | None) -> SavedDose: ...

    def record_dose_unless_breaking(
            self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
            close_ongoing: bool, patient_version: int | None, first_changed: date | None,
            confirmed: bool) -> tuple[list[SignatureView], SavedDose | None]: ...

    def correct_dose(self, study: StudyInfo, record_id: int, reason: str,
                     fields: dict[str, object], *, expected_version: int | None,
                     patient_version: int | None) -> int: ...

    def void_dose(self, record_id: int, reason: str, *, expected_version: int | None,
                  patient_version: int | None) -> None: ...

    def sign_record(self, subject_id: str, through: date, meaning: str, password: str, *,
                    patient_version: int | None) -> SignatureView: ...

    def sign_records(self, patients: Sequence[tuple[str, int | None]], through: date,
                     meaning: str, password: str) -> list[SignatureView]: ...

    def settings(self) -> dict[str, int]: ...

    def patient_report(self, study: StudyInfo, subject_id: str, as_of: date) -> Report: ...

    def cohort_report(self, study: StudyInfo, as_of: date, progress: Progress,
                      cancelled: Callable[[], bool]) -> Report: ...

    def export_data(self, study: StudyInfo, kind: str, folder: Path, as_of: date
                    ) -> list[Path]: ...

    def reauthenticate(self, password: str) -> Actor: ...

    def sign_out(self, how: str) -> None: ...

    # the other forms: enrollment, schedule, verification, queries, corrections, accounts

    def enroll_patient(self, study: StudyInfo, fields: dict[str, object]) -> str: ...

    def amend_schedule(self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
                       patient_version: int | None) -> int: ...

    def correct_enrollment(self, study: StudyInfo, subject_id: str, fields: dict[str, object],
                           password: str, *, patient_version: int | None) -> list[str]: ...

    def withdraw_amendment(self, study: StudyInfo, subject_id: str, seq: int, reason: str,
                           password: str, *, patient_version: int | None) -> str: ...

    def verify_source(self, subject_id: str, through: date | None,
                      record_id: int | None) -> int: ...

    def open_query(self, subject_id: str, text: str, record_id: int | None) -> int: ...

    def answer_query(self, query_id: int, text: str) -> None: ...

    def close_query(self, query_id: int, text: str | None) -> None: ...

    def reask_query(self, query_id: int, text: str) -> None: ...

    def list_queries(self, subject_id: str | None, state: str | None) -> list[QueryView]: ...

    def list_users(self) -> list[UserView]: ...

    def add_user(self, username: str, role: str, full_name: str, password: str,
                 sites: list[str] | None) -> None: ...

    def reset_password(self, username: str, password: str, reason: str) -> None: ...

    def change_role(self, username: str, role: str, reason: str) -> None: ...

    def set_user_sites(self, username: str, sites: list[str], reason: str) -> None: ...

    def deactivate_user(self, username: str, reason: str) -> None: ...

    def set_setting(self, key: str, value: str, reason: str) -> None: ...

    def audit_choices(self) -> AuditChoices: ...

    def dosing_calendar(self, subject_id: str, first_date: date | None, weeks: int,
                        drug: str | None) -> DosingCalendar: ...

    def print_dosing_calendar(self, subject_id: str, first_date: date | None, weeks: int,
                              drug: str | None, *, patient_version: int | None
                              ) -> CalendarPrintout: ...

    def printed_calendars(self, subject_id: str) -> list[PrintedCalendar]: ...

    def enter_returned_calendar(self, subject_id: str, first_date: date, weeks: int,
                                drug: str | None, days: list[ReturnedDay], *,
                                close_ongoing: bool, patient_version: int | None
                                ) -> ReturnedCalendarSaved: ...

    def read_audit(self, wanted: AuditFilter, limit: int | None, *, with_head: bool = False
                   ) -> tuple[AuditHeadMark | None, list[AuditRow]]: ...


# ------------------------------------------------------------------ the local door


@dataclass
class LocalStudy(ServiceContext):
    """The window's door on a database it opens itself: the services, called here.

    It is a ServiceContext, so a dialog not yet moved onto the door still calls its
    service with it; the application server makes one per call for the session's user."""

    @property
    def shown_location(self) -> str:
        return self.db.shown_location

    @property
    def is_local(self) -> bool:
        return True

    def load_study(self) -> StudyInfo:
        return load_study(self.db)

    def study_text(self) -> StudyText:
        with UnitOfWork(self.db, write=False) as uow:
            study = uow.session.get(Study, 1)
            if study is None:
                raise ServiceError("this database holds no study; create one with "
                                   "'taper-app init'")
            templates = uow.session.scalars(select(ScheduleTemplate.definition_json).order_by(
                ScheduleTemplate.id)).all()
            return StudyText(study.name, study.protocol_version, study.protocol_toml,
                             tuple(templates))

    def patient_rows(self, study: StudyInfo, as_of: date) -> list[PatientRow]:
        return load_patient_rows(self.db, study, as_of, self.actor.sites)

    def whole_patient_rows(self, study: StudyInfo, as_of: date) -> list[PatientRow]:
        """Every patient with their whole record (the dashboard's chart draws them all)."""
        return self.patient_rows(study, as_of)

    def every_patients_parts(self, study: StudyInfo, as_of: date) -> list[PatientParts]:
        return [row.parts() for row in self.patient_rows(study, as_of)]

    def listed_patients(self, study: StudyInfo, as_of: date) -> list[ListedPatient]:
        return [row.listing() for row in self.patient_rows(study, as_of)]

    def patient_row(self, study: StudyInfo, subject_id: str, as_of: date) -> PatientRow:
        return load_patient_row(self.db, study, subject_id, as_of, self.actor.sites)

    def patient_parts(self, study: StudyInfo, subject_id: str, as_of: date) -> PatientParts:
        return self.patient_row(study, subject_id, as_of).parts()

    def after_write(self, study: StudyInfo, subject_id: str, as_of: date
                    ) -> tuple[PatientParts, tuple[SignatureView, ...], tuple[str, ...]]:
        """The patient as a reload right after a change reads them: their parts and their
        signatures (what the window shows next), for the server to send with the change's
        answer instead of on two more round trips."""
        views, missing = self.signatures(subject_id)
        return self.patient_parts(study, subject_id, as_of), tuple(views), tuple(missing)

    def subject_of_record(self, record_id: int) -> str:
        with UnitOfWork(self.db, write=False) as uow:
            subject = uow.session.scalars(select(Patient.subject_id).join(
                DoseRecordRow, DoseRecordRow.patient_id == Patient.id).where(
                DoseRecordRow.id == record_id)).first()
        if subject is None:
            raise NotFound(f"no dose record {record_id}")
        return subject

    def _require_site(self, subject_id: str) -> None:
        """A patient of another site is refused as the figures refuse it."""
        if self.actor.sites is None:
            return
        with UnitOfWork(self.db, write=False) as uow:
            site = uow.session.scalars(select(Patient.site_code).where(
                Patient.subject_id == subject_id)).first()
        if site is None:
            raise NotFound(f"no patient {subject_id!r}")
        if site not in self.actor.sites:
            raise PermissionDenied(f"{subject_id} is at a site you do not work for")

    def signatures(self, subject_id: str) -> tuple[list[SignatureView], list[str]]:
        self._require_site(subject_id)
        return signatures_for(self.db, subject_id), missing_signatures(self.db, subject_id)

    def signatures_a_change_breaks(self, subject_id: str, first_changed: date | None
                                   ) -> list[SignatureView]:
        self._require_site(subject_id)
        return signatures_a_change_breaks(self.db, subject_id, first_changed)

    def record_dose(self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
                    close_ongoing: bool, patient_version: int | None) -> SavedDose:
        return patient_service.record_dose(self, study, subject_id, fields,
                                           close_ongoing=close_ongoing,
                                           patient_version=patient_version)

    def record_dose_unless_breaking(
            self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
            close_ongoing: bool, patient_version: int | None, first_changed: date | None,
            confirmed: bool) -> tuple[list[SignatureView], SavedDose | None]:
        """The dose form's save: unless ``confirmed``, a dose inside a signed period
        (from ``first_changed``) is not recorded, and the signatures it would break come
        back for the form to ask about (then it saves again, confirmed); else it is
        recorded. Through the server that is one round trip where the check and the save
        were two."""
        if not confirmed:
            try:
                broken = self.signatures_a_change_breaks(subject_id, first_changed)
            except (DatabaseError, ServiceError) as exc:
                # The save itself meets the same trouble and says so (nothing saved).
                log.warning("signatures of %s not checked before saving: %s", subject_id, exc)
                broken = []
            if broken:
                return broken, None
        return [], self.record_dose(study, subject_id, fields, close_ongoing=close_ongoing,
                                    patient_version=patient_version)

    def correct_dose(self, study: StudyInfo, record_id: int, reason: str,
                     fields: dict[str, object], *, expected_version: int | None,
                     patient_version: int | None) -> int:
        return patient_service.correct_dose(self, study, record_id, reason, fields,
                                            expected_version=expected_version,
                                            patient_version=patient_version)

    def void_dose(self, record_id: int, reason: str, *, expected_version: int | None,
                  patient_version: int | None) -> None:
        patient_service.void_dose(self, record_id, reason, expected_version=expected_version,
                                  patient_version=patient_version)

    def sign_record(self, subject_id: str, through: date, meaning: str, password: str, *,
                    patient_version: int | None) -> SignatureView:
        return sign_record(self, subject_id, through, meaning, password,
                           patient_version=patient_version)

    def sign_records(self, patients: Sequence[tuple[str, int | None]], through: date,
                     meaning: str, password: str) -> list[SignatureView]:
        return sign_records(self, patients, through, meaning, password)

    def settings(self) -> dict[str, int]:
        return load_settings(self.db)

    def patient_report(self, study: StudyInfo, subject_id: str, as_of: date) -> Report:
        return patient_report(self.db, study, subject_id, as_of, sites=self.actor.sites,
                              clock=self.clock)

    def cohort_report(self, study: StudyInfo, as_of: date, progress: Progress,
                      cancelled: Callable[[], bool]) -> Report:
        return cohort_report(self.db, study, as_of, sites=self.actor.sites, clock=self.clock,
                             progress=progress, cancelled=cancelled)

    def export_data(self, study: StudyInfo, kind: str, folder: Path, as_of: date
                    ) -> list[Path]:
        """``taper-app export --format KIND`` into ``folder``: the files written."""
        if kind == "sdtm":
            return export_sdtm(self.db, study, folder, sites=self.actor.sites,
                               clock=self.clock).paths
        return export_csv(self.db, study, folder, as_of, self.actor.sites)

    def reauthenticate(self, password: str) -> Actor:
        return reauthenticate(self.db, self.actor.username, password, self.clock)

    def sign_out(self, how: str) -> None:
        record_sign_out(self.db, self.actor.username, how, self.clock)

    # ------------------------------------------------------------ the other forms

    def enroll_patient(self, study: StudyInfo, fields: dict[str, object]) -> str:
        return patient_service.enroll_patient(self, study, fields)

    def amend_schedule(self, study: StudyInfo, subject_id: str, fields: dict[str, object], *,
                       patient_version: int | None) -> int:
        return patient_service.amend_patient_schedule(self, study, subject_id, fields,
                                                      patient_version=patient_version)

    def correct_enrollment(self, study: StudyInfo, subject_id: str, fields: dict[str, object],
                           password: str, *, patient_version: int | None) -> list[str]:
        return corrections.correct_enrollment(self, study, subject_id, fields, password,
                                              patient_version=patient_version)

    def withdraw_amendment(self, study: StudyInfo, subject_id: str, seq: int, reason: str,
                           password: str, *, patient_version: int | None) -> str:
        return corrections.withdraw_amendment(self, study, subject_id, seq, reason, password,
                                              patient_version=patient_version)

    def verify_source(self, subject_id: str, through: date | None,
                      record_id: int | None) -> int:
        return verification.verify_source(self, subject_id, through, record_id)

    def open_query(self, subject_id: str, text: str, record_id: int | None) -> int:
        return queries.open_query(self, subject_id, text, record_id)

    def answer_query(self, query_id: int, text: str) -> None:
        queries.answer_query(self, query_id, text)

    def close_query(self, query_id: int, text: str | None) -> None:
        queries.close_query(self, query_id, text)

    def reask_query(self, query_id: int, text: str) -> None:
        queries.reask_query(self, query_id, text)

    def list_queries(self, subject_id: str | None, state: str | None) -> list[QueryView]:
        return queries.list_queries(self, subject_id, state)

    def list_users(self) -> list[UserView]:
        return accounts.list_users(self.db)

    def add_user(self, username: str, role: str, full_name: str, password: str,
                 sites: list[str] | None) -> None:
        add_user(self, username, role, full_name, password, sites=sites)

    def reset_password(self, username: str, password: str, reason: str) -> None:
        accounts.reset_password(self, username, password, reason)

    def change_role(self, username: str, role: str, reason: str) -> None:
        accounts.change_role(self, username, role, reason)

    def set_user_sites(self, username: str, sites: list[str], reason: str) -> None:
        accounts.set_user_sites(self, username, sites, reason)

    def deactivate_user(self, username: str, reason: str) -> None:
        accounts.deactivate_user(self, username, reason)

    def set_setting(self, key: str, value: str, reason: str) -> None:
        set_setting(self, key, value, reason)

    def audit_choices(self) -> AuditChoices:
        return audit_query.audit_choices(self)

    def dosing_calendar(self, subject_id: str, first_date: date | None, weeks: int,
                        drug: str | None) -> DosingCalendar:
        return calendar.dosing_calendar(self, subject_id, first_date, weeks, drug)

    def print_dosing_calendar(self, subject_id: str, first_date: date | None, weeks: int,
                              drug: str | None, *, patient_version: int | None
                              ) -> CalendarPrintout:
        return calendar.print_dosing_calendar(self, subject_id, first_date, weeks, drug,
                                              patient_version=patient_version)

    def printed_calendars(self, subject_id: str) -> list[PrintedCalendar]:
        return calendar.printed_calendars(self, subject_id)

    def enter_returned_calendar(self, subject_id: str, first_date: date, weeks: int,
                                drug: str | None, days: list[ReturnedDay], *,
                                close_ongoing: bool, patient_version: int | None
                                ) -> ReturnedCalendarSaved:
        return calendar.enter_returned_calendar(self, subject_id, first_date, weeks, drug,
                                                days, close_ongoing=close_ongoing,
                                                patient_version=patient_version)

    def read_audit(self, wanted: AuditFilter, limit: int | None, *, with_head: bool = False
                   ) -> tuple[AuditHeadMark | None, list[AuditRow]]:
        """The trail's rows the filter and the user's sites allow (the newest ``limit``);
        ``with_head``: the trail's head too, read first, so the trail holds it."""
        head = head_of(self.db) if with_head else None
        return head, audit_query.read_audit(self, wanted, limit=limit)


class LocalConnection:
    """Signing in on a database the window opened itself (the sign-in's door)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @property
    def shown_location(self) -> str:
        return self.db.shown_location

    @property
    def is_local(self) -> bool:
        return True

    def authenticate(self, username: str, password: str,
                     clock: Callable[[], datetime]) -> Actor | None:
        """The signed-in user (with ``must_change_password`` when they still have the
        first password: the window then asks for their own at once)."""
        return authenticate(self.db, username, password, clock)

    def choose_first_password(self, pending: Actor | None, username: str, old: str, new: str,
                              clock: Callable[[], datetime]) -> Actor:
        change_password(self.db, username, old, new, clock)
        assert pending is not None, "on a file the sign-in came first"
        return replace(pending, must_change_password=False)

    def open(self, actor: Actor, clock: Callable[[], datetime],
             today: Callable[[], date]) -> LocalStudy:
        return LocalStudy(self.db, actor, clock, today)

    def close(self) -> None:
        """The database is the window's to close (ui/app.py disposes of it)."""


class Connection(Protocol):
    """Where the window signs in: a database it opened, or the application server."""

    @property
    def shown_location(self) -> str: ...

    @property
    def is_local(self) -> bool: ...

    def authenticate(self, username: str, password: str,
                     clock: Callable[[], datetime]) -> Actor | None: ...

    def choose_first_password(self, pending: Actor | None, username: str, old: str, new: str,
                              clock: Callable[[], datetime]) -> Actor: ...

    def open(self, actor: Actor, clock: Callable[[], datetime],
             today: Callable[[], date]) -> StudyGateway: ...

    def close(self) -> None: ...


def local_study(ctx: ServiceContext | StudyGateway) -> StudyGateway:
    """The door of ``ctx``: itself if it is one, else a LocalStudy on its database."""
    if isinstance(ctx, ServiceContext) and not isinstance(ctx, LocalStudy):
        return LocalStudy(ctx.db, ctx.actor, ctx.clock, ctx.today)
    return ctx
