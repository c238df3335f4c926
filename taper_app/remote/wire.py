"""The wire format of the application server: results and arguments as JSON, explicitly.

Only plain values and an allow-list of result types cross the wire. Each non-JSON value
is tagged (``{"$date": "2026-07-02"}``), so a date never arrives as a string, a Decimal
never as a float, and an unknown type is an error on both sides rather than a guess.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..domain.schedule import ScheduleStep
from ..results import (
    AmendmentView,
    AuditHeadMark,
    CalendarLine,
    DoseRecordView,
    DosingCalendar,
    PatientRecord,
    QueryMessage,
    QueryView,
    SdvStatus,
    SignatureState,
    Triage,
)
from ..services.accounts import UserView
from ..services.audit import ChainCheck
from ..services.audit_query import AuditChoices, AuditRow
from ..services.auth import Actor
from ..services.calendar import CalendarPrintout, PrintedCalendar, ReturnedCalendarSaved
from ..services.gateway import ListedPatient, PatientParts, StudyText
from ..services.imports import ImportResult
from ..services.patients import SavedDose
from ..services.reporting import Report
from ..services.signatures import SignatureView


@dataclasses.dataclass(frozen=True)
class ExportedFiles:
    """An export made on the server: each file's name (no folder) and bytes, in the order
    the export writes them; for SDTM also its counts (else 0)."""

    files: tuple[tuple[str, bytes], ...]
    cm_rows: int = 0
    voided_rows: int = 0
    subjects: int = 0


#: The result types that may cross the wire, by name (the same on both sides).
RESULT_TYPES: Mapping[str, type] = {t.__name__: t for t in (
    Actor, AmendmentView, AuditChoices, AuditHeadMark, AuditRow, CalendarLine,
    CalendarPrintout, ChainCheck, DosingCalendar, ExportedFiles, ImportResult, ListedPatient,
    PatientParts, PatientRecord, PrintedCalendar, ReturnedCalendarSaved,
    QueryMessage, QueryView, Report, SavedDose, ScheduleStep, SdvStatus, SignatureState,
    SignatureView, StudyText, Triage, UserView)}

#: Result types that are named tuples, sent as their values in order (a patient's record
#: holds hundreds of dose records: their field names once per record would double it).
ROW_TYPES: Mapping[str, type] = {t.__name__: t for t in (DoseRecordView,)}


class WireError(ValueError):
    """A value that is not in the wire format (a malformed request or a bug)."""


def encode(value: Any) -> Any:
    """A JSON-ready form of ``value``; refuses anything not in the format."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):  # before date: a datetime is a date
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, tuple):
        if type(value) is not tuple:
            name = type(value).__name__
            if ROW_TYPES.get(name) is not type(value):
                raise WireError(f"{name} is not a result type of the server")
            return {"$row": name, "values": [encode(v) for v in value]}
        return {"$tuple": [encode(v) for v in value]}
    if isinstance(value, frozenset):
        return {"$frozenset": sorted(encode(v) for v in value)}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) and not k.startswith("$") for k in value):
            raise WireError("a mapping's keys must be names")
        return {k: encode(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if RESULT_TYPES.get(name) is not type(value):
            raise WireError(f"{name} is not a result type of the server")
        return {"$type": name, "fields": {f.name: encode(getattr(value, f.name))
                                          for f in dataclasses.fields(value)}}
    raise WireError(f"a {type(value).__name__} cannot cross the wire")


def decode(value: Any) -> Any:
    """The value ``encode`` made; a malformed one raises `WireError`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        raise WireError(f"unexpected {type(value).__name__}")
    if not any(isinstance(k, str) and k.startswith("$") for k in value):
        return {str(k): decode(v) for k, v in value.items()}
    if len(value) == 2 and "$type" in value and "fields" in value:
        return _decode_record(value["$type"], value["fields"])
    if len(value) == 2 and "$row" in value and "values" in value:
        return _decode_row(value["$row"], value["values"])
    if len(value) != 1:
        raise WireError("a tagged value has exactly one tag")
    ((tag, inner),) = value.items()
    try:
        if tag == "$bytes" and isinstance(inner, str):
            return base64.b64decode(inner.encode("ascii"), validate=True)
        if tag == "$decimal" and isinstance(inner, str):
            return Decimal(inner)
        if tag == "$datetime" and isinstance(inner, str):
            return datetime.fromisoformat(inner)
        if tag == "$date" and isinstance(inner, str):
            return date.fromisoformat(inner)
        if tag == "$tuple" and isinstance(inner, list):
            return tuple(decode(v) for v in inner)
        if tag == "$frozenset" and isinstance(inner, list):
            return frozenset(decode(v) for v in inner)
    except (ValueError, InvalidOperation, TypeError, binascii.Error) as exc:
        raise WireError(f"{tag}: {exc}") from None
    raise WireError(f"unknown tag {tag!r}")


def _decode_record(name: Any, fields: Any) -> Any:
    kind = RESULT_TYPES.get(name) if isinstance(name, str) else None
    if kind is None or not isinstance(fields, dict):
        raise WireError(f"{name!r} is not a result type of the server")
    expected = {f.name for f in dataclasses.fields(kind)}
    if set(fields) != expected:
        raise WireError(f"{name}: fields {sorted(fields)} are not {sorted(expected)}")
    return kind(**{k: decode(v) for k, v in fields.items()})


def _decode_row(name: Any, values: Any) -> Any:
    kind = ROW_TYPES.get(name) if isinstance(name, str) else None
    if kind is None or not isinstance(values, list):
        raise WireError(f"{name!r} is not a result type of the server")
    if len(values) != len(kind._fields):  # type: ignore[attr-defined]
        raise WireError(f"{name}: {len(values)} values, not {len(kind._fields)}"  # type: ignore[attr-defined]
                        )
    return kind(*(decode(v) for v in values))
