"""Lean batch paths of :meth:`meeple.store.games.Games.append_many` (and the batch
look-up of command outcomes), one per backend, below SQLAlchemy.

Through SQLAlchemy every statement of a batch costs a driver round trip (on
SQLite, a hop to aiosqlite's thread and back, plus greenlet switches): a batch of
32 appends was ~35 statements and ~0.5 ms of CPU per item. Here a batch is a
handful of statements whatever its size:

- SQLite: one function on the store's writer thread (:mod:`.sqlite_writer`):
  ``BEGIN IMMEDIATE``, a compare-and-set per item (C-speed), one ``executemany``
  per table, ``COMMIT``.
- PostgreSQL (asyncpg): lock the batch's game rows in id order, one
  compare-and-set ``UPDATE ... FROM unnest(...)`` per "round" (usually one: the
  k-th round holds each game's k-th item), one ``INSERT ... SELECT unnest(...)``
  per table.

Same SQL semantics as the SQLAlchemy path, values encoded by the columns' own
SQLAlchemy types (every other reader sees the same bytes), same durability
(synchronous=FULL / synchronous_commit=on: the commit returns once on disk). A
constraint hit (a duplicate command, a log ahead of its counter) rolls the whole
batch back and raises (:class:`Redo` or the driver's integrity error): the caller
redoes the batch item by item with savepoints.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import Dialect

from meeple.store.errors import GameClosed, SequenceConflict, StoreError, UnknownGame
from meeple.store.records import STATUSES, Append, Appended, Json
from meeple.store.schema import game_commands, games

CommandKey = tuple[str, int, str]


class Redo(Exception):
    """The fast batch path met a constraint: redo the batch item by item."""


_CLAIM_WHERE = " WHERE id = ? AND last_seq = ? AND status IN ('pending', 'active')"
_INSERT_EVENTS = (
    "INSERT INTO game_events (game_id, seq, kind, seat, body, ts_ms) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_COMMANDS = (
    "INSERT INTO game_commands"
    " (game_id, player_id, command_id, first_seq, last_seq, outcome, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def sqlite_outcomes(
    conn: sqlite3.Connection, keys: Sequence[tuple[str, int, str]]
) -> dict[tuple[str, int, str], Any]:
    """Stored ``outcome`` texts of these commands (on the SQLite writer's thread)."""
    # Primary-key look-ups, each a few microseconds in C; no transaction (autocommit).
    sql = "SELECT outcome FROM game_commands WHERE game_id = ? AND player_id = ? AND command_id = ?"
    found = {}
    for key in keys:
        row = conn.execute(sql, key).fetchone()
        if row is not None:
            found[key] = row[0]
    return found


class SqliteBatch:
    """:meth:`Games.append_many`'s fast path as one function on the SQLite writer's
    thread (plain ``sqlite3``: one thread hop per batch, one ``executemany`` per
    table). The same SQL as the SQLAlchemy path; values are encoded by the columns'
    own SQLAlchemy types, so that every other reader sees the same bytes.

    A constraint (a duplicate command, a log ahead of its counter) rolls the whole
    batch back and raises; the caller redoes it item by item with savepoints.
    """

    def __init__(
        self, items: Sequence[Append], order: list[int], now: datetime, dialect: Dialect
    ) -> None:
        self.items = items
        self.order = order
        stamp = games.c.ended_at.type.dialect_impl(dialect).bind_processor(dialect)
        to_json = game_commands.c.outcome.type.dialect_impl(dialect).bind_processor(dialect)
        assert stamp is not None and to_json is not None
        self.to_json: Callable[[Json], Any] = to_json
        self.now = stamp(now)

    def write(self, conn: sqlite3.Connection) -> list[Appended | StoreError]:
        """Claim, insert and commit; the outcome of each item (input order)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            outcomes = self._write(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return outcomes

    def _write(self, conn: sqlite3.Connection) -> list[Appended | StoreError]:
        items = self.items
        outcomes: list[Appended | StoreError | None] = [None] * len(items)
        events: list[tuple[Any, ...]] = []
        commands: list[tuple[Any, ...]] = []
        for i in self.order:
            item = items[i]
            try:
                outcomes[i] = self._claim(conn, item)
            except StoreError as exc:
                outcomes[i] = exc
                continue
            first = item.expected_seq + 1
            events.extend(
                (item.game_id, first + n, e.kind, e.seat, e.body, e.ts_ms)
                for n, e in enumerate(item.events)
            )
            if item.command is not None:
                last = item.expected_seq + len(item.events)
                commands.append(
                    (
                        item.game_id,
                        item.command.player_id,
                        item.command.command_id,
                        first if item.events else None,
                        last if item.events else None,
                        self.to_json(item.command.outcome),
                        self.now,
                    )
                )
        if events:
            conn.executemany(_INSERT_EVENTS, events)
        if commands and conn.executemany(_INSERT_COMMANDS, commands).rowcount != len(commands):
            raise Redo  # a duplicate command: find it item by item
        return [o for o in outcomes if o is not None]

    def _claim(self, conn: sqlite3.Connection, item: Append) -> Appended:
        if item.status is not None and item.status not in STATUSES:
            raise ValueError(f"unknown game status {item.status!r}")
        last = item.expected_seq + len(item.events)
        sets: list[str] = ["last_seq = ?"]
        args: list[Any] = [last]
        if item.status is not None:
            sets.append("status = ?")
            args.append(item.status)
            if item.status == "active":
                sets.append("started_at = coalesce(started_at, ?)")
                args.append(self.now)
            elif item.status in ("finished", "aborted"):
                sets.append("ended_at = ?")
                args.append(self.now)
        if item.result is not None:
            sets.append("result = ?")
            args.append(self.to_json(item.result))
        sql = "UPDATE games SET " + ", ".join(sets) + _CLAIM_WHERE
        if conn.execute(sql, (*args, item.game_id, item.expected_seq)).rowcount == 1:
            return Appended(item.game_id, item.expected_seq + 1, last)
        row = conn.execute(
            "SELECT last_seq, status FROM games WHERE id = ?", (item.game_id,)
        ).fetchone()
        if row is None:
            raise UnknownGame(item.game_id)
        if row[0] != item.expected_seq:
            raise SequenceConflict(item.game_id, item.expected_seq, int(row[0]))
        raise GameClosed(item.game_id, row[1])


def _json_encoder(dialect: Dialect) -> Callable[[Json], Any]:
    to_json = game_commands.c.outcome.type.dialect_impl(dialect).bind_processor(dialect)
    assert to_json is not None
    return to_json


def _status_check(item: Append) -> None:
    if item.status is not None and item.status not in STATUSES:
        raise ValueError(f"unknown game status {item.status!r}")


_PG_LOCK = "SELECT id FROM games WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE"
_PG_CLAIM = """
UPDATE games AS g SET
    last_seq = v.last,
    status = coalesce(v.status, g.status),
    started_at = CASE WHEN v.status = 'active' THEN coalesce(g.started_at, $6)
                      ELSE g.started_at END,
    ended_at = CASE WHEN v.status IN ('finished', 'aborted') THEN $6 ELSE g.ended_at END,
    result = coalesce(v.result::json, g.result)
FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::varchar[], $5::text[])
    AS v(id, expected, last, status, result)
