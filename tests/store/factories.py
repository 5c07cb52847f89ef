"""Rows the store and ledger tests need, inserted directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import insert

from meeple.store.database import Store
from meeple.store.schema import players


async def add_players(store: Store, count: int) -> list[int]:
    """Insert ``count`` players; their ids."""
    now = datetime.now(UTC)
    ids = []
    async with store.begin() as conn:
        for _ in range(count):
            key = uuid.uuid4().hex
            result = await conn.execute(
                insert(players)
                .values(
                    username=key[:32],
                    username_key=key,
                    display_name="Player",
                    password_hash="x",
                    created_at=now,
                    updated_at=now,
                )
                .returning(players.c.id)
            )
            ids.append(int(result.scalar_one()))
    return ids
