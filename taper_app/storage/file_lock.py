"""Who has a SQLite study file open: a lock every connection holds, and a note naming it.

Beside ``study.sqlite`` is a folder ``study.sqlite.in-use/``. Every connection to the
file holds its ``lock`` file *shared* from the moment it connects until it closes (an OS
lock: ``flock`` on POSIX, ``LockFileEx`` on Windows, so a crashed program's lock goes with
its process), and keeps a note ``PID-TOKEN.json`` saying which program, process, user and
computer it is, itself locked so a note left by a crash is told apart from a live one.

A restore takes the ``lock`` file *exclusively* (:func:`sole_use`): while any connection
of any program holds it, the restore is refused with the names from the live notes, and
the file is not touched. An idle window holds the lock just as a saving one does; SQLite's
own locks only exist during a transaction, so they cannot tell.

The ``lock`` file is never deleted (deleting a lock file lets two programs lock two
different files of one name); notes are, by their connection or by the next restore.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import secrets
import socket
import sys
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from .errors import DatabaseBusy

log = logging.getLogger(__name__)

#: How long a new connection waits while a restore holds the file (it takes a moment).
WAIT_FOR_RESTORE_S = 10.0


# ------------------------------------------------------------------ the OS lock, portably

if sys.platform == "win32":
    import ctypes
    import msvcrt
    from ctypes import wintypes

    class _Overlapped(ctypes.Structure):
        _fields_ = [("Internal", ctypes.c_size_t), ("InternalHigh", ctypes.c_size_t),
                    ("Offset", wintypes.DWORD), ("OffsetHigh", wintypes.DWORD),
                    ("hEvent", wintypes.HANDLE)]

    _kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    _LOCKFILE_FAIL_IMMEDIATELY = 0x1
    _LOCKFILE_EXCLUSIVE_LOCK = 0x2
    _ERROR_LOCK_VIOLATION = 33
    _ERROR_IO_PENDING = 997
    # One byte far beyond any content: Windows locks are mandatory for the bytes they
    # cover, and the notes must stay readable while locked.
    _LOCKED_BYTE_HIGH = 0x40

    def _overlapped() -> _Overlapped:
        return _Overlapped(0, 0, 0, _LOCKED_BYTE_HIGH, None)

    def _try_lock(handle: IO[bytes], exclusive: bool) -> bool:
        flags = _LOCKFILE_FAIL_IMMEDIATELY | (_LOCKFILE_EXCLUSIVE_LOCK if exclusive else 0)
        ok = _kernel32.LockFileEx(wintypes.HANDLE(msvcrt.get_osfhandle(handle.fileno())),
                                  flags, 0, 1, 0, ctypes.byref(_overlapped()))
        if ok:
            return True
        error = ctypes.get_last_error()
        if error in (_ERROR_LOCK_VIOLATION, _ERROR_IO_PENDING):
            return False
        raise ctypes.WinError(error)

    def _unlock(handle: IO[bytes]) -> None:
        _kernel32.UnlockFileEx(wintypes.HANDLE(msvcrt.get_osfhandle(handle.fileno())),
                               0, 1, 0, ctypes.byref(_overlapped()))
else:
    import fcntl

    def _try_lock(handle: IO[bytes], exclusive: bool) -> bool:
        # flock, not fcntl/lockf: its locks belong to the open file, so two connections in
        # one process hold two locks, and closing one does not drop the other's.
        try:
            fcntl.flock(handle.fileno(),
                        (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# ------------------------------------------------------------------ who holds the file

_program = ""


def name_this_program(name: str) -> None:
    """How this process is named to whoever finds the file in use ("taper-app import",
    "Taper Tracker window"); the doors call it once at start-up."""
    global _program
    _program = name


def this_program() -> str:
    if _program:
        return _program
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path(sys.executable)
    if script.name == "__main__.py":
        return script.parent.name.replace("_", "-")
    return script.name


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in the environment or the user database
        return "unknown user"


@dataclass(frozen=True)
class Holder:
    """One program with the file open, as its note says."""

    program: str
    pid: int
    user: str
    host: str
    since_utc: str

    def describe(self) -> str:
        if not self.pid:
            return self.program
        return (f"{self.program} (process {self.pid}, user {self.user} on {self.host}, "
                f"open since {self.since_utc})")


class StudyFileInUse(DatabaseBusy):
    """The study file is open in another program (or another window of this one), so it
    cannot be replaced; nothing was changed."""

    def __init__(self, path: Path, holders: list[Holder],
                 unnamed: str = "a program that is opening it just now",
                 then: str = "restore") -> None:
        who = "\n".join(f"- {h.describe()}" for h in holders) if holders else f"- {unnamed}"
        it = "them" if len(holders) > 1 else "it"
        super().__init__(f"{path.name} is open in another window or program:\n{who}\nClose "
                         f"{it} there first (or wait for {it} to finish), then {then}. "
                         "Nothing was changed.")
        self.path = path
        self.holders = holders


def lock_folder(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".in-use")


def _drop_note(note: IO[bytes], note_path: Path) -> None:
    try:
        note.close()  # closing drops its lock too
        note_path.unlink(missing_ok=True)
    except OSError as exc:
        log.info("in-use note %s not removed (%s); the next restore clears it", note_path, exc)


class ConnectionLock:
    """The shared lock and the note of one connection; :meth:`release` when it closes.

    A program that ends without closing its connections (a command's last act) removes
    its notes at exit, and keeps the lock itself until the process is gone."""

    def __init__(self, lock: IO[bytes], note: IO[bytes], note_path: Path) -> None:
        self._lock: IO[bytes] | None = lock
        # Runs on release, when this object is collected unreleased, or at exit.
        self._forget_note = weakref.finalize(self, _drop_note, note, note_path)

    @classmethod
    def take(cls, db_path: Path, *, wait_s: float = WAIT_FOR_RESTORE_S) -> ConnectionLock | None:
        """Hold the file shared for one connection. None when the folder cannot be written
        (a read-only place: SQLite cannot write there either, nor can a restore); raises
        :class:`DatabaseBusy` when a restore keeps it for longer than ``wait_s``."""
        folder = lock_folder(db_path)
        try:
            folder.mkdir(exist_ok=True)
            lock = open(folder / "lock", "a+b")  # noqa: SIM115 - held for the connection
        except OSError as exc:
            log.warning("%s: no in-use lock can be taken (%s); a restore cannot see this "
                        "connection", db_path, exc)
            return None
        deadline = time.monotonic() + wait_s
        while not _try_lock(lock, exclusive=False):
            if time.monotonic() >= deadline:
                lock.close()
                raise DatabaseBusy(f"{db_path.name} is being replaced by a backup (a restore "
                                   "in another window). Try again in a moment.")
            time.sleep(0.05)
        try:
            note_path = folder / f"{os.getpid()}-{secrets.token_hex(6)}.json"
            note = open(note_path, "x+b")  # noqa: SIM115 - held for the connection
        except OSError as exc:
            log.warning("%s: the in-use note cannot be written (%s)", db_path, exc)
            _unlock(lock)
            lock.close()
            return None
        held = cls(lock, note, note_path)
        _try_lock(note, exclusive=True)  # a new file: nobody else has it
        try:
            note.write(json.dumps({
                "program": this_program(), "pid": os.getpid(), "user": _user(),
                "host": socket.gethostname(),
                "since_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            }).encode())
            note.flush()
        except OSError as exc:  # a full disk, say: the lock holds all the same, unnamed
            log.warning("%s: the in-use note cannot be written (%s)", db_path, exc)
        return held

    def release(self) -> None:
        """The connection closed: its note goes first, then its share of the lock."""
        if self._lock is None:
            return
        try:
            self._forget_note()
        finally:
            self._lock.close()
            self._lock = None


def _read_note(path: Path) -> Holder | None:
    """The note's holder when a live connection holds it; None for a note left behind."""
    try:
        with open(path, "rb") as note:
            if _try_lock(note, exclusive=True):
                _unlock(note)
                return None  # its connection is gone (a crash): not in the way
            data: dict[str, Any] = json.loads(note.read().decode() or "{}")
    except (OSError, ValueError) as exc:
        log.info("in-use note %s unreadable (%s)", path, exc)
        return None
    if not data:
        return Holder("a program (its note is not written yet, or could not be)", 0, "?", "?",
                      "?")
    return Holder(str(data.get("program", "a program")), int(data.get("pid", 0)),
                  str(data.get("user", "?")), str(data.get("host", "?")),
                  str(data.get("since_utc", "?")))


def holders(db_path: Path) -> list[Holder]:
    """The programs that have the file open now, one entry per process."""
    folder = lock_folder(db_path)
    found: dict[tuple[str, int], Holder] = {}
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        holder = _read_note(path)
        if holder is not None:
            found.setdefault((holder.host, holder.pid), holder)
    return list(found.values())


@contextmanager
def sole_use(db_path: Path, *, then: str = "restore") -> Iterator[None]:
    """Hold the file exclusively (no connection of any program open, none opening) for
    the block; :class:`StudyFileInUse`, naming them, when some program has it open
    (``then``: what to do once they are closed, for the message)."""
    folder = lock_folder(db_path)
    folder.mkdir(exist_ok=True)
    with open(folder / "lock", "a+b") as lock:
        if not _try_lock(lock, exclusive=True):
            raise StudyFileInUse(db_path, holders(db_path), then=then)
        try:
            for left in folder.glob("*.json"):  # nobody holds a note while we hold this
                left.unlink(missing_ok=True)
            yield
        finally:
            _unlock(lock)
