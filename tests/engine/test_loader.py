"""Replaying the event log rebuilds the table; the running clock restarts at load time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from meeple.engine.loader import ReplayError, Snapshot, replay
from meeple.engine.table import FINISHED, Table, decide
from tests.engine.test_table import ALICE, BOB, new_table


def play(
    table: Table, moves: list[tuple[int, str, str | None]], now: int
) -> tuple[Table, list[bytes]]:
    bodies: list[bytes] = []
    for player, kind, arg in moves:
        decision = decide(table, kind, player, arg, now)
        assert decision.reply is not None and decision.reply.ok, decision.reply
        table = decision.table
        bodies.extend(e.body for e in decision.events)
        now += 5_000
    return table, bodies


def blank(table: Table) -> Table:
    return Table(table.game_id, table.rules, table.seats, table.base_ms, table.increment_ms)


def test_replay_restores_state_and_is_fair_about_downtime() -> None:
    start = new_table()
    live, bodies = play(
        start,
        [
            (ALICE, "move", "e2e4"),
            (BOB, "move", "e7e5"),
            (ALICE, "move", "g1f3"),
            (BOB, "draw.offer", None),
            (ALICE, "draw.decline", None),
        ],
        now=2_000,
    )
    start_body = decide(replace(start, status="pending", seq=0), "start", 0, None, 1_000)
    all_bodies = [start_body.events[0].body, *bodies]
    # The engine died at 30 s and the game is loaded again at 500 s.
    loaded = replay(blank(start), all_bodies, now_ms=500_000)
    assert loaded.seq == live.seq == 6
    assert live.rules.encode(loaded.state) == live.rules.encode(live.state)
    assert loaded.to_act == (1,) and loaded.moved == frozenset({0, 1})
    # Black's clock (running since 12 s) was charged up to the last event, not the downtime.
    assert loaded.clock.read(500_000) == live.clock.read(22_000)
    assert loaded.clock.read(501_000)[1] == live.clock.read(22_000)[1] - 1_000
    moved = decide(loaded, "move", BOB, "b8c6", 501_000)
    assert moved.reply is not None and moved.reply.seq == 7


def test_replay_of_a_finished_game() -> None:
    start = new_table()
    live, bodies = play(start, [(ALICE, "resign", None)], now=2_000)
    first = decide(replace(start, status="pending", seq=0), "start", 0, None, 1_000).events[0]
    loaded = replay(blank(start), [first.body, *bodies], now_ms=9_000)
    assert loaded.status == FINISHED and loaded.result == live.result
    assert loaded.new_skills == live.new_skills


def test_a_gap_in_the_log_is_refused() -> None:
    start = new_table()
    _, bodies = play(start, [(ALICE, "move", "e2e4"), (BOB, "move", "e7e5")], now=2_000)
    with pytest.raises(ReplayError):
        replay(blank(start), bodies, now_ms=9_000)


def test_replay_from_a_snapshot_equals_the_full_replay() -> None:
    start = new_table()
    first = decide(replace(start, status="pending", seq=0), "start", 0, None, 1_000).events[0]
    half, early = play(start, [(ALICE, "move", "e2e4"), (BOB, "move", "e7e5")], now=2_000)
    live, late = play(
        half, [(ALICE, "move", "g1f3"), (BOB, "draw.offer", None), (BOB, "move", "b8c6")], 9_000
    )
    snapshot = Snapshot.of(half)
    assert snapshot.seq == 3
    stored = Snapshot.from_json(3, snapshot.state, snapshot.to_json())
    full = replay(blank(start), [first.body, *early, *late], now_ms=50_000)
    fast = replay(blank(start), [first.body, *late], now_ms=50_000, snapshot=stored)
    assert (fast.seq, fast.moved, fast.to_act) == (full.seq, full.moved, full.to_act)
    assert fast.seq == live.seq == 6
    assert fast.rules.encode(fast.state) == full.rules.encode(full.state)
    assert fast.clock == full.clock and fast.seats == full.seats
