"""PDF reports from the window: real PDFs read back, progress by patient, Cancel, no freeze."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from pypdf import PdfReader

from taper_app.services import reporting
from taper_app.services.reporting import cohort_report, patient_report
from taper_app.services.study import authenticate
from taper_app.ui.dialogs import DialogHost
from taper_app.ui.main_window import MainWindow
from taper_app.ui.qt import QProgressDialog, QPushButton, Qt
from taper_app.ui.report_export import ReportExport
from taper_app.ui.tasks import TaskRunner
from tests.conftest import PASSWORD, TODAY, fixed_clock

from .conftest import DAY1, enroll

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


class Desktop:
    """Stands in for the save dialog and the desktop's PDF viewer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answer: Path | None) -> None:
        self.answer = answer
        self.asked: list[tuple[str, Path]] = []
        self.opened: list[Path] = []
        monkeypatch.setattr(DialogHost, "save_file", classmethod(
            lambda cls, parent, title, suggested, *a: self._ask(title, suggested)))
        monkeypatch.setattr(ReportExport, "open_document",
                            classmethod(lambda cls, path: self._open(path)))

    def _ask(self, title: str, suggested: Path) -> Path | None:
        self.asked.append((title, suggested))
        return self.answer

    def _open(self, path: Path) -> bool:
        assert path.exists(), "opened only once written"
        self.opened.append(path)
        return True


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.suffix == ".tmp" or p.name.startswith(".")]


@pytest.fixture
def three_patients(nurse, study, patient) -> list[str]:
    enroll(nurse, study, "101-002", DAY1)
    enroll(nurse, study, "102-001", DAY1, site="102")
    return ["101-001", "101-002", "102-001"]


def test_a_monitor_exports_the_patient_report_with_ctrl_e_and_it_opens(
        open_window, patient, db, study, tmp_path, monkeypatch, keyboard):
    out = tmp_path / "out" / "patient.pdf"
    out.parent.mkdir()
    desktop = Desktop(monkeypatch, out)
    window = open_window("monitor")
    assert window.actions_by_name["export_patient"].isEnabled()

    keyboard.shortcut(Qt.Key.Key_E, CTRL)

    [(title, suggested)] = desktop.asked
    assert "patient report" in title and suggested.name == f"101-001-report-{TODAY}.pdf"
    assert desktop.opened == [out]
    text = pdf_text(out)
    same = patient_report(db, study, patient, TODAY, clock=fixed_clock)
    assert "101-001" in text and same.fingerprint in text.replace("\n", "")
    assert len(PdfReader(out).pages) == same.pages
    assert "Saved" in window.statusBar().currentMessage()
    assert leftovers(out.parent) == []
    assert window.report_export.progress_dialog is None  # closed when done


def test_the_study_report_shows_progress_patient_by_patient(
        open_window, three_patients, db, study, tmp_path, monkeypatch, keyboard):
    out = tmp_path / "study.pdf"
    desktop = Desktop(monkeypatch, out)
    window = open_window("monitor")
    seen: list[tuple[int, int, int, str]] = []

    def watch(done: int, total: int) -> None:  # after the window's own slot ran
        dialog = window.report_export.progress_dialog
        assert isinstance(dialog, QProgressDialog) and dialog.isVisible()
        seen.append((done, dialog.value(), dialog.maximum(), dialog.labelText()))

    window.report_export.progressed.connect(watch)
    keyboard.shortcut(Qt.Key.Key_E, CTRL | SHIFT)

    assert seen == [(1, 1, 4, "Patient 1 of 3…"), (2, 2, 4, "Patient 2 of 3…"),
                    (3, 3, 4, "Patient 3 of 3…"), (4, 4, 4, "Writing the PDF…")]
    assert desktop.opened == [out]
    text = pdf_text(out)
    assert all(subject in text for subject in three_patients)
    same = cohort_report(db, study, TODAY, clock=fixed_clock)
    assert same.fingerprint in text.replace("\n", "")


@pytest.mark.parametrize("how", ["button", "escape"])
def test_cancel_stops_the_study_report_and_leaves_no_file(
        qtbot, open_window, three_patients, tmp_path, monkeypatch, how):
    out = tmp_path / "study.pdf"
    desktop = Desktop(monkeypatch, out)
    window = open_window("monitor")

    def press_cancel(done: int, total: int) -> None:
        if done != 1:
            return
        dialog = window.report_export.progress_dialog
        if how == "button":
            [button] = dialog.findChildren(QPushButton)
            assert button.text() == "Cancel"
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        else:
            qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    window.report_export.progressed.connect(press_cancel)
    window.actions_by_name["export_study"].trigger()

    assert not out.exists() and leftovers(tmp_path) == []
    assert desktop.opened == []
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.report_export.progress_dialog is None


