"""Several engines on one store and one bus: fair shares, handover, takeover, fencing,
and timers that fire exactly once whoever owns the game."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from meeple.engine import Engine
from meeple.protocol.internal import SHARDS, Command, CommandReply, shard_of
from meeple.store.database import Store
from meeple.store.errors import SequenceConflict
from tests.engine.harness import Harness, fast_settings, next_events, wait_until

TTL_MS = 1_000
POLL_MS = 50


@pytest.fixture
async def cluster(sqlite_store: Store, tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness whose first engine is ``harness.engine``; tests add more."""
    settings = fast_settings(tmp_path, lease_ttl_ms=TTL_MS, lease_poll_ms=POLL_MS)
    harness = Harness(sqlite_store, settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()


async def balanced(engines: list[Engine], within: float = 5.0) -> None:
    """Until the engines own disjoint fair shares covering every shard."""
    share = -(-SHARDS // len(engines))

    async def fair() -> bool:
        owned = [e.owned for e in engines]
        every = set().union(*owned)
        return (
            len(every) == SHARDS
            and sum(len(o) for o in owned) == SHARDS
            and all(share - 2 <= len(o) <= share for o in owned)
        )

    await wait_until(fair, "a fair split", within)


async def games_with_one_on(
    cluster: Harness, engine: Engine, count: int, *, deposit: int = 0, **game: Any
) -> tuple[list[str], list[int]]:
    """``count`` two-seat games, and more until one runs on ``engine`` (games land on
    random shards: six games miss one of two engines once in 64 runs); their ids and
    seats (game ``i`` is played by seats ``2i`` and ``2i + 1``)."""
    games: list[str] = []
    seats: list[int] = []
    while len(games) < count or not any(shard_of(g) in engine.owned for g in games):
        assert len(games) < count + 64, "no game landed on the engine"
        pair = await cluster.players(2, deposit=deposit)
        seats += pair
        games.append(await cluster.game(pair, **game))
    return games, seats


def owner_of(engines: list[Engine], game_id: str) -> Engine:
    (owner,) = [e for e in engines if shard_of(game_id) in e.owned]
    return owner


async def test_three_engines_split_the_shards_and_a_fourth_joins(cluster: Harness) -> None:
    first = cluster.engine
    assert len(first.owned) == SHARDS
    b = await cluster.add_engine("engine-b")
    c = await cluster.add_engine("engine-c")
    await balanced([first, b, c])
    d = await cluster.add_engine("engine-d")
    started = time.monotonic()
    await balanced([first, b, c, d])
    assert time.monotonic() - started < 3.0
    assert [len(e.owned) for e in (first, b, c, d)] == [16, 16, 16, 16]


async def test_games_keep_going_while_engines_rebalance(cluster: Harness) -> None:
    seats = await cluster.players(8)
    games = [await cluster.game(seats[i : i + 2]) for i in range(0, 8, 2)]
    for i, game_id in enumerate(games):
        assert (await cluster.send(game_id, seats[2 * i], "move", "e2e4")).ok
    b = await cluster.add_engine("engine-b")
    await balanced([cluster.engine, b])
    for i, game_id in enumerate(games):
        reply = await cluster.send(game_id, seats[2 * i + 1], "move", "e7e5")
        assert reply.ok and reply.seq == 3, reply
    for game_id in games:
        assert [e.seq for e in await cluster.events(game_id)] == [1, 2, 3]


@pytest.fixture
async def long_leases(sqlite_store: Store, tmp_path: Path) -> AsyncIterator[Harness]:
    """Like ``cluster`` with 10 s leases: whatever happens faster is not an expiry."""
    settings = fast_settings(tmp_path, lease_ttl_ms=10_000, lease_poll_ms=250)
    harness = Harness(sqlite_store, settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()


async def test_stop_hands_every_game_over_at_once(long_leases: Harness) -> None:
    cluster = long_leases
    b = await cluster.add_engine("engine-b")
    await balanced([cluster.engine, b])
    games, seats = await games_with_one_on(cluster, cluster.engine, 6)
    a_games = [i for i, g in enumerate(games) if owner_of([cluster.engine, b], g) is cluster.engine]
    assert a_games, "some game lands on the first engine (6 games, 32 shards each)"
    i = a_games[0]
    game_id = games[i]
    assert (await cluster.send(game_id, seats[2 * i], "move", "e2e4")).ok
    stopped = time.monotonic()
    await cluster.engine.stop()
    reply = await cluster.send(game_id, seats[2 * i + 1], "move", "e7e5")
    handover_s = time.monotonic() - stopped
    assert reply.ok and reply.seq == 3
    assert handover_s < 2.0, handover_s  # announced at once (a poll at worst), no expiry
    assert len(b.owned) == SHARDS
    cluster.engine = b  # the harness stops it at the end
    cluster.extra.remove(b)


async def test_a_handover_charges_the_thinking_time_up_to_it(cluster: Harness) -> None:
    b = await cluster.add_engine("engine-b")
    await balanced([cluster.engine, b])
    games, seats = await games_with_one_on(cluster, cluster.engine, 6, base_ms=60_000)
    on_a = [i for i, g in enumerate(games) if shard_of(g) in cluster.engine.owned]
    assert on_a
    i = on_a[0]
    game_id, white, black = games[i], seats[2 * i], seats[2 * i + 1]
    for player, move in [(white, "e2e4"), (black, "e7e5"), (white, "g1f3")]:
        assert (await cluster.send(game_id, player, "move", move)).ok
    before = (await cluster.events(game_id))[-1]  # black thinks from here...
    await asyncio.sleep(0.6)
    await cluster.engine.stop()  # ...and is handed over to b meanwhile
    reply = await cluster.send(game_id, black, "move", "b8c6")
    assert reply.ok
    after = (await cluster.events(game_id))[-1]
    charged = before.clocks[1] - after.clocks[1]
    elapsed = after.ts_ms - before.ts_ms
    # Charged the thinking time before the handover (not refunded as after a crash);
    # only the handover's own gap (a poll at most, and the reload) is free.
    assert 600 <= charged <= elapsed, (charged, elapsed)
    assert elapsed - charged < 500, (charged, elapsed)
    cluster.engine = b
    cluster.extra.remove(b)


async def test_a_killed_engine_is_taken_over_within_the_lease_and_clocks_stay_fair(
    cluster: Harness,
) -> None:
    b = await cluster.add_engine("engine-b")
    await balanced([cluster.engine, b])
    games, seats = await games_with_one_on(cluster, cluster.engine, 6, base_ms=60_000)
    doomed = [i for i, g in enumerate(games) if shard_of(g) in cluster.engine.owned]
    assert doomed
    i = doomed[0]
    game_id, white, black = games[i], seats[2 * i], seats[2 * i + 1]
    for player, move in [(white, "e2e4"), (black, "e7e5"), (white, "g1f3")]:
        assert (await cluster.send(game_id, player, "move", move)).ok
    before = (await cluster.events(game_id))[-1]  # black's clock runs from here
    await cluster.engine.abandon()  # SIGKILL: nothing released
    killed = time.monotonic()

    async def taken() -> bool:
        return len(b.owned) == SHARDS

    await wait_until(taken, "takeover of every shard", within=5)
    takeover_s = time.monotonic() - killed
    assert takeover_s < TTL_MS / 1000 + 1.0, takeover_s  # expiry + a poll + the reload
    reply = await cluster.send(game_id, black, "move", "b8c6")
    assert reply.ok and reply.seq == before.seq + 1
    after = (await cluster.events(game_id))[-1]
    charged = before.clocks[1] - after.clocks[1]
    downtime_ms = (after.ts_ms - before.ts_ms) - 0
    assert 0 <= charged < 400 < 600 < downtime_ms, (charged, downtime_ms)
    assert [e.seq for e in await cluster.events(game_id)] == list(range(1, before.seq + 2))


async def test_a_flag_falls_once_across_a_takeover(cluster: Harness) -> None:
    b = await cluster.add_engine("engine-b")
    await balanced([cluster.engine, b])
    games, players = await games_with_one_on(
        cluster, cluster.engine, 10, deposit=500, base_ms=1_500, stake=100
    )
    on_a = [i for i, g in enumerate(games) if shard_of(g) in cluster.engine.owned]
    assert on_a
    i = on_a[0]
    game_id, white, black = games[i], players[2 * i], players[2 * i + 1]
    for player, move in [(white, "e2e4"), (black, "e7e5"), (white, "g1f3")]:
        assert (await cluster.send(game_id, player, "move", move)).ok
    # Black's flag falls in ~1.5 s; the owner dies in the meantime.
    watcher = await cluster.watch(game_id)
    await cluster.engine.abandon()
    flagged, over = await next_events(watcher, 2, within=8)
    assert (flagged.kind, flagged.seat, over.kind) == ("timeout", 1, "game_over")

    async def paid() -> bool:
        return await cluster.ledger.balance(white) == 400 + 190

    await wait_until(paid, "settlement by the new owner")
    kinds = [e.kind for e in await cluster.events(game_id)]
    assert kinds.count("timeout") == 1 and kinds.count("game_over") == 1
    assert kinds[-2:] == ["timeout", "game_over"]
    assert await cluster.ledger.check() == []


class _Paused:
    """Makes an engine's lease loop hang, as if its process were stopped (SIGSTOP),
    while its other loops and timers keep going (the worst case for fencing)."""

    def __init__(self, engine: Engine) -> None:
        self.resume = asyncio.Event()
        self.engine = engine
        self.appends: list[tuple[list[Any], list[Any]]] = []
        self.before_commit: Callable[[], None] = lambda: None
        original = engine.games.append_many

        async def hang(*args: object) -> Any:
            await self.resume.wait()
            return set()

        async def record(items: Any) -> Any:
            self.before_commit()
            results = await original(items)
            self.appends.append((list(items), list(results)))
            return results

        engine.ownership.renew = hang  # type: ignore[method-assign]
        engine._rebalance = hang  # type: ignore[method-assign]
        engine.games.append_many = record  # type: ignore[method-assign]


def expect_reply(cluster: Harness, command: Command) -> asyncio.Future[CommandReply]:
    future: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
    cluster._replies[(command.player_id, command.command_id)] = future
    return future


async def test_a_paused_owner_never_writes_and_timers_fire_once(cluster: Harness) -> None:
    a = cluster.engine
    players = await cluster.players(2)
    game_id = await cluster.game(players, base_ms=2_000)
    white, black = players
    for player, move in [(white, "e2e4"), (black, "e7e5"), (white, "g1f3")]:
        assert (await cluster.send(game_id, player, "move", move)).ok
    stale = a.tables[game_id]
    paused = _Paused(a)
    b = await cluster.add_engine("engine-b")
    cluster.extra.remove(b)
    cluster.engine = b  # the harness stops b at the end; this test stops a

    async def taken() -> bool:
        return shard_of(game_id) in b.owned

    await wait_until(taken, "takeover from the paused engine", within=5)
    assert shard_of(game_id) not in a.owned  # its trust ran out: it stopped by itself
    assert (await cluster.send(game_id, black, "move", "b8c6")).seq == 5

    # Woken with a command for the game and its stale table: it does not write; the
    # command goes back to the queue and the owner answers it.
    late = cluster.command(game_id, white, "move", "f1c4")
    answer = expect_reply(cluster, late)
    a.tables[game_id] = stale
    await a._handle_batch([late])
    assert paused.appends == []
    assert (await asyncio.wait_for(answer, 5)).seq == 6

    # Paused between its trust check and its commit: the store's expected seq fences it.
    shard = shard_of(game_id)
    a.ownership.trusted[shard] = time.monotonic() + 60

    def pause_here() -> None:
        a.ownership.trusted[shard] = time.monotonic() - 1  # the pause outlived the lease

    paused.before_commit = pause_here
    a.tables[game_id] = stale
    stale_move = cluster.command(game_id, black, "move", "g8f6")
    answer = expect_reply(cluster, stale_move)
    await a._handle_batch([stale_move])
    ((items, results),) = paused.appends
    assert [i.expected_seq for i in items] == [stale.seq]
    assert isinstance(results[0], SequenceConflict) and results[0].actual == 6
    # ...and the command, back in the queue, is decided by the owner on the truth.
    assert (await asyncio.wait_for(answer, 5)).seq == 7
    moves = [e.data.get("move") for e in await cluster.events(game_id)]
    assert moves == [None, "e2e4", "e7e5", "g1f3", "b8c6", "f1c4", "g8f6"]

    # Both engines hold timers for the game; white's flag falls once.
    kinds = await _until_over(cluster, game_id)
    assert kinds.count("timeout") == 1 and kinds.count("game_over") == 1
    assert len(paused.appends) == 1
    paused.resume.set()
    await a.stop()


async def _until_over(cluster: Harness, game_id: str) -> list[str]:
    async def over() -> bool:
        return (await cluster.events(game_id))[-1].kind == "game_over"

    await wait_until(over, "the flag", within=8)
    return [e.kind for e in await cluster.events(game_id)]