WHERE g.id = v.id AND g.last_seq = v.expected AND g.status IN ('pending', 'active')
RETURNING g.id
"""
_PG_STATE = "SELECT id, last_seq, status FROM games WHERE id = ANY($1::varchar[])"
_PG_EVENTS = """
INSERT INTO game_events (game_id, seq, kind, seat, body, ts_ms)
SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::varchar[], $4::int[], $5::bytea[],
                     $6::bigint[])
"""
_PG_COMMANDS = """
INSERT INTO game_commands
    (game_id, player_id, command_id, first_seq, last_seq, outcome, created_at)
SELECT g, p, c, f, l, o::json, $7
FROM unnest($1::varchar[], $2::bigint[], $3::varchar[], $4::bigint[], $5::bigint[], $6::text[])
    AS t(g, p, c, f, l, o)
ON CONFLICT DO NOTHING
RETURNING 1
"""
_PG_OUTCOMES = """
SELECT c.game_id, c.player_id, c.command_id, c.outcome::text
FROM game_commands AS c
JOIN unnest($1::varchar[], $2::bigint[], $3::varchar[]) AS k(g, p, i)
    ON c.game_id = k.g AND c.player_id = k.p AND c.command_id = k.i
"""


class PgBatch:
    """:meth:`Games.append_many`'s fast path on one asyncpg connection."""

    def __init__(
        self, items: Sequence[Append], order: list[int], now: datetime, dialect: Dialect
    ) -> None:
        self.items = items
        self.order = order
        self.now = now
        self.to_json = _json_encoder(dialect)

    async def write(self, conn: asyncpg.Connection) -> list[Appended | StoreError]:
        """Claim, insert and commit; the outcome of each item (input order)."""
        async with conn.transaction():
            return await self._write(conn)

    async def _write(self, conn: asyncpg.Connection) -> list[Appended | StoreError]:
        items = self.items
        for item in items:
            _status_check(item)
        # A fixed lock order (game id) whatever the plan of the UPDATE: no deadlocks.
        await conn.fetch(_PG_LOCK, sorted({item.game_id for item in items}))
        outcomes: list[Appended | StoreError | None] = [None] * len(items)
        for round_ in self._rounds():
            await self._claim(conn, round_, outcomes)
        claimed = [items[i] for i in self.order if isinstance(outcomes[i], Appended)]
        events = [
            (item.game_id, item.expected_seq + 1 + n, e.kind, e.seat, e.body, e.ts_ms)
            for item in claimed
            for n, e in enumerate(item.events)
        ]
        if events:
            await conn.execute(_PG_EVENTS, *(list(column) for column in zip(*events, strict=True)))
        commands = [_command_values(item, self.to_json) for item in claimed if item.command]
        if commands:
            columns = [list(column) for column in zip(*commands, strict=True)]
            recorded = await conn.fetch(_PG_COMMANDS, *columns, self.now)
            if len(recorded) != len(commands):
                raise Redo  # a duplicate command: find it item by item
        return [o for o in outcomes if o is not None]

    def _rounds(self) -> list[list[int]]:
        """The items by round: round k holds every game's k-th item (given order)."""
        rounds: list[list[int]] = []
        count: dict[str, int] = {}
        for i in self.order:
            k = count.get(self.items[i].game_id, 0)
            count[self.items[i].game_id] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(i)
        return rounds

    async def _claim(
        self,
        conn: asyncpg.Connection,
        round_: list[int],
        outcomes: list[Appended | StoreError | None],
    ) -> None:
        items = [self.items[i] for i in round_]
        rows = await conn.fetch(
            _PG_CLAIM,
            [item.game_id for item in items],
            [item.expected_seq for item in items],
            [item.expected_seq + len(item.events) for item in items],
            [item.status for item in items],
            [None if item.result is None else self.to_json(item.result) for item in items],
            self.now,
        )
        done = {row[0] for row in rows}
        refused = [item.game_id for item in items if item.game_id not in done]
        state = {}
        if refused:
            state = {row[0]: (row[1], row[2]) for row in await conn.fetch(_PG_STATE, refused)}
        for i, item in zip(round_, items, strict=True):
            if item.game_id in done:
                last = item.expected_seq + len(item.events)
                outcomes[i] = Appended(item.game_id, item.expected_seq + 1, last)
            elif item.game_id not in state:
                outcomes[i] = UnknownGame(item.game_id)
            elif state[item.game_id][0] != item.expected_seq:
                actual = int(state[item.game_id][0])
                outcomes[i] = SequenceConflict(item.game_id, item.expected_seq, actual)
            else:
                outcomes[i] = GameClosed(item.game_id, state[item.game_id][1])


def _command_values(item: Append, to_json: Callable[[Json], Any]) -> tuple[Any, ...]:
    command = item.command
    assert command is not None
    first = item.expected_seq + 1 if item.events else None
    last = item.expected_seq + len(item.events) if item.events else None
    return (
        item.game_id,
        command.player_id,
        command.command_id,
        first,
        last,
        to_json(command.outcome),
    )


async def pg_outcomes(
    conn: asyncpg.Connection, keys: Sequence[CommandKey]
) -> dict[CommandKey, Json]:
    """Recorded outcomes of these commands, in one query."""
    rows = await conn.fetch(
        _PG_OUTCOMES, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys]
    )
    return {(row[0], int(row[1]), row[2]): json.loads(row[3]) for row in rows}
