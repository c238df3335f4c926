"""Long work off the GUI thread, results back on it; tests make it synchronous.

Work functions must not touch widgets: they get plain values from services and return
plain values; ``done`` and ``failed`` always run on the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from .qt import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)


class _Carrier(QObject):
    finished = Signal(int, object, object)  # job id, result, exception


class _Job(QRunnable):
    def __init__(self, job_id: int, work: Callable[[], Any], carrier: _Carrier) -> None:
        super().__init__()
        self.job_id = job_id
        self.work = work
        self.carrier = carrier

    def run(self) -> None:
        try:
            result = self.work()
        except Exception as exc:  # handed to the GUI thread, which decides what it means
            self.carrier.finished.emit(self.job_id, None, exc)
        else:
            self.carrier.finished.emit(self.job_id, result, None)


class TaskRunner(QObject):
    """Runs ``work`` in a thread pool and calls ``done(result)`` or ``failed(exc)`` on the
    GUI thread. With ``synchronous=True`` (tests) it runs at once, in the caller's thread."""

    def __init__(self, parent: QObject | None = None, *, synchronous: bool = False) -> None:
        super().__init__(parent)
        self.synchronous = synchronous
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[Callable[[Any], None],
                                       Callable[[Exception], None], _Carrier]] = {}

    def submit(self, work: Callable[[], Any], done: Callable[[Any], None],
               failed: Callable[[Exception], None]) -> None:
        if self.synchronous:
            try:
                result = work()
            except Exception as exc:
                failed(exc)
            else:
                done(result)
            return
        job_id = next(self._ids)
        carrier = _Carrier()  # lives in the GUI thread: its signal is queued back to it
        carrier.finished.connect(self._deliver)
        self._pending[job_id] = (done, failed, carrier)
        self._pool.start(_Job(job_id, work, carrier))

    @Slot(int, object, object)
    def _deliver(self, job_id: int, result: object, exc: object) -> None:
        pending = self._pending.pop(job_id, None)
        if pending is None:  # dropped at shutdown
            return
        done, failed, _carrier = pending
        if isinstance(exc, Exception):
            failed(exc)
        else:
            done(result)

    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for running work (at shutdown); results still pending are dropped."""
        finished = self._pool.waitForDone(msecs)
        self._pending.clear()
        return finished