def test_no_file_chosen_means_no_report(open_window, patient, tmp_path, monkeypatch):
    desktop = Desktop(monkeypatch, None)
    window = open_window("nurse")
    window.actions_by_name["export_patient"].trigger()
    assert len(desktop.asked) == 1 and desktop.opened == []
    assert window.report_export.progress_dialog is None
    assert list(tmp_path.glob("*.pdf")) == []


def test_a_folder_that_is_gone_is_a_message_and_no_file(open_window, patient, tmp_path,
                                                        monkeypatch, message_log):
    out = tmp_path / "gone" / "p.pdf"
    desktop = Desktop(monkeypatch, out)
    window = open_window("nurse")
    window.actions_by_name["export_patient"].trigger()
    [shown] = message_log.take("error")
    assert "not exported" in shown.title and "does not exist" in shown.text
    assert desktop.opened == [] and not out.exists()


def monitor_window(qtbot, db, study) -> MainWindow:
    """The monitor's window with a real worker pool, its three patients listed."""
    actor = authenticate(db, "monitor", PASSWORD, fixed_clock)
    window = MainWindow(db, study, actor, today=lambda: TODAY, clock=fixed_clock,
                        tasks=TaskRunner())
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.patients_model.rowCount() == 3, timeout=30000)
    return window


def test_the_export_runs_in_a_worker_and_the_window_keeps_working(
        qtbot, db, study, three_patients, tmp_path, monkeypatch):
    out = tmp_path / "study.pdf"
    desktop = Desktop(monkeypatch, out)
    window = monitor_window(qtbot, db, study)
    seen: list[int] = []
    window.report_export.progressed.connect(lambda done, total: seen.append(done))

    window.actions_by_name["export_study"].trigger()
    # back at once: the report is built in the pool, progress arrives through the event loop
    assert window.report_export.busy() and seen == []
    qtbot.waitUntil(lambda: desktop.opened == [out], timeout=60000)
    assert seen == [1, 2, 3, 4]
    assert len(PdfReader(out).pages) >= 1
    window.tasks.wait(10000)


def test_closing_the_window_stops_an_export_and_leaves_no_file(
        qtbot, db, study, three_patients, tmp_path, monkeypatch):
    out = tmp_path / "study.pdf"
    desktop = Desktop(monkeypatch, out)
    window = monitor_window(qtbot, db, study)
    started = threading.Event()
    release = threading.Event()
    real_analyse = reporting.analyse

    def slow_analyse(*args, **kwargs):  # holds the worker on the first patient
        started.set()
        release.wait(30)
        return real_analyse(*args, **kwargs)

    monkeypatch.setattr(reporting, "analyse", slow_analyse)
    window.actions_by_name["export_study"].trigger()
    assert started.wait(30)
    real_stop = window.report_export.stop

    def stop_then_release() -> None:  # the worker goes on only once the window said stop
        real_stop()
        release.set()

    monkeypatch.setattr(window.report_export, "stop", stop_then_release)
    window.close()

    assert window.tasks.wait(30000)
    assert not out.exists() and leftovers(tmp_path) == [] and desktop.opened == []


def test_a_report_finished_while_the_window_is_locked_opens_only_after_unlocking(
        open_window, patient, tmp_path, monkeypatch):
    """A long report can end after the idle lock came down: no patient data may open on
    an unattended screen; it opens once the user is back."""
    out = tmp_path / "patient.pdf"
    desktop = Desktop(monkeypatch, out)
    window = open_window("monitor")
    clock = [0.0]
    window.idle_lock.now = lambda: clock[0]
    window.idle_lock.last_input = 0.0
    clock[0] = 15 * 60 + 1
    window.idle_lock.check_idle()
    assert window.idle_lock.is_locked

    window.report_export.export_patient("101-001")  # the worker delivers while locked
    assert out.exists() and desktop.opened == []

    window.idle_lock.dialog.password.setText(PASSWORD)
    window.idle_lock.try_unlock()
    assert not window.idle_lock.is_locked
    assert desktop.opened == [out]
