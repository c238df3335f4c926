"""The dosing calendar sheet's layout: a day's date, study day and dose never wrap."""

from __future__ import annotations

from datetime import date, timedelta

from reportlab.pdfbase import pdfmetrics

from taper_app.reports.calendar_sheet import (
    CELL_SIDE_PADDING,
    LINE_SIZE,
    column_widths,
    short_date,
    week_span,
)
from taper_app.reports.pdf_common import FONT, FONT_BOLD, PORTRAIT, frame_size, register_fonts


def test_every_date_of_a_year_and_every_usual_cell_fits_its_column():
    register_fonts()
    widths = column_widths(frame_size(PORTRAIT)[0])
    room = [w - 2 * CELL_SIDE_PADDING for w in widths]

    def fits(value: str, column: int, font: str = FONT) -> bool:
        return pdfmetrics.stringWidth(value, font, LINE_SIZE) <= room[column]

    first = date(2028, 1, 1)  # a leap year: every day of every month
    for offset in range(366):
        assert fits(short_date(first + timedelta(days=offset)), 0, FONT_BOLD)
    assert fits("3650", 1) and fits("-28", 1)
    assert fits("None today", 2) and fits("137.5 mg", 2, FONT_BOLD)
    for words in ("Ask your study nurse", "2 tablets of 2.5 mg", "1 tablet of 0.75 mg"):
        assert fits(words, 3), words


def test_a_week_names_its_year_once_unless_it_crosses_one():
    assert week_span(date(2026, 7, 6), date(2026, 7, 12)) == "Monday 6 July to Sunday 12 July 2026"
    assert week_span(date(2026, 12, 29), date(2027, 1, 4)) == \
        "Tuesday 29 December 2026 to Monday 4 January 2027"
