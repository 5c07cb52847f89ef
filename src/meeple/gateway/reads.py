"""What the gateway reads from the store: read-only, committed data only.

The gateway never writes the store. It reads the event log to resume clients and
fill gaps (the engine commits before it publishes, so every published seq is
already here), and the player's games in progress for the welcome frame.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from meeple.store.database import Store
from meeple.store.schema import game_events, game_seats, games


@dataclass(frozen=True, slots=True)
class GameHead:
    """A game's status and the last seq of its event log."""

    game_id: str
    status: str
    last_seq: int


class GatewayReads:
    """Read queries on the Store port."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def active_games(self, player_id: int) -> list[str]:
        """Ids of the games in progress where the player has a seat, oldest first."""
        query = (
            select(games.c.id)
            .join(game_seats, game_seats.c.game_id == games.c.id)
            .where(game_seats.c.player_id == player_id, games.c.status == "active")
            .order_by(games.c.created_at)
        )
        async with self.store.connect() as conn:
            return [row[0] for row in await conn.execute(query)]

    async def head(self, game_id: str) -> GameHead | None:
        """The game's status and last seq, or None if there is no such game."""
        last = select(game_events.c.seq).where(game_events.c.game_id == game_id)
        query = select(games.c.status, games.c.last_seq).where(games.c.id == game_id)
        async with self.store.connect() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            # The log is the truth: games.last_seq may be maintained lazily by the writer.
            top = (await conn.execute(last.order_by(game_events.c.seq.desc()).limit(1))).scalar()
        return GameHead(game_id, str(row[0]), max(int(row[1] or 0), int(top or 0)))

    async def events_after(
        self, game_id: str, after_seq: int, *, until_seq: int | None = None, limit: int = 1000
    ) -> list[tuple[int, bytes]]:
        """Up to ``limit`` events with ``after_seq < seq (<= until_seq)``, in order."""
        query = select(game_events.c.seq, game_events.c.body).where(
            game_events.c.game_id == game_id, game_events.c.seq > after_seq
        )
        if until_seq is not None:
            query = query.where(game_events.c.seq <= until_seq)
        query = query.order_by(game_events.c.seq).limit(limit)
        async with self.store.connect() as conn:
            return [(int(seq), bytes(body)) for seq, body in await conn.execute(query)]
