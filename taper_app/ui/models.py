"""Table models: real ``QAbstractTableModel`` s with named columns, a sort role that sorts
by value (not by text), a filter role, and a role that returns the row object."""

from __future__ import annotations

import math
import operator
from datetime import date, datetime
from decimal import Decimal
from functools import cmp_to_key
from typing import Any

from ..domain.schedule import ScheduleStep
from ..results import STATUSES, Triage
from ..services.records import AmendmentView
from .formatting import (
    DASH,
    FLAG_TEXT,
    SIGNATURE_LABELS,
    STATUS_ORDER,
    TARGET_LABELS,
    flags_label,
    iso,
    mg,
    pct,
    status_colour,
    status_label,
    step_date,
)
from .qt import (
    QAbstractTableModel,
    QColor,
    QFont,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from .rows import HistoryRow, PatientRow

#: The row object of an index (a plain dataclass from :mod:`.rows` or the services).
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
#: The value an index sorts by: numbers as numbers, dates as dates, None last.
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
#: Text a type-to-filter box matches against (the same for every column of a row).
FILTER_ROLE = Qt.ItemDataRole.UserRole + 3

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_GREY = QColor("#757575")

Index = QModelIndex | QPersistentModelIndex


class RowTableModel(QAbstractTableModel):
    """A list of plain row objects shown through named columns."""

    #: (title, tooltip) per column, in column order.
    HEADERS: tuple[tuple[str, str], ...] = ()
    #: Columns holding numbers (right-aligned).
    NUMERIC: frozenset[int] = frozenset()
    #: A typical longest value per column, to size columns in the view's own font.
    SAMPLES: dict[int, str] = {}

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []
        #: Bumped before every change is announced, so that a proxy's cached sort order
        #: (ValueSortProxy) is never used for rows that have changed.
        self.generation = 0
        #: Set by :meth:`sort` (a view with sorting enabled and no proxy calls it): new rows
        #: are put in this order as they arrive.
        self._sorted_by: tuple[int, Qt.SortOrder] | None = None

    # -- what a subclass says about each cell
    def display(self, row: Any, column: int) -> str:
        raise NotImplementedError

    def sort_value(self, row: Any, column: int) -> Any:
        return self.display(row, column)

    def filter_text(self, row: Any) -> str:
        return " ".join(self.display(row, c) for c in range(len(self.HEADERS)))

    def font(self, row: Any, column: int) -> QFont | None:
        return None

    def foreground(self, row: Any, column: int) -> QColor | None:
        return None

    def background(self, row: Any, column: int) -> QColor | None:
        return None

    def tooltip(self, row: Any, column: int) -> str | None:
        return None

    # -- the Qt model
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section][0]
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.HEADERS[section][1]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if section in self.NUMERIC else _LEFT
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        row, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.display(row, column)
        if role == SORT_ROLE:
            return self.sort_value(row, column)
        if role == ROW_ROLE:
            return row
        if role == FILTER_ROLE:
            return self.filter_text(row)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _RIGHT if column in self.NUMERIC else _LEFT
        if role == Qt.ItemDataRole.FontRole:
            return self.font(row, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self.foreground(row, column)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self.background(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(row, column)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows themselves by :data:`SORT_ROLE` values, as :class:`ValueSortProxy`
        orders them (equal values keep their order), for a table that needs no filter: one
        Python sort, where a proxy compares row by row through Qt (a thousand-record
        history is about ten thousand comparisons, at every patient switch)."""
        self._sorted_by = (column, order)
        if not self._rows:
            return
        self.layoutAboutToBeChanged.emit()
        order_of = self._sorted_order(self._rows)
        place = {old: new for new, old in enumerate(order_of)}
        self._rows = [self._rows[i] for i in order_of]
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent, [self.index(place[i.row()], i.column()) for i in persistent])
        self.generation += 1
        self.layoutChanged.emit()

    def _sorted_order(self, rows: list[Any]) -> list[int]:
        if self._sorted_by is None:
            return list(range(len(rows)))
        column, order = self._sorted_by
        ranks = sort_ranks([self.sort_value(r, column) for r in rows])
        ascending = sorted(range(len(rows)), key=ranks.__getitem__)
        # Descending is ascending read backwards, equal values included, as the proxy does.
        return ascending if order == Qt.SortOrder.AscendingOrder else ascending[::-1]

    # -- rows
    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        rows = list(rows)
        self._rows = [rows[i] for i in self._sorted_order(rows)]
        self.generation += 1
        self.endResetModel()

    def rows(self) -> list[Any]:
        return list(self._rows)

    def row_at(self, row: int) -> Any:
        return self._rows[row]

    #: The row object shown at a view's row (the same call as on :class:`ValueSortProxy`).
    row_object = row_at


class PatientTableModel(RowTableModel):
    """The patient list: one row per patient with the service's figures and triage as of
    today. The Today column lists every flag that applies, most urgent first; the target
    has a column of its own, so meeting it never hides today's state (docs/figures.md)."""

    # Today's state and what follows from it come first: at 1366x768 the list pane shows
    # them without scrolling; the day's figures follow.
    (SUBJECT, STATUS, MISSING, LAST_ENTRY, SIGNATURE, TARGET, VERIFIED, STUDY_DAY, DOSE,
     SCHEDULED, REDUCTION, SITE) = range(12)
    _HEADERS = {
        SUBJECT: ("Subject", "Subject id"),
        STATUS: ("Today", "What needs attention, most urgent first: above or below the "
                          "schedule today, missing days, a pulse today, a deviation without a "
                          "reason, a signature needed"),
        MISSING: ("Gaps", "Missing days: days from Day 1 to today with no dose recorded"),
        LAST_ENTRY: ("Last entry", "Date the last dose record was entered"),
        SIGNATURE: ("Signature", "Signed; never signed; changed since signing; or new data "
                                 "after the signed date"),
        TARGET: ("Target", "Target reduction at the target day: met, not met, not evaluable, "
                           "pending or discontinued"),
        STUDY_DAY: ("Day", "Study day today (Day 1 = first dose of study product)"),
        DOSE: ("Dose", "Actual dose today, mg prednisone-equivalent per day"),
        SCHEDULED: ("Sched.", "Scheduled dose today, mg prednisone-equivalent per day"),
        REDUCTION: ("Red. %", "Reduction from baseline today, %"),
        SITE: ("Site", "Site code"),
        VERIFIED: ("Verified", "Source-data verified through this date (a monitor's mark); "
                               "records changed since are counted"),
    }
    HEADERS = tuple(map(_HEADERS.__getitem__, range(12)))
    NUMERIC = frozenset({STUDY_DAY, DOSE, SCHEDULED, REDUCTION, MISSING})
    SAMPLES = {SUBJECT: "101-0000", SITE: "1010", STUDY_DAY: "9999", DOSE: "12.75",
               SCHEDULED: "12.75", REDUCTION: "100.0",
               STATUS: "missing · no reason · to sign mm",
               MISSING: "999", LAST_ENTRY: "2026-12-31", SIGNATURE: "never signed",
               TARGET: "not evaluable", VERIFIED: "through 2026-12-31"}

    def display(self, row: PatientRow, column: int) -> str:
        s, t = row.summary, row.triage
        if column == self.VERIFIED:
            through, changed = row.verified_through, row.changed_since_verification
            text = f"through {iso(through)}" if through is not None else (
                "records verified" if row.verified_records > changed else "")
            if changed:
                text = f"{text} · {changed} changed" if text else f"{changed} changed"
            return text
        if column == self.SUBJECT:
            return row.subject_id
        if column == self.SITE:
            return str(s["site"])
        if column == self.STUDY_DAY:
            return str(s["as_of_day"])
        if column == self.DOSE:
            return mg(s["actual_mg"])
        if column == self.SCHEDULED:
            return mg(s["scheduled_mg"])
        if column == self.REDUCTION:
            return pct(s["reduction_pct"])
        if column == self.STATUS:
            return flags_label(t.flags) + (" · query" if row.unresolved_queries else "")
        if column == self.MISSING:
            return str(t.missing_days)
        if column == self.LAST_ENTRY:
            return iso(t.last_entry, DASH)
        if column == self.SIGNATURE:
            return SIGNATURE_LABELS.get(t.signature.state, t.signature.state)
        if column == self.TARGET:
            return TARGET_LABELS.get(t.target_status, t.target_status.replace("_", " "))
        return ""

    def sort_value(self, row: PatientRow, column: int) -> Any:
        s, t = row.summary, row.triage
        if column == self.STATUS:  # the most urgent first, then by how many flags
            return (STATUS_ORDER.index(row.status) if row.status in STATUS_ORDER else 99,
                    -len(t.flags))
        values = {
            self.SUBJECT: row.subject_id.casefold(),
            self.SITE: str(s["site"]).casefold(),
            self.STUDY_DAY: s["as_of_day"],
            self.DOSE: s["actual_mg"],
            self.SCHEDULED: s["scheduled_mg"],
            self.REDUCTION: s["reduction_pct"],
            self.MISSING: t.missing_days,
            self.LAST_ENTRY: t.last_entry,
            self.SIGNATURE: tuple(SIGNATURE_LABELS).index(t.signature.state)
            if t.signature.state in SIGNATURE_LABELS else 99,
            self.TARGET: STATUSES.index(t.target_status) if t.target_status in STATUSES
            else 99,
            self.VERIFIED: row.verified_through,
        }
        return values.get(column)

    def filter_text(self, row: PatientRow) -> str:
        """What typing in the find box matches: subject, site, every flag in words (so
        "missing" finds every patient with a gap) and the target and signature states."""
        t = row.triage
        words = [row.subject_id, str(row.summary["site"])]
        words += [f"{status_label(f)} {FLAG_TEXT[f]}" for f in t.flags]
        if not t.flags:
            words.append(status_label("on_schedule"))
        if row.unresolved_queries:
            words.append("query queries open")
        words.append(f"target {TARGET_LABELS.get(t.target_status, t.target_status)}")
        words.append(SIGNATURE_LABELS.get(t.signature.state, t.signature.state))
        return " ".join(words)

    def background(self, row: PatientRow, column: int) -> QColor | None:
        return QColor(status_colour(row.status)) if column == self.STATUS else None

    def foreground(self, row: PatientRow, column: int) -> QColor | None:
        return QColor("#ffffff") if column == self.STATUS else None

    def tooltip(self, row: PatientRow, column: int) -> str | None:
        s, t = row.summary, row.triage
        target = s["target"]
        lines = [f"{row.subject_id}: baseline {mg(s['baseline_mg'])} mg/day"]
        lines += [f"• {FLAG_TEXT[f]}" + self._detail(t, f) for f in t.flags]
        if not t.flags:
            lines.append("• nothing needs attention today")
        if row.unresolved_queries:
            n, (_opened, answered) = row.unresolved_queries, row.queries
            lines.append(f"• {n} open quer{'ies' if n != 1 else 'y'}"
                         + (f", {answered} answered (to close)" if answered else ""))
        lines.append(f"Target at Day {target['day']}: "
                     f"{TARGET_LABELS.get(t.target_status, t.target_status)}")
        lines.append(f"Signature: {t.signature.why}")
        return "\n".join(lines)

    @staticmethod
    def _detail(t: Triage, flag: str) -> str:
        if flag == "missing":
            return f" ({t.missing_days})"
        if flag == "reason":
            return f" ({t.days_needing_reason} day{'s' * (t.days_needing_reason != 1)})"
        return ""

    def row_of_subject(self, subject_id: str) -> int | None:
        for i, row in enumerate(self._rows):
            if row.subject_id == subject_id:
                return i
        return None

    def upsert(self, new: PatientRow) -> int:
        """Replace a patient's row (or insert it in subject order); returns its row number."""
        i = self.row_of_subject(new.subject_id)
        if i is not None:
            self._rows[i] = new
            self.generation += 1
            self.dataChanged.emit(self.index(i, 0), self.index(i, len(self.HEADERS) - 1))
            return i
        i = next((k for k, r in enumerate(self._rows) if r.subject_id > new.subject_id),
                 len(self._rows))
        self.beginInsertRows(QModelIndex(), i, i)
        self._rows.insert(i, new)
        self.generation += 1
        self.endInsertRows()
        return i


class DoseHistoryModel(RowTableModel):
    """A patient's dose records, newest first; voided ones struck through with their reason."""

    START, END, DRUG, DOSE, FREQUENCY, ROUTE, PEQ, SOURCE, SDV, NOTE, ENTERED_BY = range(11)
    HEADERS = (
        ("Start", "First date the record covers"),
        ("End", "Last date (ongoing: up to today)"),
        ("Drug", "Steroid"),
        ("Dose mg", "mg of the drug per administration"),
        ("Freq.", "How often"),
        ("Route", "Route"),
        ("PEQ mg/d", "Prednisone-equivalent mg per day this record adds"),
        ("Source", "Clinic chart or patient diary"),
        ("SDV", "Source-data verified: by whom and when; 'changed' when the record changed "
                "after it was verified"),
        ("Note", "Void reason, reason for differing from the schedule, comment"),
        ("By", "Entered by"),
    )
    NUMERIC = frozenset({DOSE, PEQ})
    SAMPLES = {START: "2026-12-31", END: "2026-12-31", DRUG: "methylprednisolone",
               DOSE: "1000.5", FREQUENCY: "ONCE", ROUTE: "PO", PEQ: "1250.5",
               SOURCE: "clinic", ENTERED_BY: "investigator", SDV: "✓ monitor 2026-12-31"}

    def display(self, row: HistoryRow, column: int) -> str:
        d = row.dose
        if column == self.START:
            return iso(d.start_date)
        if column == self.END:
            if d.frequency == "ONCE":
                return "once"
            return iso(d.end_date, "ongoing")
        if column == self.DRUG:
            return d.drug
        if column == self.DOSE:
            return mg(d.dose_mg)
        if column == self.FREQUENCY:
            return d.frequency
        if column == self.ROUTE:
            return d.route
        if column == self.PEQ:
            return mg(row.peq_mg_per_day)
        if column == self.SOURCE:
            return d.source or ""
        if column == self.NOTE:
            return self.note(row)
        if column == self.ENTERED_BY:
            return d.created_by
        if column == self.SDV:
            mark = row.sdv
            if mark is None:
                return ""
            if mark.changed:
                return "changed since verified"
            return f"✓ {mark.verified_by} {mark.verified_at_utc[:10]}"
        return ""

    def set_rows(self, rows: list[Any]) -> None:
        # A correction names the record it replaces by what it said, never by its number.
        self._doses = {r.dose.id: r.dose for r in rows}
        super().set_rows(rows)

    def note(self, row: HistoryRow) -> str:
        d = row.dose
        parts = []
        if d.voided:
            parts.append(f"VOIDED: {d.void_reason}")
        if d.replaces_id is not None:
            old = getattr(self, "_doses", {}).get(d.replaces_id)
            parts.append(f"corrects {old.drug} {mg(old.dose_mg)} mg from {iso(old.start_date)}"
                         if old is not None else "corrects an earlier record")
        if d.deviation_reason:
            parts.append(f"differs: {d.deviation_reason}")
        if d.comment:
            parts.append(d.comment)
        return "; ".join(parts)

    def sort_value(self, row: HistoryRow, column: int) -> Any:
        d = row.dose
        if column == self.START:
            return (d.start_date, d.id)
        if column == self.END:
            return d.end_date or date.max
        if column == self.DOSE:
            return d.dose_ug
        if column == self.PEQ:
            return row.peq_mg_per_day
        return self.display(row, column).casefold()

    def font(self, row: HistoryRow, column: int) -> QFont | None:
        if row.dose.voided and column != self.NOTE:
            font = QFont()
            font.setStrikeOut(True)
            return font
        return None

    def foreground(self, row: HistoryRow, column: int) -> QColor | None:
        return _GREY if row.dose.voided else None

    def tooltip(self, row: HistoryRow, column: int) -> str | None:
        d = row.dose
        text = f"Entered by {d.created_by} at {d.created_at:%Y-%m-%d %H:%M} UTC"
        if row.sdv is not None:
            text += (f"\nSource-verified by {row.sdv.verified_by} at "
                     f"{row.sdv.verified_at_utc[:16].replace('T', ' ')} UTC"
                     + (" – changed since, so no longer verified" if row.sdv.changed else ""))
        note = self.note(row)
        if note and not d.voided:
            text += f"\n{note}"
        if d.voided:
            text += f"\nVoided by {d.voided_by}"
            if d.voided_at is not None:
                text += f" at {d.voided_at:%Y-%m-%d %H:%M} UTC"
            text += f": {d.void_reason}"
        return text


#: How a step written with another frequency than daily reads in the schedule's table.
STEP_FREQUENCY = {"QOD": "every other day", "QW": "once a week", "BID": "twice a day",
                  "TID": "3 times a day", "QID": "4 times a day"}


class ScheduleStepsModel(RowTableModel):
    """A schedule's steps with their dates: from Day N the scheduled dose is X mg/day."""

    DAY, DATE, DOSE, ORIGIN = range(4)
    HEADERS = (
        ("Day", "From this study day"),
        ("Date", "Calendar date of the study day"),
        ("mg/day", "Scheduled dose, mg prednisone-equivalent per day"),
        ("From", "Generated from the template, or made by an amendment"),
    )
    NUMERIC = frozenset({DAY, DOSE})
    SAMPLES = {DAY: "999", DATE: "2026-12-31", DOSE: "2.5 (5 every other day)",
               ORIGIN: "amendment 9"}

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._day1: date | None = None

    def set_schedule(self, steps: list[ScheduleStep] | tuple[ScheduleStep, ...],
                     day1: date | None) -> None:
        self._day1 = day1
        self.set_rows(list(steps))

    def display(self, row: ScheduleStep, column: int) -> str:
        if column == self.DAY:
            return str(row.day)
        if column == self.DATE:
            return DASH if self._day1 is None else iso(step_date(self._day1, row.day))
        if column == self.DOSE:
            if row.frequency != "QD":  # as written: "5 mg QOD" is 2.5 a day in the figures
                written = STEP_FREQUENCY.get(row.frequency, row.frequency)
                return f"{mg(row.dose_mg)} ({mg(row.per_administration_mg)} {written})"
            return mg(row.dose_mg)
        if column == self.ORIGIN:
            return ("template" if row.amendment_seq is None
                    else f"amendment {row.amendment_seq}")
        return ""

    def sort_value(self, row: ScheduleStep, column: int) -> Any:
        if column in (self.DAY, self.DATE):
            return row.day
        if column == self.DOSE:
            return row.dose_mg
        return row.amendment_seq or 0

    def font(self, row: ScheduleStep, column: int) -> QFont | None:
        if row.amendment_seq is not None:
            font = QFont()
            font.setItalic(True)
            return font
        return None


class AmendmentsModel(RowTableModel):
    """A schedule's amendments in order, each with its day, dose, reason, user and time."""

    SEQ, DAY, DOSE, REASON, BY, AT, STATUS = range(7)
    HEADERS = (
        ("#", "Amendment number"),
        ("From day", "The amended dose applies from this study day"),
        ("mg/day", "Dose from that day, mg prednisone-equivalent per day"),
        ("Reason", "Why the schedule was amended"),
        ("By", "Investigator"),
        ("At (UTC)", "When it was saved"),
        ("Status", "In force, or withdrawn (then it no longer shapes the schedule)"),
    )
    NUMERIC = frozenset({SEQ, DAY, DOSE})
    SAMPLES = {SEQ: "99", DAY: "999", DOSE: "12.75", BY: "investigator",
               AT: "2026-12-31 23:59", STATUS: "withdrawn by investigator"}

    def display(self, row: AmendmentView, column: int) -> str:
        status = "in force" if not row.withdrawn else f"withdrawn by {row.withdrawn_by}"
        values = {self.SEQ: str(row.seq), self.DAY: str(row.day), self.DOSE: mg(row.dose_mg),
                  self.REASON: row.reason, self.BY: row.created_by,
                  self.AT: f"{row.created_at:%Y-%m-%d %H:%M}", self.STATUS: status}
        return values.get(column, "")

    def tooltip(self, row: AmendmentView, column: int) -> str | None:
        text = f"Amendment {row.seq} by {row.created_by}: {row.reason}"
        if row.withdrawn and row.withdrawn_at is not None:
            text += (f"\nWithdrawn by {row.withdrawn_by} at {row.withdrawn_at:%Y-%m-%d %H:%M} "
                     f"UTC: {row.withdraw_reason}")
        return text

    def font(self, row: AmendmentView, column: int) -> QFont | None:
        if row.withdrawn:  # still shown, struck through: it no longer shapes the schedule
            font = QFont()
            font.setStrikeOut(column != self.STATUS)
            return font
        return None

    def sort_value(self, row: AmendmentView, column: int) -> Any:
        values = {self.SEQ: row.seq, self.DAY: row.day, self.DOSE: row.dose_ug,
                  self.AT: row.created_at}
        return values.get(column, self.display(row, column).casefold())


def sorts_before(a: Any, b: Any) -> bool:
    """The order of sort values: numbers as numbers, dates as dates; empty values (None)
    last in ascending order; values that cannot be compared, by their text."""
    if a is None or b is None:
        return a is not None and b is None
    try:
        return bool(a < b)
    except TypeError:
        return str(a) < str(b)


#: Types whose values, all of one of them and none missing, are in a total order: for
#: them :func:`sorts_before` is plain ``<``.
_TOTALLY_ORDERED = frozenset({int, str, date, datetime, Decimal})


def _totally_ordered(values: list[Any]) -> bool:
    """Whether ``values`` are all of one kind in a total order: one of those types (floats
    and decimals without NaN), or tuples of the same such types (a history's (start date,
    id)), none missing."""
    if not values:
        return True
    kind = type(values[0])
    if kind is tuple:
        shape = tuple(map(type, values[0]))
        return (all(t in _TOTALLY_ORDERED and t is not datetime and t is not Decimal
                    for t in shape)
                and all(type(v) is tuple and tuple(map(type, v)) == shape for v in values))
    if not (kind in _TOTALLY_ORDERED or kind is float) \
            or not all(type(v) is kind for v in values):
        return False
    if kind is float:
        return not any(map(math.isnan, values))
    if kind is Decimal:
        return not any(v.is_nan() for v in values)  # quiet or signalling
    if kind is datetime:  # naive and aware ones do not compare
        naive = values[0].tzinfo is None
        return all((v.tzinfo is None) is naive for v in values)
    return True


def sort_ranks(values: list[Any]) -> list[int]:
    """Each value's place in :func:`sorts_before` order, equal values sharing a place."""
    plain = _totally_ordered(values)
    if plain:  # C-level comparisons: a thousand-record history at every patient switch
        order = sorted(range(len(values)), key=values.__getitem__)
    else:
        def compare(i: int, j: int) -> int:
            return (-1 if sorts_before(values[i], values[j])
                    else 1 if sorts_before(values[j], values[i]) else 0)

        order = sorted(range(len(values)), key=cmp_to_key(compare))
    less = operator.lt if plain else sorts_before
    ranks = [0] * len(values)
    rank = 0
    for k, i in enumerate(order):
        if k and less(values[order[k - 1]], values[i]):
            rank += 1
        ranks[i] = rank
    return ranks


class ValueSortProxy(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE` values (numbers as numbers; empty values last) and filters
    on :data:`FILTER_ROLE`, case-insensitively.

    Over a :class:`RowTableModel` the rows' places are worked out once per column and
    change of the rows (from the model's own ``sort_value``), and each comparison Qt makes
    is two list look-ups. Asking the model for two values per comparison went through Qt
    twice each time: sorting a three-year daily diary's thousand records cost about
    150 ms at every patient switch.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setFilterRole(FILTER_ROLE)
        self.setFilterKeyColumn(0)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._ranked: tuple[RowTableModel, int, int] | None = None  # model, generation, column
        self._ranks: list[int] = []

    def _ranks_of(self, model: RowTableModel, column: int) -> list[int]:
        ranked = self._ranked
        if ranked is None or ranked[0] is not model or ranked[1:] != (model.generation, column):
            self._ranks = sort_ranks([model.sort_value(r, column) for r in model.rows()])
            self._ranked = (model, model.generation, column)
        return self._ranks

    def lessThan(self, left: Index, right: Index) -> bool:
        model = self.sourceModel()
        if isinstance(model, RowTableModel) and left.column() == right.column():
            ranks = self._ranks_of(model, left.column())
            return ranks[left.row()] < ranks[right.row()]
        return sorts_before(left.data(SORT_ROLE), right.data(SORT_ROLE))

    def row_object(self, proxy_row: int) -> Any:
        return self.index(proxy_row, 0).data(ROW_ROLE)


#: The patient list's "Show" choices: (label, key). A flag key keeps the patients with that
#: flag; ``attention`` those with any; ``target:STATUS`` those with that target status.
PATIENT_FILTERS: tuple[tuple[str, str | None], ...] = (
    ("All patients", None),
    ("Needs attention", "attention"),
    ("Above the schedule today", "above"),
    ("Below the schedule today", "below"),
    ("Missing days", "missing"),
    ("A pulse today", "pulse"),
    ("Deviation without a reason", "reason"),
    ("Needs signature", "signature"),
    ("Target met", "target:met"),
    ("Target not met", "target:not_met"),
    ("Target not evaluable", "target:not_evaluable"),
    ("Target pending", "target:pending"),
)


def patient_matches(row: PatientRow, key: str | None) -> bool:
    """Whether a patient's triage matches a "Show" choice (:data:`PATIENT_FILTERS`)."""
    t = row.triage
    if key is None:
        return True
    if key == "attention":
        return bool(t.flags)
    if key.startswith("target:"):
        return t.target_status == key.partition(":")[2]
    return key in t.flags


class PatientListProxy(ValueSortProxy):
    """The patient list's sort and filters: the find box's text and a "Show" choice."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._show: str | None = None

    def set_show(self, key: str | None) -> None:
        # Qt 6.9 replaced invalidateFilter() with a begin/end pair around the change.
        begin = getattr(self, "beginFilterChange", None)
        if begin is None:
            self._show = key
            self.invalidateFilter()
            return
        begin()
        self._show = key
        self.endFilterChange()

    @property
    def show(self) -> str | None:
        return self._show

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        if (self._show is not None and isinstance(model, PatientTableModel)
                and not patient_matches(model.row_at(source_row), self._show)):
            return False
        return super().filterAcceptsRow(source_row, source_parent)
