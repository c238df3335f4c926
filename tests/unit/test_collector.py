"""The collector is paused around imports and bulk reads, and always comes back."""

from __future__ import annotations

import gc

import pytest

from taper_app.collector import collector_paused, startup_imports


@pytest.fixture
def collector():
    was = gc.isenabled()
    gc.enable()
    yield
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
