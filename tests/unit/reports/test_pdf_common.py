"""The PDF building blocks: page furniture, tables, numbers as printed (charts: test_pdf_chart)."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.platypus import NextPageTemplate, PageBreak, Paragraph

from taper_app.reports.patient_report import signature_section
from taper_app.reports.pdf_common import (
    PageFurniture,
    build_pdf,
    data_table,
    fit_widths,
    fmt_mg,
    fmt_pct,
    styles,
)
from taper_app.results import SignatureManifestation

PRINTED = datetime(2026, 7, 2, 14, 30, tzinfo=UTC)
FURNITURE = PageFurniture("Test report", (("Study", "STUDY-X"), ("Protocol", "9.9"),
                                          ("Site", "101"), ("Subject", "101-001")),
                          PRINTED, "1.2.3", "ab" * 32, date(2026, 7, 2))


def page_texts(pdf: bytes) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages]


def test_every_page_has_the_header_and_is_numbered_n_of_m_also_in_landscape():
    s = styles()
    story = [Paragraph(f"Paragraph {i} " + "words " * 60, s.body) for i in range(40)]
    story[20:20] = [NextPageTemplate("landscape"), PageBreak()]
    built = build_pdf(story, FURNITURE, title="t", subject="s")
    reader = PdfReader(io.BytesIO(built.pdf))
    texts = page_texts(built.pdf)
    assert built.pages == len(texts) >= 4
    for number, text in enumerate(texts, start=1):
        assert "Study STUDY-X Protocol 9.9 Site 101 Subject 101-001" in text
        assert f"Page {number} of {built.pages}" in text
        assert "Printed 2026-07-02 14:30 UTC by taper-app 1.2.3" in text
        assert f"Data fingerprint SHA-256 {'ab' * 32}" in text
    boxes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    assert boxes[0][0] < boxes[0][1], "starts portrait"
    assert boxes[-1][0] > boxes[-1][1], "switches to landscape"


def test_long_tables_repeat_their_header_row_on_every_page():
    rows = [[f"row {i}", f"{i}.5"] for i in range(300)]
    table = data_table(["Name of row", "Value mg"], rows, [200, 100], right=(1,))
    texts = page_texts(build_pdf([table], FURNITURE, title="t", subject="s").pdf)
    assert len(texts) > 2
    for text in texts:
        assert "Name of row Value mg" in text
    assert "row 299 299.5" in texts[-1]


def test_column_widths_fit_the_widest_header_word_and_cell():
    header = ["Subject", "Cumulative\nmg", "Notes"]
    rows = [["101-001", "12,345.678", "free text"]]
    widths = fit_widths(header, rows, 400, flexible=2)
    assert sum(widths) == pytest.approx(400)
    assert widths[0] < widths[2] and widths[1] < widths[2]
    tight = fit_widths(header, rows, 400)
    assert sum(tight) == pytest.approx(400)


@pytest.mark.parametrize(("value", "printed"), [
    (2900.0, "2,900"), (0.5, "0.5"), (1234.567, "1,234.567"), (-391.0, "-391"), (0.0, "0"),
    (7.25, "7.25"), (None, "–")])
def test_mg_are_printed_exactly_as_reported(value, printed):
    assert fmt_mg(value) == printed


@pytest.mark.parametrize(("value", "printed"), [
    (48.2, "48.2"), (50.0, "50.0"), (-21.6, "-21.6"), (0.0, "0.0"), (None, "–")])
def test_percentages_are_printed_to_one_decimal(value, printed):
    assert fmt_pct(value) == printed


def test_signature_section_prints_each_manifestation_and_whether_it_holds():
    signatures = [
        SignatureManifestation("Ivan Investigator", datetime(2026, 6, 30, 9, 5, tzinfo=UTC),
                               "reviewed", True, date(2026, 6, 30)),
        SignatureManifestation("Iris Other", datetime(2026, 5, 1, 16, 0, tzinfo=UTC),
                               "approved", False, date(2026, 4, 30),
                               "a dose record was voided after signing"),
    ]
    text = page_texts(build_pdf(signature_section(signatures, 500), FURNITURE, title="t",
                                subject="s").pdf)[0]
    assert "Ivan Investigator 2026-06-30 09:05 UTC reviewed 2026-06-30 Valid" in text
    assert "Iris Other 2026-05-01 16:00 UTC approved 2026-04-30 NOT VALID: a dose record " \
           "was voided after signing" in text
    assert "Not signed" not in text
    unsigned = page_texts(build_pdf(signature_section([], 500), FURNITURE, title="t",
                                    subject="s").pdf)[0]
    assert "Not signed" in unsigned


@pytest.mark.parametrize("n_rows", [43, 44, 91, 92])  # a plain Table leaves 1-2 rows
def test_a_table_split_over_pages_never_leaves_a_lone_row(n_rows):
    intro = [Paragraph("intro " * 40, styles().body) for _ in range(4)]
    rows = [[f"row {i}", f"{i}"] for i in range(n_rows)]
    table = data_table(["Name", "Value"], rows, [200, 100])
    texts = page_texts(build_pdf([*intro, table], FURNITURE, title="t", subject="s").pdf)
    per_page = [len(re.findall(r"\brow \d+\b", text)) for text in texts]
    assert sum(per_page) == n_rows
    assert all(n == 0 or n >= 3 for n in per_page), per_page


def placed_words(pdf: bytes) -> list[tuple[str, float, float]]:
    """Every piece of text on the first page with where it starts (x, y), to 0.01 pt."""
    found: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((text.strip(), round(x, 2), round(y, 2)))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


def text_colours(pdf: bytes) -> set[tuple[float, ...]]:
    reader = PdfReader(io.BytesIO(pdf))
    operations = ContentStream(reader.pages[0].get_contents(), reader).operations
    return {tuple(round(float(v), 3) for v in operands) for operands, op in operations
            if op == b"rg"}


def test_cells_that_need_no_wrapping_are_plain_strings_printed_as_their_paragraphs():
    s = styles()
    header = ["Subject", "Dose\nmg", "Notes"]
    rows = [["101-001", "12,345.678", "free text"], ["101-002", "0.5", "more & less <b>"],
            ["101-003", "7", ""]]
    widths = [80, 60, 120]
    plain = data_table(header, rows, widths, right=(1,))
    body = plain._cellvalues[1:]
    assert all(isinstance(c, str) for row in body for c in row), "no Paragraph needed"
    paragraphs = data_table(header, [[Paragraph(text, s.cell_right if i == 1 else s.cell)
                                      for i, text in enumerate(
                                          [escape(v) for v in row])] for row in rows],
                            widths, right=(1,))
    plain_pdf = build_pdf([plain], FURNITURE, title="t", subject="s").pdf
    paragraph_pdf = build_pdf([paragraphs], FURNITURE, title="t", subject="s").pdf
    first, second = placed_words(plain_pdf), placed_words(paragraph_pdf)
    assert first == second
    assert text_colours(plain_pdf) == text_colours(paragraph_pdf)
    words = [w for w, _, _ in first]
    for value in ("101-003", "12,345.678", "free text", "more & less <b>"):
        assert value in words


def test_plain_lines_with_line_breaks_print_as_paragraph_line_breaks():
    s = styles()
    rows = [["#12", "2026-01-01\nday 1", "corrects #11\ncomment"]]
    widths = [40, 80, 120]
    plain = data_table(["Rec.", "Start", "Notes"], rows, widths, right=(0,), line_breaks=True)
    assert all(isinstance(c, str) for c in plain._cellvalues[1])
    paragraphs = data_table(["Rec.", "Start", "Notes"],
                            [[Paragraph(v.replace("\n", "<br/>"),
                                        s.cell_right if i == 0 else s.cell)
                              for i, v in enumerate(rows[0])]], widths, right=(0,))
    assert placed_words(build_pdf([plain], FURNITURE, title="t", subject="s").pdf) == \
        placed_words(build_pdf([paragraphs], FURNITURE, title="t", subject="s").pdf)


@pytest.mark.parametrize(("value", "line_breaks"), [
    ("a very long note that cannot fit in the narrow column and must wrap", False),
    ("two  spaces", False),           # a Paragraph prints one
    ("first\nsecond", False),         # a Paragraph prints a space
    ("first\na line far too long for the narrow column here", True),
])
def test_cells_a_paragraph_prints_differently_stay_paragraphs(value, line_breaks):
    table = data_table(["Notes"], [[value]], [90], line_breaks=line_breaks)
    assert isinstance(table._cellvalues[1][0], Paragraph)


def test_a_long_cell_still_wraps():
    table = data_table(["Name", "Notes"], [["row", " ".join(["word"] * 40)]], [60, 120])
    assert table._cellvalues[1][0] == "row"
    assert isinstance(table._cellvalues[1][1], Paragraph)
    pdf = build_pdf([table], FURNITURE, title="t", subject="s").pdf
    assert page_texts(pdf)[0].count("word") == 40
    lines = {y for w, _, y in placed_words(pdf) if w.startswith("word")}
    assert len(lines) > 3, "wrapped over several lines"
