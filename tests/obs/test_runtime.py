"""The collector tuning a server applies after start-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from meeple.obs.runtime import settle_heap


@pytest.fixture
def restore_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restore_gc")
def test_settle_heap_freezes_start_up_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    started = [object() for _ in range(10)]  # a start-up's long-lived objects
    settle_heap(12_345)
    assert gc.get_threshold()[0] == 12_345
    assert gc.get_freeze_count() > len(started)


@pytest.mark.usefixtures("restore_gc")
def test_zero_leaves_the_collector_alone() -> None:
    gc.unfreeze()
    before = gc.get_threshold()
    settle_heap(0)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
