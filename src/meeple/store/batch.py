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


# Every statement below is ONE sqlite3 step, whatever the batch size: the writer
# thread gives the GIL up around each step, and with a busy event loop getting it
# back can take a switch interval (5 ms), so steps per batch, not rows, set the cost.
_SQLITE_CLAIM = """
UPDATE games SET
    last_seq = v.column3,
    status = coalesce(v.column4, games.status),
    started_at = CASE WHEN v.column4 = 'active' THEN coalesce(games.started_at, ?)
                      ELSE games.started_at END,
    ended_at = CASE WHEN v.column4 IN ('finished', 'aborted') THEN ? ELSE games.ended_at END,
    result = coalesce(v.column5, games.result)
FROM (VALUES {rows}) AS v
WHERE games.id = v.column1 AND games.last_seq = v.column2
    AND games.status IN ('pending', 'active')
"""
_SQLITE_EVENTS = "INSERT INTO game_events (game_id, seq, kind, seat, body, ts_ms) VALUES {rows}"
_SQLITE_COMMANDS = (
    "INSERT INTO game_commands"
    " (game_id, player_id, command_id, first_seq, last_seq, outcome, created_at)"
    " VALUES {rows} ON CONFLICT DO NOTHING"
)
# A join, not "(a, b, c) IN (VALUES ...)": SQLite scans the table for the latter.
_SQLITE_OUTCOMES = (
    "SELECT c.game_id, c.player_id, c.command_id, c.outcome"
    " FROM (VALUES {rows}) AS k JOIN game_commands AS c ON c.game_id = k.column1"
    " AND c.player_id = k.column2 AND c.command_id = k.column3"
)
_CHUNK = 500  # rows per statement (SQLite allows 32,766 parameters)


def _many(conn: sqlite3.Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """``sql`` with a multi-row ``VALUES`` per chunk of ``rows``; rows changed."""
    changed = 0
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        marks = ", ".join(["(" + ", ".join("?" * len(chunk[0])) + ")"] * len(chunk))
        flat = [value for row in chunk for value in row]
        changed += conn.execute(sql.format(rows=marks), flat).rowcount
    return changed


def sqlite_outcomes(conn: sqlite3.Connection, keys: Sequence[CommandKey]) -> dict[CommandKey, Any]:
    """Stored ``outcome`` texts of these commands (on the SQLite writer's thread): one
    statement per chunk, no transaction (autocommit)."""
    found: dict[CommandKey, Any] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        marks = ", ".join(["(?, ?, ?)"] * len(chunk))
        flat = [value for key in chunk for value in key]
        for g, p, c, outcome in conn.execute(_SQLITE_OUTCOMES.format(rows=marks), flat):
            found[(g, int(p), c)] = outcome
    return found


def _rounds(items: Sequence[Append], order: list[int]) -> list[list[int]]:
    """The items by round: round k holds every game's k-th item (in the given order),
    so that no statement claims one game twice."""
    rounds: list[list[int]] = []
    count: dict[str, int] = {}
    for i in order:
        k = count.get(items[i].game_id, 0)
        count[items[i].game_id] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(i)
    return rounds


class SqliteBatch:
    """:meth:`Games.append_many`'s fast path as one function on the SQLite writer's
    thread (plain ``sqlite3``, one thread hop per batch): ``BEGIN IMMEDIATE``, one
    compare-and-set ``UPDATE ... FROM (VALUES ...)`` per round, one multi-row
    ``INSERT`` per table, ``COMMIT``. Values are encoded by the columns' own
    SQLAlchemy types, so that every other reader sees the same bytes.

    Anything but a clean batch (a refused item: stale seq, closed or unknown game; a
    duplicate command; a log ahead of its counter) rolls the whole batch back and
    raises; the caller redoes it item by item with savepoints, which finds out who
    was refused and why. Refusals are rare: a stale owner, a race.
    """

    def __init__(
        self, items: Sequence[Append], order: list[int], now: datetime, dialect: Dialect
    ) -> None:
        self.items = items
        self.order = order
        stamp = games.c.ended_at.type.dialect_impl(dialect).bind_processor(dialect)
        assert stamp is not None
        self.to_json = _json_encoder(dialect)
        self.now = stamp(now)

    def write(self, conn: sqlite3.Connection) -> list[Appended | StoreError]:
        """Claim, insert and commit; the outcome of each item (input order)."""
        for item in self.items:
            _status_check(item)
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
        for round_ in _rounds(items, self.order):
            claims = [
                (
                    items[i].game_id,
                    items[i].expected_seq,
                    items[i].expected_seq + len(items[i].events),
                    items[i].status,
                    None if items[i].result is None else self.to_json(items[i].result),
                )
                for i in round_
            ]
            marks = ", ".join(["(?, ?, ?, ?, ?)"] * len(claims))
            flat = [self.now, self.now, *(value for row in claims for value in row)]
            if conn.execute(_SQLITE_CLAIM.format(rows=marks), flat).rowcount != len(claims):
                raise Redo  # someone refused: find out who, item by item
        ordered = [items[i] for i in self.order]
        events = [
            (item.game_id, item.expected_seq + 1 + n, e.kind, e.seat, e.body, e.ts_ms)
            for item in ordered
            for n, e in enumerate(item.events)
        ]
        if events:
            _many(conn, _SQLITE_EVENTS, events)
        commands = [
            (*_command_values(item, self.to_json), self.now) for item in ordered if item.command
        ]
        if commands and _many(conn, _SQLITE_COMMANDS, commands) != len(commands):
            raise Redo  # a duplicate command: find it item by item
        return [
            Appended(item.game_id, item.expected_seq + 1, item.expected_seq + len(item.events))
            for item in items
        ]


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
        for round_ in _rounds(items, self.order):
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
