"""PDF reports from the window: choose a file, build off the GUI thread with progress and
Cancel, then open the file. The PDFs are the same service calls as ``taper-app report``
(through the window's door: on the server, for the session's user, with no progress per
patient on the way).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from ..services.context import ServiceContext
from ..services.errors import ServiceError
from ..services.gateway import StudyGateway, local_study
from ..services.reporting import Progress, Report, ReportCancelled, write_report
from ..services.study import StudyInfo
from ..storage.errors import DatabaseError
from . import messages
from .dialogs import DialogHost
from .qt import QDesktopServices, QMainWindow, QObject, QProgressDialog, Qt, QUrl, Signal, Slot
from .tasks import TaskRunner
from .widgets import em

log = logging.getLogger(__name__)

#: Builds a report, calling ``progress`` and checking ``cancelled`` as it goes.
Builder = Callable[[Progress, Callable[[], bool]], Report]


def _file_name_part(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text).strip("-") or "study"


class ReportExport(QObject):
    """The window's "Export … report (PDF)…" actions."""

    #: (steps done, steps in all); emitted by the worker, delivered on the GUI thread.
    progressed = Signal(int, int)

    def __init__(self, window: QMainWindow, ctx: ServiceContext | StudyGateway,
                 study: StudyInfo, tasks: TaskRunner) -> None:
        super().__init__(window)
        self.window = window
        self.ctx = local_study(ctx)
        self.study = study
        self.tasks = tasks
        self.folder = Path.home() / "Documents" if (Path.home() / "Documents").is_dir() \
            else Path.home()
        self.progress_dialog: QProgressDialog | None = None
        self._stop: threading.Event | None = None
        self.progressed.connect(self._show_progress)

    @classmethod
    def open_document(cls, path: Path) -> bool:
        """Open the PDF in the desktop's viewer (tests replace this)."""
        return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))

    def busy(self) -> bool:
        return self.progress_dialog is not None

    def stop(self) -> None:
        """The window is closing: a report being built stops and writes nothing."""
        if self._stop is not None:
            self._stop.set()

    # ------------------------------------------------------------ the two reports

    def export_patient(self, subject_id: str | None) -> None:
        if subject_id is None or self.busy():
            return
        as_of = self.ctx.today()
        ctx, study = self.ctx, self.study

        def build(_progress: Progress, cancelled: Callable[[], bool]) -> Report:
            report = ctx.patient_report(study, subject_id, as_of)
            if cancelled():
                raise ReportCancelled("The report was cancelled; no file was written.")
            return report

        name = f"{_file_name_part(subject_id)}-report-{as_of.isoformat()}.pdf"
        self._export(f"Patient report for {subject_id}", name, build,
                     f"Building the report for {subject_id}…")

    def export_study(self) -> None:
        if self.busy():
            return
        as_of = self.ctx.today()
        ctx, study = self.ctx, self.study

        def build(progress: Progress, cancelled: Callable[[], bool]) -> Report:
            return ctx.cohort_report(study, as_of, progress, cancelled)

        name = f"{_file_name_part(study.name)}-study-report-{as_of.isoformat()}.pdf"
        self._export("Study report", name, build, "Analysing the patients…")

    # ------------------------------------------------------------ the work

    def _export(self, title: str, suggested: str, build: Builder, label: str) -> None:
        out = DialogHost.save_file(self.window, f"Export {title.lower()} (PDF)",
                                   self.folder / suggested)
        if out is None:
            return
        self.folder = out.parent
        stop = self._stop = threading.Event()
        dialog = QProgressDialog(label, "Cancel", 0, 0, self.window)
        dialog.setObjectName("report_progress")
        dialog.setWindowTitle(f"Export {title.lower()}")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAutoReset(False)
        dialog.setAutoClose(False)
        dialog.setMinimumDuration(0)
        dialog.setMinimumWidth(em(self.window, 28))
        # The Cancel button, closing the dialog and Esc (which rejects it) all stop the work.
        dialog.canceled.connect(stop.set)
        dialog.rejected.connect(stop.set)
        self.progress_dialog = dialog
        dialog.show()
        emit = self.progressed.emit  # safe from the worker: queued to the GUI thread

        def work() -> Report:
            report = build(emit, stop.is_set)
            if stop.is_set():
                raise ReportCancelled("The report was cancelled; no file was written.")
            return write_report(report, out)  # temp file then rename: never half a PDF

        log.info("exporting %s to %s", title, out)
        self.tasks.submit(work, lambda report: self._written(report, out, stop),
                          lambda exc: self._failed(exc, title))

    @Slot(int, int)
    def _show_progress(self, done: int, total: int) -> None:
        dialog = self.progress_dialog
        if dialog is None:
            return
        dialog.setMaximum(total)
        dialog.setValue(done)
        patients = total - 1
        dialog.setLabelText(f"Patient {done} of {patients}…" if done < total
                            else "Writing the PDF…")

    def _close_progress(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.canceled.disconnect()  # closing it here is not a Cancel
            self.progress_dialog.rejected.disconnect()
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None
        self._stop = None

    def _when_attended(self, show: Callable[[], None]) -> None:
        """Run ``show`` now, or, while the window is idle-locked, once it is unlocked: a
        report finished on an unattended screen must not open patient data over the lock."""
        lock = getattr(self.window, "idle_lock", None)
        if lock is None or not lock.is_locked:
            show()
            return

        def once() -> None:
            lock.unlocked.disconnect(once)
            show()

        lock.unlocked.connect(once)

    def _written(self, report: Report, out: Path, stop: threading.Event) -> None:
        self._close_progress()
        pages = f"{report.pages} page{'s' if report.pages != 1 else ''}"
        if stop.is_set():
            # Cancel came once the file was complete: it may have replaced an older file of
            # that name, so deleting it now would lose both. Keep it, say so, do not open it.
            self.window.statusBar().showMessage(
                f"Cancel came after the report was written: saved as {out} ({pages}).", 15000)
            return
        self.window.statusBar().showMessage(f"Saved {out} ({pages})", 15000)

        def open_it() -> None:
            if not self.open_document(out):
                messages.inform(self.window, "Report saved",
                                f"The report is saved as {out}; no PDF viewer could open it.")

        self._when_attended(open_it)

    def _cancelled(self) -> None:
        self.window.statusBar().showMessage("Export cancelled; no file was written.", 10000)

    def _failed(self, exc: Exception, title: str) -> None:
        self._close_progress()
        if isinstance(exc, ReportCancelled):
            self._cancelled()
            return
        if isinstance(exc, (ServiceError, DatabaseError)):
            self._when_attended(lambda: messages.error(self.window, f"{title}: not exported",
                                                       str(exc)))
            return
        raise exc  # a bug, for the excepthook
