"""Opening the store: transactions fit the backend."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, insert, select

from meeple.store.database import Store
from meeple.store.schema import throttle


async def test_readers_do_not_wait_for_a_writer(store: Store) -> None:
    async with store.begin() as writer:
        await writer.execute(insert(throttle).values(key="k", count=1, window_start_ms=0))
        # A writer holds the lock (SQLite: BEGIN IMMEDIATE); a reader still reads at once
        # and sees only committed data.
        async with asyncio.timeout(5), store.connect() as reader:
            assert await reader.scalar(select(func.count()).select_from(throttle)) == 0
    async with store.connect() as reader:
        assert await reader.scalar(select(func.count()).select_from(throttle)) == 1


async def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    try:
        async with store.begin() as conn:
            await conn.execute(insert(throttle).values(key="k", count=1, window_start_ms=0))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with store.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(throttle)) == 0
    async with store.begin() as conn:
        await conn.execute(insert(throttle).values(key="k", count=1, window_start_ms=0))
