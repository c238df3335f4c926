"""The protocol file (TOML): study settings, equivalence overrides and schedule templates.

Parsing is strict: every problem is reported with where it is, and nothing is guessed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .equivalence import FREQUENCIES, EquivalenceTable, UnknownDrugError
from .figures import FigureSettings
from .schedule import Band, BandTemplate, TableStep, TableTemplate, Template
from .units import QuantityError, parse_mg

#: Tablet strengths (mg per tablet) when the protocol has no ``[tablets]`` entry for a drug
#: (domain.md §8); a drug not named here has none, so its calendar says to ask the nurse.
DEFAULT_TABLETS: dict[str, tuple[Decimal, ...]] = {
    drug: tuple(sorted((Decimal(mg) for mg in strengths), reverse=True))
    for drug, strengths in {
        "prednisone": ("1", "2.5", "5", "10", "20", "50"),
        "prednisolone": ("1", "2.5", "5", "10", "20", "50"),
        "methylprednisolone": ("2", "4", "8", "16", "32"),
        "dexamethasone": ("0.5", "0.75", "1", "1.5", "2", "4", "6"),
        "hydrocortisone": ("5", "10", "20"),
        "deflazacort": ("6", "18", "30", "36"),
    }.items()
}


class ProtocolError(ValueError):
    """A protocol or template file that does not follow interfaces.md."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Protocol:
    study: str
    protocol_version: str
    settings: FigureSettings
    templates: tuple[Template, ...]
    equivalence_overrides: dict[str, Fraction] = field(default_factory=dict)
    #: ``[tablets]``: mg per tablet by drug; a drug named here replaces its defaults.
    tablet_overrides: dict[str, tuple[Decimal, ...]] = field(default_factory=dict)

    def equivalence(self) -> EquivalenceTable:
        return EquivalenceTable(self.equivalence_overrides)

    def tablet_strengths(self, drug: str) -> tuple[Decimal, ...]:
        """The tablet strengths the patients have for ``drug`` (domain.md §8): the
        protocol's ``[tablets]`` list for it, else the defaults (none for most drugs)."""
        key = drug.strip().lower()
        if key in self.tablet_overrides:
            return self.tablet_overrides[key]
        return DEFAULT_TABLETS.get(key, ())


_TOP_KEYS = {"study", "protocol_version", "target_reduction_pct", "target_day", "tolerance_mg",
             "target_dose_mg", "template", "equivalence", "tablets"}
_BAND_TEMPLATE_KEYS = {"id", "name", "kind", "taper_start_day", "round_to_mg", "floor_mg", "band"}
_TABLE_TEMPLATE_KEYS = {"id", "name", "kind", "round_to_mg", "step"}
_BAND_KEYS = {"above_mg", "step_mg", "step_pct", "interval_days"}
_STEP_KEYS = {"day", "dose_mg", "frequency", "fraction"}


def load_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProtocolError([f"{source}: not valid TOML: {exc}"]) from None


def parse_protocol(text: str, source: str = "protocol") -> Protocol:
    data = load_toml(text, source)
    problems: list[str] = []
    for key in sorted(set(data) - _TOP_KEYS):
        problems.append(f"{source}: unknown key {key!r}")
    study = data.get("study")
    version = data.get("protocol_version")
    if not isinstance(study, str) or not study.strip():
        problems.append(f"{source}: 'study' must be a non-empty string")
    if not isinstance(version, str) or not version.strip():
        problems.append(f"{source}: 'protocol_version' must be a non-empty string")
    settings = _settings(data, source, problems)
    overrides = _overrides(data.get("equivalence", {}), source, problems)
    tablets = _tablets(data.get("tablets", {}), EquivalenceTable(overrides), source, problems)
    templates = parse_templates(data.get("template", []), source, problems)
    if problems:
        raise ProtocolError(problems)
    return Protocol(str(study).strip(), str(version).strip(), settings, tuple(templates), overrides,
                    tablets)


def parse_template_file(text: str, source: str) -> list[Template]:
    """A file holding only ``[[template]]`` tables (``taper-app template import``)."""
    data = load_toml(text, source)
    problems = [f"{source}: unknown key {k!r} (only [[template]] tables)" for k in data
                if k != "template"]
    templates = parse_templates(data.get("template", []), source, problems)
    if not templates and not problems:
        problems.append(f"{source}: no [[template]] tables")
    if problems:
        raise ProtocolError(problems)
    return templates


def _settings(data: dict[str, Any], source: str, problems: list[str]) -> FigureSettings:
    def number(key: str, default: Decimal | None, low: Decimal, high: Decimal) -> Decimal | None:
        if key not in data:
            return default
        try:
            value = parse_mg(data[key])
        except QuantityError as exc:
            problems.append(f"{source}: {key}: {exc}")
            return default
        if not low <= value <= high:
            problems.append(f"{source}: {key}: {value} is outside {low}..{high}")
        return value

    pct = number("target_reduction_pct", Decimal(50), Decimal(0), Decimal(100))
    tol = number("tolerance_mg", Decimal(0), Decimal(0), Decimal(100))
    dose = number("target_dose_mg", None, Decimal(0), Decimal(2000))
    day = data.get("target_day", 183)
    if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 3650:
        problems.append(f"{source}: target_day must be a whole study day from 1 to 3650")
        day = 183
    return FigureSettings(Decimal(50) if pct is None else pct, day,
                          Decimal(0) if tol is None else tol, dose)


