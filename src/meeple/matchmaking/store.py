"""The matchmaker's rows: queue entries, pending games and their seats.

Each step of a game's making is one transaction, so a crash between steps leaves
something the next start-up can finish: a matched group's game row (pending) and
the removal of its queue entries commit together; the escrow is the ledger's own
idempotent transfer; activation is a status change from pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from meeple.store.database import Store
from meeple.store.schema import game_seats, games, players, queue_entries, ratings

DEFAULT_RATING = 1500
"""A new player's displayed rating (the engine's openskill default, mu - 3 sigma = 0)."""


@dataclass(frozen=True, slots=True)
class QueueKey:
    """One queue: players wanting the same game, time control and stake."""

    game: str
    base_ms: int
    increment_ms: int
    stake: int


@dataclass(frozen=True, slots=True)
class Entry:
    """A waiting player."""

    player_id: int
    key: QueueKey
    rating: int
    enqueued_ms: int


@dataclass(frozen=True, slots=True)
class Pending:
    """A game not started yet: its seats so far (player ids by seat)."""

    id: str
    game: str
    seats: int
    base_ms: int
    increment_ms: int
    stake: int
    invite_code: str | None
    players: tuple[int, ...]


class Busy(Exception):
    """A player already in a queue or a staked game, found inside the write that would
    have put them in another (the early checks of several matchmakers can race)."""

    def __init__(self, player_id: int, code: str, message: str) -> None:
        super().__init__(message)
        self.player_id = player_id
        self.code = code
        self.message = message


class MatchStore:
    """Queue and pending-game reads and writes.

    Several matchmakers may write at once. A player's queue entry is unique (its
    primary key), a matched group's entries are deleted in the transaction that seats
    them (a second matcher deletes fewer rows and rolls back), and every write that
    puts a player in a staked queue or game first locks the player's row and checks,
    inside the transaction, that they are in no other queue or staked game.
    """

    def __init__(self, store: Store, currency: str) -> None:
        self.store = store
        self.currency = currency

    async def rating(self, player_id: int, game: str) -> int:
        """The player's displayed rating in ``game`` (new players: the default)."""
        async with self.store.connect() as conn:
            value = await conn.scalar(
                select(ratings.c.rating).where(
                    ratings.c.player_id == player_id, ratings.c.game == game
                )
            )
        return int(value) if value is not None else DEFAULT_RATING

    async def usernames(self, player_ids: Sequence[int]) -> dict[int, str]:
        """Usernames by player id."""
        async with self.store.connect() as conn:
            rows = await conn.execute(
                select(players.c.id, players.c.username).where(players.c.id.in_(player_ids))
            )
            return {int(r.id): str(r.username) for r in rows}

    async def entry(self, player_id: int) -> Entry | None:
        """The player's queue entry, if queued."""
        async with self.store.connect() as conn:
            row = (
                await conn.execute(
                    select(queue_entries).where(queue_entries.c.player_id == player_id)
                )
            ).first()
        return None if row is None else _entry(row)

    async def entries(self) -> list[Entry]:
        """Every waiting player, oldest first."""
        async with self.store.connect() as conn:
            rows = await conn.execute(select(queue_entries).order_by(queue_entries.c.enqueued_ms))
            return [_entry(r) for r in rows]

    async def queue_size(self, key: QueueKey) -> int:
        """Players waiting in one queue (a count on the queue's index, not a read of
        every entry: a surge of joins must not cost the square of the queue)."""
        async with self.store.connect() as conn:
            count = await conn.scalar(
                select(func.count())
                .select_from(queue_entries)
                .where(
                    queue_entries.c.game == key.game,
                    queue_entries.c.base_ms == key.base_ms,
                    queue_entries.c.increment_ms == key.increment_ms,
                    queue_entries.c.stake == key.stake,
                )
            )
        return int(count or 0)

    async def staked_game(self, player_id: int) -> str | None:
        """A staked game (pending or active) the player sits in, if any."""
        async with self.store.connect() as conn:
            value = await conn.scalar(_staked_game(player_id))
        return None if value is None else str(value)

    async def enqueue(self, entries: Sequence[Entry]) -> bool:
        """Add queue entries; False if a player is already queued (nothing added)."""
        rows = [
            {
                "player_id": e.player_id,
                "game": e.key.game,
                "base_ms": e.key.base_ms,
                "increment_ms": e.key.increment_ms,
                "stake": e.key.stake,
                "rating": e.rating,
                "enqueued_ms": e.enqueued_ms,
            }
            for e in entries
        ]
        if not rows:
            return True
        try:
            async with self.store.begin() as conn:
                for entry in entries:
                    if entry.key.stake > 0:
                        await _lock_player(conn, entry.player_id)
                        await _no_staked_game(conn, entry.player_id)
                await conn.execute(insert(queue_entries), rows)
        except IntegrityError:
            return False
        return True

    async def dequeue(self, player_id: int) -> Entry | None:
        """Remove the player's entry; the entry removed, if any."""
        async with self.store.begin() as conn:
            row = (
                await conn.execute(
                    select(queue_entries).where(queue_entries.c.player_id == player_id)
                )
            ).first()
            if row is None:
                return None
            await conn.execute(delete(queue_entries).where(queue_entries.c.player_id == player_id))
        return _entry(row)

    async def create_from_queue(self, game_id: str, group: Sequence[Entry]) -> bool:
        """The pending game of a matched group and the removal of their entries, atomically.

        False (and nothing written) if one of them left the queue meanwhile.
        """
        key = group[0].key
        try:
            async with self.store.begin() as conn:
                await self._match(conn, game_id, key, group)
        except _Left:
            return False
        return True

    async def _match(
        self, conn: AsyncConnection, game_id: str, key: QueueKey, group: Sequence[Entry]
    ) -> None:
        gone = await conn.execute(
            delete(queue_entries).where(
                queue_entries.c.player_id.in_([e.player_id for e in group]),
                queue_entries.c.game == key.game,
                queue_entries.c.base_ms == key.base_ms,
                queue_entries.c.increment_ms == key.increment_ms,
                queue_entries.c.stake == key.stake,
            )
        )
        if gone.rowcount != len(group):
            raise _Left  # rolls the transaction back
        await self._insert_game(conn, game_id, key, len(group), None)
        await conn.execute(
            insert(game_seats),
            [
                {"game_id": game_id, "seat": seat, "player_id": e.player_id}
                for seat, e in enumerate(group)
            ],
        )

    async def create_private(
        self, game_id: str, key: QueueKey, seats: int, code: str, creator: int
    ) -> None:
        """A pending private game with its creator in seat 0."""
        async with self.store.begin() as conn:
            if key.stake > 0:
                await _lock_player(conn, creator)
                await _not_queued(conn, creator)
                await _no_staked_game(conn, creator)
            await self._insert_game(conn, game_id, key, seats, code)
            await conn.execute(
                insert(game_seats).values(game_id=game_id, seat=0, player_id=creator)
            )

    async def _insert_game(
        self, conn: AsyncConnection, game_id: str, key: QueueKey, seats: int, code: str | None
    ) -> None:
        await conn.execute(
            insert(games).values(
                id=game_id,
                game=key.game,
                options={},
                seats=seats,
                base_ms=key.base_ms,
                increment_ms=key.increment_ms,
                stake=key.stake,
                currency=self.currency,
                status="pending",
                invite_code=code,
                last_seq=0,
                settled=False,
                created_at=datetime.now(UTC),
            )
        )

    async def by_code(self, code: str) -> Pending | None:
        """The pending private game with this invite code."""
        async with self.store.connect() as conn:
            game_id = await conn.scalar(
                select(games.c.id).where(games.c.invite_code == code, games.c.status == "pending")
            )
        return None if game_id is None else await self.pending(str(game_id))

    async def pending(self, game_id: str) -> Pending | None:
        """A pending game and its seats so far."""
        async with self.store.connect() as conn:
            row = (
                await conn.execute(
                    select(games).where(games.c.id == game_id, games.c.status == "pending")
                )
            ).first()
            if row is None:
                return None
            seated = await conn.execute(
                select(game_seats.c.player_id)
                .where(game_seats.c.game_id == game_id)
                .order_by(game_seats.c.seat)
            )
            return Pending(
                id=row.id,
                game=row.game,
                seats=int(row.seats),
                base_ms=int(row.base_ms),
                increment_ms=int(row.increment_ms),
                stake=int(row.stake),
                invite_code=row.invite_code,
                players=tuple(int(r.player_id) for r in seated),
            )

    async def pending_ids(self) -> list[str]:
        """Every pending game, oldest first (start-up recovery)."""
        async with self.store.connect() as conn:
            rows = await conn.execute(
                select(games.c.id).where(games.c.status == "pending").order_by(games.c.created_at)
            )
            return [str(r.id) for r in rows]

    async def take_seat(self, game_id: str, player_id: int) -> int | None:
        """Seat the player in the next free seat of a pending game; None if it is full."""
        try:
            async with self.store.begin() as conn:
                row = (
                    await conn.execute(
                        select(games.c.seats, games.c.stake).where(
                            games.c.id == game_id, games.c.status == "pending"
                        )
                    )
                ).first()
                if row is not None and int(row.stake) > 0:
                    await _lock_player(conn, player_id)
                    await _not_queued(conn, player_id)
                    await _no_staked_game(conn, player_id)
                taken = await conn.scalar(
                    select(func.count()).where(game_seats.c.game_id == game_id)
                )
                if row is None or int(taken or 0) >= int(row.seats):
                    return None
                seat = int(taken or 0)
                await conn.execute(
                    insert(game_seats).values(game_id=game_id, seat=seat, player_id=player_id)
                )
        except IntegrityError:
            return None  # someone took it at the same moment
        return seat

    async def unseat(self, game_id: str, player_id: int) -> None:
        """Remove a player from a pending game, closing the gap in the seat numbers."""
        async with self.store.begin() as conn:
            rows = await conn.execute(
                select(game_seats.c.seat, game_seats.c.player_id)
                .where(game_seats.c.game_id == game_id)
                .order_by(game_seats.c.seat)
            )
            keep = [int(r.player_id) for r in rows if int(r.player_id) != player_id]
            await conn.execute(delete(game_seats).where(game_seats.c.game_id == game_id))
            if keep:
                await conn.execute(
                    insert(game_seats),
                    [{"game_id": game_id, "seat": s, "player_id": p} for s, p in enumerate(keep)],
                )

    async def set_status(self, game_id: str, status: str, result: object = None) -> bool:
        """Move a pending game to ``status`` (active or aborted); False if not pending."""
        now = datetime.now(UTC)
        values: dict[str, object] = {"status": status}
        if status == "active":
            values["started_at"] = now
        else:
            values["ended_at"] = now
            values["result"] = result
        async with self.store.begin() as conn:
            done = await conn.execute(
                update(games)
                .where(games.c.id == game_id, games.c.status == "pending")
                .values(**values)
            )
        return bool(done.rowcount == 1)


