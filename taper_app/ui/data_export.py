"""The statisticians' exports from the window: CSV (dose records and daily series) or the
SDTM CM dataset into a folder chosen in a dialog, built off the GUI thread behind a
progress dialog. The files are those of ``taper-app export --format csv|sdtm``: the same
service calls (through the window's door), limited to the user's sites as on the command
line with ``--user``."""

from __future__ import annotations

import logging
from pathlib import Path

from ..services.context import ServiceContext
from ..services.errors import ServiceError
from ..services.gateway import StudyGateway, local_study
from ..services.study import StudyInfo
from ..storage.errors import DatabaseError
from . import messages
from .dialogs import DialogHost
from .qt import QMainWindow, QObject, QProgressDialog, Qt
from .tasks import TaskRunner
from .widgets import em

log = logging.getLogger(__name__)

FORMATS = {"csv": "CSV (dose records and daily series)", "sdtm": "SDTM CM dataset"}


class DataExport(QObject):
    """The window's "Export data (CSV)…" and "Export data (SDTM)…" actions."""

    def __init__(self, window: QMainWindow, ctx: ServiceContext | StudyGateway,
                 study: StudyInfo, tasks: TaskRunner) -> None:
        super().__init__(window)
        self.window = window
        self.ctx = local_study(ctx)
        self.study = study
        self.tasks = tasks
        self.folder = Path.home()
        self.progress_dialog: QProgressDialog | None = None

    def busy(self) -> bool:
        return self.progress_dialog is not None

    def export(self, kind: str) -> None:
        if self.busy():
            return
        folder = DialogHost.choose_folder(self.window, f"Export {FORMATS[kind]} into…",
                                          self.folder)
        if folder is None:
            return
        self.folder = folder
        ctx, study, as_of = self.ctx, self.study, self.ctx.today()
        dialog = QProgressDialog(f"Writing the {FORMATS[kind]} into {folder}…", "", 0, 0,
                                 self.window)
        dialog.setObjectName("export_progress")
        dialog.setWindowTitle("Export data")
        dialog.setCancelButton(None)  # the files are written whole or the export fails
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setMinimumWidth(em(self.window, 30))
        self.progress_dialog = dialog
        dialog.show()

        def work() -> list[Path]:
            return ctx.export_data(study, kind, folder, as_of)

        log.info("exporting %s into %s", kind, folder)
        self.tasks.submit(work, lambda paths: self._written(kind, paths),
                          lambda exc: self._failed(kind, folder, exc))

    def _close(self) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None

    def _written(self, kind: str, paths: list[Path]) -> None:
        self._close()
        names = ", ".join(p.name for p in paths)
        self.window.statusBar().showMessage(f"Exported {names} into {self.folder}", 15000)
        messages.inform(self.window, "Data exported",
                        f"{FORMATS[kind]}: {len(paths)} files written into {self.folder}",
                        names)

    def _failed(self, kind: str, folder: Path, exc: Exception) -> None:
        self._close()
        if isinstance(exc, OSError):
            messages.error(self.window, "The data were not exported",
                           f"{folder}: {exc.strerror or exc}")
            return
        if isinstance(exc, (ServiceError, DatabaseError)):
            messages.error(self.window, "The data were not exported", str(exc))
            return
        raise exc  # a bug, for the excepthook
