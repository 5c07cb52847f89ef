"""Fixtures of the ledger tests: a Ledger on each backend and players to pay."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from meeple.ledger import Ledger
from meeple.store.database import Store
from meeple.store.schema import players

MakePlayers = Callable[[int], Awaitable[list[int]]]


async def add_players(store: Store, count: int) -> list[int]:
    """Insert ``count`` players directly; their ids."""
    now = datetime.now(UTC)
    ids = []
    async with store.begin() as conn:
        for _ in range(count):
            result = await conn.execute(
                insert(players)
                .values(
                    username="p",
                    username_key=uuid.uuid4().hex,
                    display_name="P",
                    password_hash="x",
                    created_at=now,
                    updated_at=now,
                )
                .returning(players.c.id)
            )
            ids.append(int(result.scalar_one()))
    return ids


@pytest.fixture
def ledger(store: Store) -> Ledger:
    """A ledger in USD over a fresh store."""
    return Ledger(store, "USD")


@pytest.fixture
def make_players(store: Store) -> MakePlayers:
    """Create players: ``await make_players(4)``."""

    async def make(count: int) -> list[int]:
        return await add_players(store, count)

    return make