async def _lock_player(conn: AsyncConnection, player_id: int) -> None:
    """Serialize this player's staked writes (PostgreSQL row lock; SQLite's writes are
    serialized already by BEGIN IMMEDIATE)."""
    await conn.execute(select(players.c.id).where(players.c.id == player_id).with_for_update())


async def _not_queued(conn: AsyncConnection, player_id: int) -> None:
    queued = await conn.scalar(
        select(queue_entries.c.player_id).where(queue_entries.c.player_id == player_id)
    )
    if queued is not None:
        raise Busy(player_id, "already_queued", "you are already in a queue; leave it first")


def _staked_game(player_id: int) -> Select[tuple[str]]:
    """The id of a staked game (pending or active) the player sits in."""
    return (
        select(games.c.id)
        .join(game_seats, game_seats.c.game_id == games.c.id)
        .where(
            game_seats.c.player_id == player_id,
            games.c.stake > 0,
            games.c.status.in_(("pending", "active")),
        )
        .limit(1)
    )


async def _no_staked_game(conn: AsyncConnection, player_id: int) -> None:
    game_id = await conn.scalar(_staked_game(player_id))
    if game_id is not None:
        raise Busy(player_id, "already_playing", "you already have a staked game in progress")


class _Left(Exception):
    """A matched player left the queue before the game was made."""


def _entry(row: object) -> Entry:
    r = row._mapping  # type: ignore[attr-defined]
    key = QueueKey(str(r["game"]), int(r["base_ms"]), int(r["increment_ms"]), int(r["stake"]))
    return Entry(int(r["player_id"]), key, int(r["rating"]), int(r["enqueued_ms"]))
