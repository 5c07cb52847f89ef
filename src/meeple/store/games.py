"""The games repository: games, their seats and their event logs (DESIGN.md inv. 1-3).

Every game has one ordered log of events, contiguous from seq 1. Writers append
with the seq they expect the log to be at; the append is a compare-and-set on
``games.last_seq`` (which also locks the game's row, so two writers of one game
queue on PostgreSQL and SQLite alike) backed by the ``(game_id, seq)`` primary
key, so a stale or racing writer is refused with :class:`SequenceConflict` and
writes nothing. A command's outcome (at most once per command id) and the game's
status/result change in the same transaction as its events.

:meth:`Games.append_many` writes many games' appends in ONE commit (one fsync),
each in its own savepoint: a conflicting item is rolled back alone and reported,
the others commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from asyncpg.exceptions import IntegrityConstraintViolationError  # type: ignore[import-untyped]
from sqlalchemy import Row, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from meeple.store.batch import PgBatch, Redo, SqliteBatch, pg_outcomes, sqlite_outcomes
from meeple.store.database import Store
from meeple.store.errors import (
    DuplicateCommand,
    GameClosed,
    GameExists,
    SequenceConflict,
    StoreError,
    UnknownGame,
)
from meeple.store.records import (
    OPEN,
    STATUSES,
    Append,
    Appended,
    CommandRecord,
    Json,
    NewEvent,
)
from meeple.store.schema import game_commands, game_events, game_seats, game_snapshots, games

__all__ = [
    "Append",
    "Appended",
    "CommandOutcome",
    "CommandRecord",
    "Event",
    "Game",
    "Games",
    "Json",
    "NewEvent",
    "Snapshot",
]


@dataclass(frozen=True, slots=True)
class Event:
    """An event of a game's log."""

    game_id: str
    seq: int
    kind: str
    seat: int | None
    body: bytes
    ts_ms: int


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """A recorded command outcome: ``first_seq..last_seq`` are the events it caused."""

    game_id: str
    player_id: int
    command_id: str
    first_seq: int | None
    last_seq: int | None
    outcome: Json
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Game:
    """A game as stored; ``players[seat]`` is the player id in that seat."""

    id: str
    game: str
    options: Json
    players: tuple[int, ...]
    base_ms: int
    increment_ms: int
    stake: int
    currency: str
    status: str
    invite_code: str | None
    last_seq: int
    result: Json
    settled: bool
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The game state (rules encoding) and clocks after ``seq``."""

    game_id: str
    seq: int
    state: bytes
    clocks: Json
    created_at: datetime


class Games:
    """Games, seats, event logs, command outcomes and snapshots over a :class:`Store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    # --------------------------------------------------------------- games

    async def create(
        self,
        game_id: str,
        *,
        game: str,
        players: Sequence[int],
        currency: str,
        options: Json = None,
        base_ms: int = 0,
        increment_ms: int = 0,
        stake: int = 0,
        status: str = "pending",
        invite_code: str | None = None,
    ) -> Game:
        """Create a game with its seats (``players[i]`` sits in seat i)."""
        if status not in OPEN:
            raise ValueError(f"a game is created pending or active, not {status!r}")
        now = datetime.now(UTC)
        try:
            async with self._store.begin() as conn:
                await conn.execute(
                    insert(games).values(
                        id=game_id,
                        game=game,
                        options=options if options is not None else {},
                        seats=len(players),
                        base_ms=base_ms,
                        increment_ms=increment_ms,
                        stake=stake,
                        currency=currency,
                        status=status,
                        invite_code=invite_code,
                        last_seq=0,
                        settled=False,
                        created_at=now,
                        started_at=now if status == "active" else None,
                    )
                )
                if players:
                    await conn.execute(
                        insert(game_seats),
                        [
                            {"game_id": game_id, "seat": seat, "player_id": player}
                            for seat, player in enumerate(players)
                        ],
                    )
        except IntegrityError:
            if await self.get(game_id) is not None:
                raise GameExists(game_id) from None
            raise
        found = await self.get(game_id)
        assert found is not None
        return found

    async def get(self, game_id: str) -> Game | None:
        """The game, or None."""
        async with self._store.connect() as conn:
            row = (await conn.execute(select(games).where(games.c.id == game_id))).first()
            if row is None:
                return None
            seats = await self._players(conn, [game_id])
        return _game(row, seats.get(game_id, ()))

    async def by_status(self, *statuses: str, limit: int = 100) -> list[Game]:
        """Games in any of ``statuses`` (all if none), oldest first."""
        query = select(games).order_by(games.c.created_at, games.c.id).limit(limit)
        if statuses:
            query = query.where(games.c.status.in_(statuses))
        async with self._store.connect() as conn:
            rows = (await conn.execute(query)).all()
            seats = await self._players(conn, [r.id for r in rows])
        return [_game(r, seats.get(r.id, ())) for r in rows]

    async def _players(
        self, conn: AsyncConnection, game_ids: list[str]
    ) -> dict[str, tuple[int, ...]]:
        if not game_ids:
            return {}
        rows = await conn.execute(
            select(game_seats.c.game_id, game_seats.c.player_id)
            .where(game_seats.c.game_id.in_(game_ids))
            .order_by(game_seats.c.game_id, game_seats.c.seat)
        )
        out: dict[str, list[int]] = {}
        for row in rows:
            out.setdefault(row.game_id, []).append(int(row.player_id))
        return {k: tuple(v) for k, v in out.items()}

    async def finish(
        self,
        game_id: str,
        expected_seq: int,
        result: Json,
        events: Sequence[NewEvent] = (),
        *,
        command: CommandRecord | None = None,
    ) -> Appended:
        """Append the last ``events`` and mark the game finished with ``result``."""
        return await self.append(
            game_id, expected_seq, events, command=command, status="finished", result=result
        )

    async def abort(
        self, game_id: str, expected_seq: int, result: Json, events: Sequence[NewEvent] = ()
    ) -> Appended:
        """Append ``events`` and mark the game aborted with ``result`` (e.g. the reason)."""
        return await self.append(game_id, expected_seq, events, status="aborted", result=result)

    # ------------------------------------------------------------------ log

    async def append(
        self,
        game_id: str,
        expected_seq: int,
        events: Sequence[NewEvent],
        *,
        command: CommandRecord | None = None,
        status: str | None = None,
        result: Json = None,
    ) -> Appended:
        """Append ``events`` as seqs ``expected_seq + 1 ...``, in one commit.

        Raises :class:`SequenceConflict` if the log is not at ``expected_seq``,
        :class:`GameClosed`, :class:`UnknownGame` or :class:`DuplicateCommand`;
        then nothing was written.
        """
        item = Append(game_id, expected_seq, tuple(events), command, status, result)
        try:
            async with self._store.begin() as conn:
                return await self._append(conn, item, datetime.now(UTC))
        except IntegrityError:
            raise await self._explain(item) from None

    async def append_many(self, items: Sequence[Append]) -> list[Appended | StoreError]:
        """Append to many games in ONE commit; per item, what happened (input order).

        An item that fails (stale seq, closed or unknown game, duplicate command)
        writes nothing and its error is returned in its place; the others commit.
        Items are applied in game id order (a fixed lock order: two batches never
        deadlock); several items of one game apply in their given order.

        The fast path checks every item's seq (compare-and-set) and then writes all
        events and commands with one statement each. Should a write hit a constraint
        (a duplicate command: rare, the engine looks commands up first), the batch is
        rolled back and redone with one savepoint per item.
        """
        order = sorted(range(len(items)), key=lambda i: items[i].game_id)
        now = datetime.now(UTC)
        writer = self._store.sqlite_writer
        dialect = self._store.engine.dialect
        try:
            if writer is not None:
                return await writer.run(SqliteBatch(items, order, now, dialect).write)
            if self._store.dialect == "postgresql":
                async with self._asyncpg() as pg:
                    return await PgBatch(items, order, now, dialect).write(pg)
            async with self._store.begin() as conn:  # SQLite in memory
                return await self._append_fast(conn, items, order, now)
        except (Redo, IntegrityError, sqlite3.IntegrityError, IntegrityConstraintViolationError):
            pass
        outcomes: list[Appended | StoreError | None] = [None] * len(items)
        async with self._store.begin() as conn:
            for i in order:
                try:
                    async with conn.begin_nested():
                        outcomes[i] = await self._append(conn, items[i], now)
                except StoreError as exc:
                    outcomes[i] = exc
                except IntegrityError:
                    outcomes[i] = await self._explain(items[i], conn)
        return [o for o in outcomes if o is not None]

    async def _append_fast(
        self, conn: AsyncConnection, items: Sequence[Append], order: list[int], now: datetime
    ) -> list[Appended | StoreError]:
        outcomes: list[Appended | StoreError | None] = [None] * len(items)
        for i in order:
            try:
                outcomes[i] = await self._claim(conn, items[i], now)
            except StoreError as exc:
                outcomes[i] = exc
        claimed = [items[i] for i in order if isinstance(outcomes[i], Appended)]
        events = [row for item in claimed for row in _event_rows(item)]
        if events:
            await conn.execute(insert(game_events), events)
        commands = [_command_row(item, now) for item in claimed if item.command is not None]
        if commands:
            upsert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
            recorded = await conn.execute(
                upsert(game_commands)
                .on_conflict_do_nothing()
                .returning(game_commands.c.command_id),
                commands,
            )
            if len(recorded.all()) != len(commands):
                raise Redo  # a duplicate command: find it item by item
        return [o for o in outcomes if o is not None]

    async def _append(self, conn: AsyncConnection, item: Append, now: datetime) -> Appended:
        appended = await self._claim(conn, item, now)
        if item.events:
            await conn.execute(insert(game_events), _event_rows(item))
        if item.command is not None:
            upsert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
            recorded = await conn.execute(
                upsert(game_commands).values(**_command_row(item, now)).on_conflict_do_nothing()
            )
            if recorded.rowcount != 1:
                command = item.command
                raise DuplicateCommand(item.game_id, command.player_id, command.command_id)
        return appended

    async def _claim(self, conn: AsyncConnection, item: Append, now: datetime) -> Appended:
        """Move the game's last_seq from expected to its new value, or refuse."""
        if item.status is not None and item.status not in STATUSES:
            raise ValueError(f"unknown game status {item.status!r}")
        last = item.expected_seq + len(item.events)
        values: dict[str, Any] = {"last_seq": last}
        if item.status is not None:
            values["status"] = item.status
            if item.status == "active":
                values["started_at"] = func.coalesce(games.c.started_at, now)
            elif item.status in ("finished", "aborted"):
                values["ended_at"] = now
        if item.result is not None:
            values["result"] = item.result
        # Compare-and-set: this also takes the game row's lock until commit.
        done = await conn.execute(
            update(games)
            .where(
                games.c.id == item.game_id,
                games.c.last_seq == item.expected_seq,
                games.c.status.in_(OPEN),
            )
            .values(**values)
        )
        if done.rowcount != 1:
            raise await self._refusal(conn, item)
        return Appended(item.game_id, item.expected_seq + 1, last)

    async def _refusal(self, conn: AsyncConnection, item: Append) -> StoreError:
        row = (
            await conn.execute(
                select(games.c.last_seq, games.c.status).where(games.c.id == item.game_id)
            )
        ).first()
        if row is None:
            return UnknownGame(item.game_id)
        if row.last_seq != item.expected_seq:
            return SequenceConflict(item.game_id, item.expected_seq, int(row.last_seq))
        return GameClosed(item.game_id, row.status)

    async def _explain(self, item: Append, conn: AsyncConnection | None = None) -> StoreError:
        """Why an append hit a constraint (the log and last_seq disagreed, or a race)."""
        if conn is None:
            async with self._store.connect() as fresh:
                return await self._explain(item, fresh)
        refusal = await self._refusal(conn, item)
        if isinstance(refusal, GameClosed):
            # last_seq matched: events beyond it exist, so the log is ahead of its counter.
            actual = await conn.scalar(
                select(func.max(game_events.c.seq)).where(game_events.c.game_id == item.game_id)
            )
            return SequenceConflict(item.game_id, item.expected_seq, int(actual or 0))
        return refusal

    async def events_after(
        self, game_id: str, after_seq: int = 0, *, limit: int = 1000
    ) -> list[Event]:
        """Up to ``limit`` events with seq > ``after_seq``, in order."""
        async with self._store.connect() as conn:
            rows = await conn.execute(
                select(game_events)
                .where(game_events.c.game_id == game_id, game_events.c.seq > after_seq)
                .order_by(game_events.c.seq)
                .limit(limit)
            )
            return [
                Event(r.game_id, int(r.seq), r.kind, r.seat, bytes(r.body), int(r.ts_ms))
                for r in rows
            ]

    async def command(self, game_id: str, player_id: int, command_id: str) -> CommandOutcome | None:
        """The recorded outcome of a command, if it was seen before."""
        c = game_commands.c
        async with self._store.connect() as conn:
            row = (
                await conn.execute(
                    select(game_commands).where(
                        c.game_id == game_id, c.player_id == player_id, c.command_id == command_id
                    )
                )
            ).first()
        if row is None:
            return None
        return CommandOutcome(
            game_id=row.game_id,
            player_id=int(row.player_id),
            command_id=row.command_id,
            first_seq=row.first_seq,
            last_seq=row.last_seq,
            outcome=row.outcome,
            created_at=_aware(row.created_at),
        )

    async def outcomes(
        self, keys: Sequence[tuple[str, int, str]]
    ) -> dict[tuple[str, int, str], Json]:
        """The recorded outcomes of these ``(game_id, player_id, command_id)`` commands
        (the ones never seen are absent): one look-up for a whole batch."""
        if not keys:
            return {}
        writer = self._store.sqlite_writer
        if writer is not None:
            decode = game_commands.c.outcome.type.dialect_impl(self._store.engine.dialect)
            from_json = decode.result_processor(self._store.engine.dialect, None)
            assert from_json is not None
            found = await writer.run(lambda conn: sqlite_outcomes(conn, keys))
            return {key: from_json(raw) for key, raw in found.items()}
        if self._store.dialect == "postgresql":
            async with self._asyncpg() as pg:
                return await pg_outcomes(pg, keys)
        c = game_commands.c
        out: dict[tuple[str, int, str], Json] = {}
        async with self._store.connect() as conn:
            for start in range(0, len(keys), 200):
                chunk = keys[start : start + 200]
                where = or_(
                    *(
                        and_(c.game_id == g, c.player_id == p, c.command_id == i)
                        for g, p, i in chunk
                    )
                )
                rows = await conn.execute(
                    select(c.game_id, c.player_id, c.command_id, c.outcome).where(where)
                )
                for r in rows:
                    out[(r.game_id, int(r.player_id), r.command_id)] = r.outcome
        return out

    @asynccontextmanager
    async def _asyncpg(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection's asyncpg connection, for the batch paths' own SQL."""
        async with self._store.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            yield raw.driver_connection

    # ------------------------------------------------------------ snapshots

    async def save_snapshot(self, game_id: str, seq: int, state: bytes, clocks: Json) -> None:
        """Keep the state after ``seq`` (a second save of the same seq is a no-op)."""
        upsert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
        async with self._store.begin() as conn:
            await conn.execute(
                upsert(game_snapshots)
                .values(
                    game_id=game_id,
                    seq=seq,
                    state=state,
                    clocks=clocks,
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()
            )

    async def latest_snapshot(self, game_id: str) -> Snapshot | None:
        """The snapshot with the highest seq, if any."""
        s = game_snapshots.c
        async with self._store.connect() as conn:
            row = (
                await conn.execute(
                    select(game_snapshots)
                    .where(s.game_id == game_id)
                    .order_by(s.seq.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        return Snapshot(
            row.game_id, int(row.seq), bytes(row.state), row.clocks, _aware(row.created_at)
        )


def _event_rows(item: Append) -> list[dict[str, Any]]:
    return [
        {
            "game_id": item.game_id,
            "seq": item.expected_seq + 1 + n,
            "kind": e.kind,
            "seat": e.seat,
            "body": e.body,
            "ts_ms": e.ts_ms,
        }
        for n, e in enumerate(item.events)
    ]


def _command_row(item: Append, now: datetime) -> dict[str, Any]:
    command = item.command
    assert command is not None
    return {
        "game_id": item.game_id,
        "player_id": command.player_id,
        "command_id": command.command_id,
        "first_seq": item.expected_seq + 1 if item.events else None,
        "last_seq": item.expected_seq + len(item.events) if item.events else None,
        "outcome": command.outcome,
        "created_at": now,
    }


def _game(row: Row[Any], players: tuple[int, ...]) -> Game:
    return Game(
        id=row.id,
        game=row.game,
        options=row.options,
        players=players,
        base_ms=int(row.base_ms),
        increment_ms=int(row.increment_ms),
        stake=int(row.stake),
        currency=row.currency,
        status=row.status,
        invite_code=row.invite_code,
        last_seq=int(row.last_seq),
        result=row.result,
        settled=bool(row.settled),
        created_at=_aware(row.created_at),
        started_at=_aware(row.started_at) if row.started_at else None,
        ended_at=_aware(row.ended_at) if row.ended_at else None,
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
