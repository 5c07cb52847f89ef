"""The engine end to end: commands on the bus, events in the store and on the bus."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from meeple.engine import engine as engine_module
from meeple.engine.table import Decision, Table
from meeple.store.schema import game_seats, games, ratings
from tests.engine.harness import Harness, next_events, wait_until

FOOLS_MATE = [(1, "f2f3"), (2, "e7e5"), (1, "g2g4"), (2, "d8h4")]


async def test_a_game_to_the_end_settles_once_and_rates(harness: Harness) -> None:
    white, black = await harness.players(2, deposit=1_000)
    game_id = await harness.game([white, black], stake=100)
    watcher = await harness.watch(game_id)
    who = {1: white, 2: black}
    for n, (side, move) in enumerate(FOOLS_MATE):
        reply = await harness.send(game_id, who[side], "move", move)
        assert reply.ok and reply.seq == n + 2 + (1 if n == 3 else 0)
        # Durable before acknowledged: the event is in the store when the ack arrives.
        stored = await harness.games.events_after(game_id, n + 1)
        assert stored and stored[0].kind == "move"
    live = await next_events(watcher, 5)
    stored_events = await harness.events(game_id)
    assert [e.seq for e in stored_events] == [1, 2, 3, 4, 5, 6]
    assert [e.kind for e in stored_events][-2:] == ["move", "game_over"]
    assert [e.seq for e in live] == [2, 3, 4, 5, 6]  # seq 1 was before we subscribed
    over = stored_events[-1].data
    assert over["placings"] == [2, 1] and over["payouts"] == [0, 190]

    async def settled() -> bool:
        async with harness.store.connect() as conn:
            return bool(await conn.scalar(select(games.c.settled).where(games.c.id == game_id)))

    await wait_until(settled, "settlement")
    assert await harness.ledger.balance(white) == 900
    assert await harness.ledger.balance(black) == 1_090
    assert await harness.ledger.check() == []
    async with harness.store.connect() as conn:
        row = (await conn.execute(select(games).where(games.c.id == game_id))).one()
        seats = (
            await conn.execute(
                select(game_seats).where(game_seats.c.game_id == game_id).order_by("seat")
            )
        ).all()
        rated = {
            r.player_id: r
            for r in await conn.execute(select(ratings).where(ratings.c.game == "chess"))
        }
    assert row.status == "finished" and row.result["reason"] == "checkmate"
    assert [s.placing for s in seats] == [2, 1] and [s.payout for s in seats] == [0, 190]
    assert rated[black].rating > rated[white].rating and rated[black].wins == 1
    assert rated[white].games_played == 1
    # Closing again (a retry after a crash) changes nothing.
    table = harness.engine.tables[game_id]
    from meeple.engine import settlement

    await settlement.close(harness.store, harness.ledger, harness.settings, table)
    assert await harness.ledger.balance(black) == 1_090
    async with harness.store.connect() as conn:
        again = (await conn.execute(select(ratings).where(ratings.c.player_id == white))).one()
    assert again.games_played == 1


async def test_same_command_id_is_applied_once(harness: Harness) -> None:
    white, black = await harness.players(2)
    game_id = await harness.game([white, black])
    first = await harness.send(game_id, white, "move", "e2e4", cid="m1")
    again = await harness.send(game_id, white, "move", "e2e4", cid="m1")
    assert first.ok and again == first
    # Two copies in one batch, and a retry after the engine forgot it (restart).
    futures = [
        await harness.push(harness.command(game_id, black, "move", "e7e5", cid="m2"))
        for _ in range(2)
    ]
    assert (await futures[0]).ok
    await harness.engine.stop()
    harness.engine = harness.new_engine()
    await harness.engine.start()
    retried = await harness.send(game_id, black, "move", "e7e5", cid="m2")
    assert retried.ok and retried.seq == 3
    assert [e.seq for e in await harness.events(game_id)] == [1, 2, 3]


async def test_a_forgotten_command_legal_again_is_answered_from_its_record(
    harness: Harness,
) -> None:
    # The engine decides unknown command ids without asking the store first; a retry
    # of a move accepted before the engine forgot it, in a position where it is legal
    # once more, must still be applied once: the commit refuses the duplicate and the
    # engine answers from the record.
    white, black = await harness.players(2)
    game_id = await harness.game([white, black])
    first = await harness.send(game_id, white, "move", "g1f3", cid="w1")
    for player, move in ((black, "g8f6"), (white, "f3g1"), (black, "f6g8")):
        assert (await harness.send(game_id, player, "move", move)).ok
    await harness.engine.stop()
    harness.engine = harness.new_engine()
    await harness.engine.start()
    retried = await harness.send(game_id, white, "move", "g1f3", cid="w1")
    assert retried == first and retried.seq == 2
    assert [e.seq for e in await harness.events(game_id)] == [1, 2, 3, 4, 5]
    moved = await harness.send(game_id, white, "move", "e2e4")
    assert moved.ok and moved.seq == 6


async def test_mistakes_get_codes_and_change_nothing(harness: Harness) -> None:
    white, black, spectator = await harness.players(3)
    game_id = await harness.game([white, black])
    cases = [
        (black, "move", "e7e5", "not_your_turn"),
        (white, "move", "e2e5", "illegal_move"),
        (white, "move", "xx", "bad_notation"),
        (spectator, "move", "e2e4", "not_a_player"),
        (spectator, "resign", None, "not_a_player"),
    ]
    for player, kind, arg, code in cases:
        reply = await harness.send(game_id, player, kind, arg)
        assert not reply.ok and reply.code == code, (kind, arg, reply)
    unknown = await harness.send("nosuchgame", white, "move", "e2e4")
    assert unknown.code == "game_not_found"
    assert [e.kind for e in await harness.events(game_id)] == ["start"]
    assert (await harness.send(game_id, white, "resign")).ok
    late = await harness.send(game_id, black, "move", "e7e5")
    assert late.code == "game_over"
    assert [e.kind for e in await harness.events(game_id)] == ["start", "resign", "game_over"]
    state = await harness.state(game_id, spectator)
    assert state.you is None and state.status == "finished" and state.seq == 3


async def test_a_bug_in_one_command_fails_only_that_command(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    white, black = await harness.players(2)
    game_id = await harness.game([white, black])
    real = engine_module.decide

    def buggy(table: Table, kind: str, player: int, arg: str | None, now: int) -> Decision:
        if arg == "boom":
            raise RuntimeError("a bug")
        return real(table, kind, player, arg, now)

    monkeypatch.setattr(engine_module, "decide", buggy)
    boom = await harness.push(harness.command(game_id, white, "move", "boom"))
    fine = await harness.push(harness.command(game_id, white, "move", "e2e4"))
    assert (await boom).code == "internal_error"
    assert (await fine).seq == 2


async def test_fourchess_pays_by_placing_and_rates_four_seats(harness: Harness) -> None:
    seats = await harness.players(4, deposit=100)
    game_id = await harness.game(seats, game="fourchess", stake=100)
    assert (await harness.send(game_id, seats[0], "move", "e2-e4")).ok
    for seat in (1, 2, 3):  # resigning needs no turn
        assert (await harness.send(game_id, seats[seat], "resign")).ok
    events = await harness.events(game_id)
    assert [e.kind for e in events][-2:] == ["resign", "game_over"]
    over = events[-1].data
    assert over["placings"] == [1, 4, 3, 2]
    assert over["payouts"] == [266, 0, 0, 114] and over["rake"] == 20  # 70/30 of 380

    async def paid() -> bool:
        return await harness.ledger.balance(seats[0]) == 266

    await wait_until(paid, "settlement")
    assert [await harness.ledger.balance(p) for p in seats] == [266, 0, 0, 114]
    assert await harness.ledger.check() == []
    async with harness.store.connect() as conn:
        rated = {
            r.player_id: r.rating
            for r in await conn.execute(select(ratings).where(ratings.c.game == "fourchess"))
        }
    assert rated[seats[0]] > rated[seats[3]] > rated[seats[2]] > rated[seats[1]]
