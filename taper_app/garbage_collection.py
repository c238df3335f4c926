"""The cyclic garbage collector around work that makes many objects and no cycles.

Reference counting frees almost everything this program makes. The cyclic collector runs
as allocations pile up and walks every container object that is still alive, again and
again while a large set of long-lived objects is being built: imports at start-up, a
study's rows in a bulk read. Around those two, it is paused.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector (reference counting still frees everything); it runs as
    usual afterwards. Left disabled if someone else had disabled it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def startup_imports() -> Iterator[None]:
    """Around the window's imports: the collector paused, and what they made frozen after.

    The window's libraries (the Qt bindings, matplotlib, numpy, SQLAlchemy, this package)
    make a few hundred thousand objects that live as long as the program: their modules,
    classes and functions. The collector walked them over and over while they were made
    (0.15-0.3 s of a two-second start measured on a two-core machine, bench/findings.md),
    and each full collection of the session would walk them again. They are made with the
    collector paused, then moved to the permanent generation (``gc.freeze``), which no
    collection walks. Freezing takes every object alive at that moment, not only the
    imports': garbage in a reference cycle that the collector had not yet freed (an import's,
    or the demo study's set-up before it) is kept for the session instead: measured with
    ``gc.DEBUG_SAVEALL``, about 1,500 objects and 0.3 MB, 0.7 MB after ``--demo``.

    Frozen before the collector runs again: everything made while it was paused is in its
    youngest generation, which the first allocation after would have it walk whole.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