def _overrides(raw: Any, source: str, problems: list[str]) -> dict[str, Fraction]:
    if not isinstance(raw, dict):
        problems.append(f"{source}: [equivalence] must be a table of drug = factor")
        return {}
    out: dict[str, Fraction] = {}
    for drug, value in raw.items():
        try:
            factor = Fraction(str(value)) if not isinstance(value, float) else Fraction(repr(value))
        except (ValueError, ZeroDivisionError):
            problems.append(f"{source}: equivalence.{drug}: {value!r} is not a number or ratio")
            continue
        if factor <= 0 or isinstance(value, bool):
            problems.append(f"{source}: equivalence.{drug}: factor must be > 0")
            continue
        out[drug.strip().lower()] = factor
    return out


def _tablets(raw: Any, table: EquivalenceTable, source: str,
             problems: list[str]) -> dict[str, tuple[Decimal, ...]]:
    """``[tablets]``: ``drug = [mg, ...]``; known drugs, strengths > 0 to the microgram."""
    if not isinstance(raw, dict):
        problems.append(f"{source}: [tablets] must be a table of drug = [mg per tablet, ...]")
        return {}
    out: dict[str, tuple[Decimal, ...]] = {}
    for drug, values in raw.items():
        where = f"{source}: tablets.{drug}"
        try:
            name = table.normalise(str(drug))
        except UnknownDrugError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not isinstance(values, list):
            problems.append(f"{where}: must be a list of mg per tablet, such as [1, 2.5, 5]")
            continue
        strengths: set[Decimal] = set()
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                problems.append(f"{where}: {value!r} is not a number of mg")
                continue
            try:
                mg = parse_mg(value)
            except QuantityError as exc:
                problems.append(f"{where}: {exc}")
                continue
            if mg <= 0:
                problems.append(f"{where}: a tablet strength must be more than 0 mg")
                continue
            if mg in strengths:
                problems.append(f"{where}: {value} mg is listed twice")
            strengths.add(mg)
        if name in out:
            problems.append(f"{where}: {name} is listed twice")
        out[name] = tuple(sorted(strengths, reverse=True))
    return out


def parse_templates(raw: Any, source: str, problems: list[str]) -> list[Template]:
    if not isinstance(raw, list):
        problems.append(f"{source}: 'template' must be an array of tables ([[template]])")
        return []
    templates: list[Template] = []
    seen: set[str] = set()
    for i, t in enumerate(raw, start=1):
        where = f"{source}: template #{i}"
        if not isinstance(t, dict):
            problems.append(f"{where}: must be a table")
            continue
        tid = t.get("id")
        if not isinstance(tid, str) or not tid.strip():
            problems.append(f"{where}: 'id' must be a non-empty string")
            continue
        where = f"{source}: template {tid!r}"
        if tid in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(tid)
        name = t.get("name", tid)
        kind = t.get("kind")
        before = len(problems)
        if kind == "bands":
            _unknown(t, _BAND_TEMPLATE_KEYS, where, problems)
            tpl: Template | None = _band_template(t, tid, str(name), where, problems)
        elif kind == "table":
            _unknown(t, _TABLE_TEMPLATE_KEYS, where, problems)
            tpl = _table_template(t, tid, str(name), where, problems)
        else:
            problems.append(f"{where}: kind must be 'bands' or 'table', not {kind!r}")
            tpl = None
        if tpl is not None and len(problems) == before:
            templates.append(tpl)
    return templates


def _unknown(t: dict[str, Any], allowed: set[str], where: str, problems: list[str]) -> None:
    for key in sorted(set(t) - allowed):
        problems.append(f"{where}: unknown key {key!r}")


def _mg(t: dict[str, Any], key: str, where: str, problems: list[str],
        default: Decimal | None = None, positive: bool = False) -> Decimal | None:
    if key not in t:
        if default is None:
            problems.append(f"{where}: {key} is required")
        return default
    try:
        value = parse_mg(t[key])
    except QuantityError as exc:
        problems.append(f"{where}: {key}: {exc}")
        return default
    if value < 0 or (positive and value == 0):
        problems.append(f"{where}: {key} must be {'> 0' if positive else '>= 0'}")
    return value


def _day(t: dict[str, Any], key: str, where: str, problems: list[str]) -> int:
    value = t.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 3650:
        problems.append(f"{where}: {key} must be a whole number from 1 to 3650")
        return 1
    return value


