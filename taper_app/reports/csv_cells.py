"""CSV cells made safe to open in a spreadsheet: text it would run as a formula is disarmed.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
one that starts with a tab or a carriage return) as a formula: a comment such as
``=HYPERLINK("http://…", "click")`` typed into a dose record would become a live link,
or worse, in the statistician's copy of an export. Every CSV this application writes for
people goes through :func:`safe_cell`, which puts one apostrophe ``'`` before such a cell
(the spreadsheets' own "this is text" mark). A cell that already starts with an
apostrophe gets one more, so the rule can be undone without guessing: **a cell that
starts with ``'`` had exactly one ``'`` put before it; take that one off to get the
stored text.** A plain number (``-2``, ``-0.5``) is left as it is.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, TextIO

#: What a spreadsheet may take as the start of a formula (OWASP's list: CSV injection).
FORMULA_STARTS = frozenset("=+-@\t\r")
MARK = "'"
#: A plain decimal number in ASCII digits, optionally negative: never a formula.
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")

#: The rule as the export READMEs (and the audit CSV's first lines) state it.
RULE = ("Cells that a spreadsheet would run as a formula are written as text: a cell "
        "that begins with =, +, - (unless it is a plain number such as -2.5), @, a tab or "
        "a carriage return has one apostrophe (') put before it, and so has a cell that "
        "already begins with an apostrophe. So a cell beginning with ' had exactly one ' "
        "added: remove that one character to get the stored text.")


def safe_cell(value: object) -> str:
    """``value`` as CSV cell text that no spreadsheet runs as a formula (module docstring)."""
    text = "" if value is None else str(value)
    if not text:
        return text
    first = text[0]
    if first == MARK or (first in FORMULA_STARTS and not _NUMBER.fullmatch(text)):
        return MARK + text
    return text


def stored_text(cell: str) -> str:
    """Undo :func:`safe_cell`: the text as stored (for readers and tests)."""
    return cell[1:] if cell.startswith(MARK) else cell


class SafeWriter:
    """A ``csv.writer`` whose every cell goes through :func:`safe_cell`."""

    def __init__(self, fh: TextIO, **options: Any) -> None:
        self._writer = csv.writer(fh, **options)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def safe_writer(fh: TextIO, **options: Any) -> SafeWriter:
    """A CSV writer for files people open: every cell neutralised (``csv.writer`` options)."""
    return SafeWriter(fh, **options)
