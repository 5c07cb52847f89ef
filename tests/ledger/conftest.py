"""Fixtures of the ledger tests: a Ledger on each backend and players to pay."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from meeple.ledger import Ledger
from meeple.store.database import Store
from tests.store.factories import add_players

MakePlayers = Callable[[int], Awaitable[list[int]]]


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
