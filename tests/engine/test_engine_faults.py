"""Crash and takeover: nothing lost, nobody charged for downtime, stale owners fenced."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from meeple.engine import settlement
from meeple.engine.table import decide
from meeple.protocol.internal import SHARDS, shard_lease
from meeple.store.database import Store
from meeple.store.errors import SequenceConflict
from meeple.store.games import Append
from meeple.store.games import NewEvent as StoreEvent
from tests.engine.harness import Harness, fast_settings, wait_until


async def test_restart_continues_the_game_and_downtime_is_free(
    sqlite_store: Store, tmp_path: Path
) -> None:
    harness = Harness(sqlite_store, fast_settings(tmp_path, lease_ttl_ms=900))
    await harness.start()
    try:
        white, black = await harness.players(2)
        game_id = await harness.game([white, black], base_ms=60_000)
        for player, move in [(white, "e2e4"), (black, "e7e5"), (white, "g1f3"), (black, "b8c6")]:
            assert (await harness.send(game_id, player, "move", move)).ok
        before = (await harness.events(game_id))[-1]
        await harness.engine.abandon()  # dies: no lease released, nothing cleaned up
        died = time.monotonic()
        harness.engine = harness.new_engine()
        await harness.engine.start()  # the dead engine's leases block it until they expire

        async def taken_over() -> bool:
            return game_id in harness.engine.tables

        await wait_until(taken_over, "takeover after lease expiry")
        downtime_ms = (time.monotonic() - died) * 1000
        assert downtime_ms >= 600
        reply = await harness.send(game_id, white, "move", "f1c4")
        assert reply.ok and reply.seq == before.seq + 1
        after = (await harness.events(game_id))[-1]
        charged = before.clocks[0] - (after.clocks[0] - 0)  # no increment in 1+0
        assert 0 <= charged < downtime_ms / 2, (charged, downtime_ms)
        assert [e.seq for e in await harness.events(game_id)] == list(range(1, 7))
    finally:
        await harness.close()


async def test_stale_owner_cannot_append(store: Store, tmp_path: Path) -> None:
    harness = Harness(store, fast_settings(tmp_path))
    await harness.start()
    try:
        white, black = await harness.players(2)
        game_id = await harness.game([white, black])
        assert (await harness.send(game_id, white, "move", "e2e4")).ok
        stale = harness.engine.tables[game_id]
        # Another owner writes black's move behind this engine's back.
        rival = decide(stale, "move", black, "e7e5", stale.clock.since_ms + 1)
        event = rival.events[0]
        await harness.games.append(
            game_id, stale.seq, [StoreEvent(event.kind, event.seat, event.body, event.ts_ms)]
        )
        # The stale table's own append is refused and writes nothing...
        mine = decide(stale, "move", black, "c7c5", stale.clock.since_ms + 2).events[0]
        item = Append(game_id, stale.seq, [StoreEvent(mine.kind, mine.seat, mine.body, 0)])
        (refused,) = await harness.games.append_many([item])
        assert isinstance(refused, SequenceConflict) and refused.actual == stale.seq + 1
        # ...and the engine, refused the same way, reloads and decides again on the truth.
        late = await harness.send(game_id, black, "move", "c7c5")
        assert late.code == "not_your_turn"
        assert (await harness.send(game_id, white, "move", "g1f3")).seq == 4
        moves = [e.data.get("move") for e in await harness.events(game_id)]
        assert moves == [None, "e2e4", "e7e5", "g1f3"]
    finally:
        await harness.close()


async def test_many_games_moves_in_one_commit(harness: Harness) -> None:
    seats = await harness.players(20)
    game_ids = [await harness.game(seats[i : i + 2]) for i in range(0, 20, 2)]
    commits: list[int] = []
    original = harness.engine.games.append_many

    async def counting(items):  # type: ignore[no-untyped-def]
        commits.append(len(items))
        return await original(items)

    harness.engine.games.append_many = counting  # type: ignore[method-assign]
    futures = [
        await harness.push(harness.command(g, seats[2 * i], "move", "e2e4"))
        for i, g in enumerate(game_ids)
    ]
    for future in futures:
        assert (await future).ok
    assert commits == [10]
    for game_id in game_ids:
        assert [e.kind for e in await harness.events(game_id)] == ["start", "move"]


async def test_an_ended_game_left_unclosed_is_closed_at_the_next_start(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    white, black = await harness.players(2, deposit=100)
    game_id = await harness.game([white, black], stake=100)
    attempts: list[str] = []

    async def dies(*args: object) -> None:
        attempts.append(game_id)
        raise ConnectionError("the process died before closing the game")

    monkeypatch.setattr(settlement, "close", dies)
    assert (await harness.send(game_id, black, "resign")).ok

    async def tried() -> bool:
        return bool(attempts)

    await wait_until(tried, "a closing attempt")
    await harness.engine.abandon()
    # A restart of the same process: the old leases are let go (not waited out).
    for shard in range(SHARDS):
        await harness.bus.release(shard_lease(shard), harness.engine.engine_id)
    monkeypatch.undo()
    assert await harness.ledger.balance(white) == 0
    harness.engine = harness.new_engine()
    await harness.engine.start()

    async def settled() -> bool:
        return await harness.ledger.balance(white) == 190

    await wait_until(settled, "settlement by the next engine")
    assert await harness.ledger.balance(black) == 0
    assert await harness.ledger.check() == []


async def test_a_reload_starts_from_the_latest_snapshot(
    sqlite_store: Store, tmp_path: Path
) -> None:
    harness = Harness(sqlite_store, fast_settings(tmp_path, snapshot_every=3))
    await harness.start()
    try:
        white, black = await harness.players(2)
        game_id = await harness.game([white, black])
        for player, move in [(white, "e2e4"), (black, "e7e5"), (white, "g1f3"), (black, "b8c6")]:
            assert (await harness.send(game_id, player, "move", move)).ok

        async def snapshotted() -> bool:
            saved = await harness.games.latest_snapshot(game_id)
            return saved is not None and saved.seq == 3

        await wait_until(snapshotted, "a snapshot at seq 3")
        live = harness.engine.tables[game_id]
        await harness.engine.stop()
        harness.engine = harness.new_engine()
        await harness.engine.start()
        loaded = harness.engine.tables[game_id]
        assert loaded.rules.encode(loaded.state) == live.rules.encode(live.state)
        assert loaded.seq == 5 and loaded.moved == frozenset({0, 1})
        assert (await harness.send(game_id, white, "move", "f1c4")).seq == 6
    finally:
        await harness.close()
