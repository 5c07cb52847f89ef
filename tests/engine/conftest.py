"""Fixtures of the engine tests: a running engine on a fresh SQLite store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meeple.store.database import Store
from tests.engine.harness import Harness, fast_settings


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    store = await Store.open(sqlite_url, migrate=False)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def harness(sqlite_store: Store, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(sqlite_store, fast_settings(tmp_path))
    await h.start()
    try:
        yield h
    finally:
        await h.close()
