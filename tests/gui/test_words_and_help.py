"""Words and help: what the window says is in the trial's words (no record numbers, no
function names), and F1 opens the user guide shipped with the program."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from taper_app import paths
from taper_app.services import patients as patient_service
from taper_app.services.errors import StaleData
from taper_app.ui.help_viewer import HelpViewer
from taper_app.ui.models import DoseHistoryModel
from taper_app.ui.qt import QApplication, Qt, QUrl

from .conftest import dose_rows

UI = Path(__file__).resolve().parents[2] / "taper_app" / "ui"
#: What must never reach the screen: table and function names, the command line's
#: wording, record numbers ("#197", "#{id}").
INTERNAL = re.compile(r"dose_record|close_dose|taper-app summary|summary --json"
                      r"|#\{|(?<![&\w:])(?<!: )#\d{1,5}\b")  # (not a colour: color:#555)


def _shown_strings(source: str) -> list[tuple[int, str]]:
    """Every string literal of a module that is not a docstring, with its line."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
             for v in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings | parts:
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}"
                           for v in node.values)
            found.append((node.lineno, text.replace("{}", "{x}")))
    return found


def test_no_screen_text_of_the_window_uses_internal_names_or_record_numbers():
    offending = []
    for module in sorted(UI.glob("*.py")):
        for line, text in _shown_strings(module.read_text(encoding="utf-8")):
            if INTERNAL.search(text):
                offending.append(f"{module.name}:{line}: {text!r}")
    assert offending == []


def test_the_checker_finds_what_it_looks_for():
    source = ('def f(d):\n    """dose_record #12 in a docstring is fine."""\n'
              '    return f"dose record #{d.id} saved; #183 closed", "close_dose of x"\n')
    texts = [t for _, t in _shown_strings(source) if INTERNAL.search(t)]
    assert texts == ["dose record #{x} saved; #183 closed", "close_dose of x"]
    assert not INTERNAL.search("colour #b00020 and #102027")


def test_a_correction_names_the_record_it_replaced_by_what_it_said(
        open_window, patient, db, study, nurse):
    old = dose_rows(db)[-1]
    patient_service.correct_dose(nurse, study, old.id, "wrong dose typed", {
        "drug": "prednisone", "dose_mg": "15", "frequency": "QD", "route": "PO",
        "start_date": old.start_date.isoformat(), "end_date": "", "source": "clinic",
        "comment": ""}, expected_version=old.version)
    window = open_window("nurse")
    model = window.detail.history_model
    notes = [model.index(r, DoseHistoryModel.NOTE).data() for r in range(model.rowCount())]
    assert f"corrects prednisone 16 mg from {old.start_date.isoformat()}" in notes
    tips = [model.index(r, 0).data(Qt.ItemDataRole.ToolTipRole) for r in range(model.rowCount())]
    assert all(t.startswith("Entered by ") and "#" not in t for t in tips)


def test_a_stale_record_is_described_by_its_dose_and_date(patient, db, study, nurse):
    old = dose_rows(db)[-1]
    with pytest.raises(StaleData) as refused:
        patient_service.void_dose(nurse, old.id, "typo", expected_version=old.version + 5)
    text = str(refused.value)
    assert text.startswith(f"the dose record prednisone 16 mg QD from {old.start_date}")
    assert str(old.id) not in text.split("from")[0]


def test_f1_opens_the_shipped_user_guide_with_find_and_its_pictures(
        open_window, patient, keyboard, qtbot):
    window = open_window("nurse")
    keyboard.press(Qt.Key.Key_F1)
    viewer = window.help_viewer
    assert isinstance(viewer, HelpViewer)
    qtbot.waitUntil(viewer.isVisible, timeout=2000)
    text = viewer.browser.toPlainText()
    guide = paths.user_guide().read_text(encoding="utf-8")
    assert text.startswith("User guide") and "Type in a returned calendar" in text
    assert "Lock now" in text and "yesterday" in text  # this tasks are in it
    # Its screenshots are found beside it (the same folder in the packaged program).
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", guide)
    assert images
    for image in images:
        kind = viewer.browser.document().ResourceType.ImageResource.value
        data = viewer.browser.loadResource(kind, QUrl(image))
        assert data is not None and len(data) > 1000, image
    # Find: type, Enter goes to the next place.
    qtbot.waitUntil(lambda: QApplication.focusWidget() is viewer.find_edit, timeout=2000)
    keyboard.type("switch user")
    keyboard.enter()
    assert viewer.browser.textCursor().selectedText().lower() == "switch user"
    viewer.find_edit.setText("no such words anywhere")
    assert not viewer.find_next() and viewer.not_found.text() == "not in the guide"
    # F1 again brings the same window back.
    viewer.close()
    window.activateWindow()
    window.show_user_guide()
    assert window.help_viewer is viewer and viewer.isVisible()
    viewer.close()


def test_a_missing_guide_is_a_message_not_a_crash(open_window, monkeypatch, message_log,
                                                 tmp_path):
    import taper_app.ui.help_viewer as help_viewer

    window = open_window("nurse")
    monkeypatch.setattr(help_viewer, "user_guide", lambda: tmp_path / "user-guide.md")
    window.show_user_guide()
    [error] = message_log.take("error")
    assert error.title == "The user guide is missing" and window.help_viewer is None
