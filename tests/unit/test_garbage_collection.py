"""The collector is paused around imports and bulk reads, and always comes back."""

from __future__ import annotations

import gc

import pytest

from taper_app.garbage_collection import collector_paused, startup_imports


@pytest.fixture
def collector():
    was, thresholds = gc.isenabled(), gc.get_threshold()
    gc.enable()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    if not was:
        gc.disable()


def test_paused_then_running_again_even_after_an_error(collector):
    with pytest.raises(ZeroDivisionError), collector_paused():
        assert not gc.isenabled()
        1 / 0  # noqa: B018
    assert gc.isenabled()


def test_left_disabled_when_someone_else_disabled_it(collector):
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_start_up_imports_are_frozen_and_the_collector_runs_after(collector):
    gc.unfreeze()
    with startup_imports():
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]  # what an import would leave (lists: tracked)
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)
    walked = {id(o) for o in gc.get_objects()}  # every generation a collection walks
    assert gc.is_tracked(made[0]) and id(made[0]) not in walked


def test_what_the_imports_made_is_frozen_before_the_collector_can_walk_it(collector):
    """Paused, everything made stays in the youngest generation: frozen only after the
    collector is back, the first allocation would have it walk all of that (0.14 s at the
    window's start)."""
    gc.unfreeze()
    walked: list[int] = []

    def count(phase, info):
        if phase == "start":
            walked.append(len(gc.get_objects(generation=0)))

    gc.callbacks.append(count)
    try:
        gc.set_threshold(1)  # any allocation once running again starts a collection
        with startup_imports():
            made = [[i] for i in range(5000)]
        [[i] for i in range(10)]  # allocations after: a collection, of nearly nothing
    finally:
        gc.callbacks.remove(count)
    assert walked and max(walked) < 1000 < len(made)