def _band_template(t: dict[str, Any], tid: str, name: str, where: str,
                   problems: list[str]) -> BandTemplate | None:
    start = _day(t, "taper_start_day", where, problems)
    round_to = _mg(t, "round_to_mg", where, problems, Decimal("0.5"), positive=True)
    floor = _mg(t, "floor_mg", where, problems, Decimal(0))
    bands: list[Band] = []
    raw = t.get("band", [])
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: needs at least one [[template.band]]")
        return None
    for j, b in enumerate(raw, start=1):
        bw = f"{where} band #{j}"
        if not isinstance(b, dict):
            problems.append(f"{bw}: must be a table")
            continue
        _unknown(b, _BAND_KEYS, bw, problems)
        above = _mg(b, "above_mg", bw, problems)
        interval = _day(b, "interval_days", bw, problems)
        has_mg, has_pct = "step_mg" in b, "step_pct" in b
        if has_mg == has_pct:
            problems.append(f"{bw}: give exactly one of step_mg or step_pct")
            continue
        step_mg = _mg(b, "step_mg", bw, problems, positive=True) if has_mg else None
        step_pct = _mg(b, "step_pct", bw, problems, positive=True) if has_pct else None
        if step_pct is not None and step_pct >= 100:
            problems.append(f"{bw}: step_pct must be below 100")
        if above is not None:
            bands.append(Band(above, interval, step_mg, step_pct))
    aboves = [b.above_mg for b in bands]
    if len(set(aboves)) != len(aboves):
        problems.append(f"{where}: two bands have the same above_mg")
    return BandTemplate(tid, name, start, tuple(bands), round_to or Decimal("0.5"),
                        floor or Decimal(0))


def _table_template(t: dict[str, Any], tid: str, name: str, where: str,
                    problems: list[str]) -> TableTemplate | None:
    raw = t.get("step", [])
    round_to = _mg(t, "round_to_mg", where, problems, Decimal("0.5"), positive=True)
    if not isinstance(raw, list) or not raw:
        problems.append(f"{where}: needs at least one [[template.step]]")
        return None
    steps: list[TableStep] = []
    for j, s in enumerate(raw, start=1):
        sw = f"{where} step #{j}"
        if not isinstance(s, dict):
            problems.append(f"{sw}: must be a table")
            continue
        _unknown(s, _STEP_KEYS, sw, problems)
        day = _day(s, "day", sw, problems)
        if ("dose_mg" in s) == ("fraction" in s):
            problems.append(f"{sw}: give exactly one of dose_mg or fraction")
            continue
        freq = str(s.get("frequency", "QD")).upper()
        if freq not in FREQUENCIES or freq == "ONCE":
            problems.append(f"{sw}: frequency {freq!r} is not a daily schedule frequency")
        if "fraction" in s:
            frac = _mg(s, "fraction", sw, problems)
            if frac is not None and frac > 1:
                problems.append(f"{sw}: fraction must be between 0 and 1")
            steps.append(TableStep(day, None, freq, frac))
        else:
            steps.append(TableStep(day, _mg(s, "dose_mg", sw, problems), freq))
    days = [s.day for s in steps]
    if len(set(days)) != len(days):
        problems.append(f"{where}: two steps on the same day")
    return TableTemplate(tid, name, tuple(sorted(steps, key=lambda s: s.day)),
                         round_to or Decimal("0.5"))


def new_template_problems(templates: tuple[Template, ...] | list[Template],
                          source: str) -> list[str]:
    """What a new protocol or template file may not say, though a stored one is still read.

    A fraction of baseline is a daily dose: the figures have always counted it every day,
    so a frequency on it (``fraction = 0.5``, ``frequency = "QOD"``) would print a calendar
    that disagrees with them. Stored studies that have one keep loading, as daily doses.
    """
    return [f"{source}: template {t.id!r} step on day {s.day}: a fraction of baseline is a "
            f"daily dose; give a frequency only with dose_mg (not {s.frequency!r})"
            for t in templates if isinstance(t, TableTemplate)
            for s in t.steps if s.fraction is not None and s.frequency.upper() != "QD"]


def template_to_data(t: Template) -> dict[str, Any]:
    """A template as the plain data of its TOML table (decimals as strings), for storage."""
    if isinstance(t, BandTemplate):
        bands = []
        for b in t.bands:
            band: dict[str, Any] = {"above_mg": str(b.above_mg), "interval_days": b.interval_days}
            if b.step_mg is not None:
                band["step_mg"] = str(b.step_mg)
            if b.step_pct is not None:
                band["step_pct"] = str(b.step_pct)
            bands.append(band)
        return {"id": t.id, "name": t.name, "kind": "bands", "taper_start_day": t.taper_start_day,
                "round_to_mg": str(t.round_to_mg), "floor_mg": str(t.floor_mg), "band": bands}
    steps = []
    for s in t.steps:
        step: dict[str, Any] = {"day": s.day, "frequency": s.frequency}
        if s.fraction is not None:
            step["fraction"] = str(s.fraction)
        else:
            step["dose_mg"] = str(s.dose_mg)
        steps.append(step)
    return {"id": t.id, "name": t.name, "kind": "table", "round_to_mg": str(t.round_to_mg),
            "step": steps}


def template_from_data(data: dict[str, Any]) -> Template:
    problems: list[str] = []
    templates = parse_templates([data], "stored template", problems)
    if problems or not templates:
        raise ProtocolError(problems or ["stored template could not be read"])
    return templates[0]
