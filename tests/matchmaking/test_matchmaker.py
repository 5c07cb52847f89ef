"""The matchmaker on a real store, bus, ledger and engine."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from sqlalchemy import insert, select

from meeple.bus.base import Subscriber
from meeple.matchmaking import Matchmaker
from meeple.matchmaking.store import Entry, QueueKey
from meeple.protocol import messages as m
from meeple.protocol.internal import MATCHMAKER_QUEUE, CommandReply, player_topic
from meeple.store.database import Store
from meeple.store.schema import games, ledger_transfers, queue_entries, ratings
from tests.engine.harness import Harness, fast_settings, wait_until

_ids = itertools.count(1)


class World:
    """A harness (engine included) plus a matchmaker and the players' topics."""

    def __init__(self, harness: Harness, matchmaker: Matchmaker) -> None:
        self.h = harness
        self.mm = matchmaker
        self.topics: dict[int, Subscriber] = {}

    async def player(self, *, deposit: int = 0) -> int:
        (player,) = await self.h.players(1, deposit=deposit)
        sub = self.h.bus.subscriber()
        await sub.subscribe(player_topic(player))
        self.topics[player] = sub
        return player

    async def send(self, player: int, message: msgspec.Struct) -> CommandReply:
        arg = m.encode(message).decode()
        kind = str(type(message).__struct_config__.tag)
        command = self.h.command("", player, kind, arg, cid=getattr(message, "id", ""))
        future = await self.h.push(command, MATCHMAKER_QUEUE)
        return await asyncio.wait_for(future, 10)

    async def frame(self, player: int, kind: type[Any]) -> Any:
        """The next frame of type ``kind`` on the player's topic."""

        async def take() -> Any:
            async for _, data in self.topics[player]:
                frame = m.decode_server(data)
                if isinstance(frame, kind):
                    return frame
            raise AssertionError("topic closed")

        return await asyncio.wait_for(take(), 10)


def join(game: str = "chess", tc: str = "1+0", stake: int = 0) -> m.QueueJoin:
    return m.QueueJoin(id=f"j{next(_ids)}", game=game, time_control=tc, stake=stake)


@pytest.fixture
async def world(sqlite_store: Store, tmp_path: Path) -> AsyncIterator[World]:
    settings = fast_settings(
        tmp_path, match_tick_ms=60_000, match_window=100, match_window_growth_per_s=2_000.0
    )
    harness = Harness(sqlite_store, settings)
    await harness.start()
    matchmaker = Matchmaker(
        store=sqlite_store, bus=harness.bus, ledger=harness.ledger, settings=settings
    )
    await matchmaker.start()
    try:
        yield World(harness, matchmaker)
    finally:
        await matchmaker.stop()
        await harness.close()


async def test_four_fourchess_players_make_one_game(world: World) -> None:
    players = [await world.player() for _ in range(4)]
    for n, player in enumerate(players):
        reply = await world.send(player, join("fourchess"))
        assert reply.ok and reply.payload is not None
        answer = msgspec.json.decode(reply.payload)
        assert answer["state"] == "waiting" and answer["queue_size"] == n + 1
    assert await world.mm.tick() == 1
    matched = [await world.frame(p, m.Matched) for p in players]
    game_id = matched[0].game_id
    assert {f.game_id for f in matched} == {game_id}
    assert sorted(f.seat for f in matched) == [0, 1, 2, 3]
    assert matched[0].game == "fourchess" and len(matched[0].players) == 4

    async def started() -> bool:
        return len(await world.h.events(game_id)) == 1

    await wait_until(started, "the engine's start event")
    async with world.h.store.connect() as conn:
        assert await conn.scalar(select(games.c.status).where(games.c.id == game_id)) == "active"
        assert (await conn.execute(select(queue_entries))).first() is None


async def test_two_chess_players_of_one_queue_are_matched(world: World) -> None:
    low, high = await world.player(), await world.player()
    assert (await world.send(low, join())).ok
    other = await world.send(high, join(tc="3+2"))  # another queue: never together
    assert other.ok and other.payload is not None
    assert msgspec.json.decode(other.payload)["queue_size"] == 1  # counts its own queue
    assert await world.mm.tick() == 0
    third = await world.player()
    assert (await world.send(third, join())).ok
    assert await world.mm.tick() == 1
    assert (await world.frame(low, m.Matched)).seat in (0, 1)
    assert (await world.frame(third, m.Matched)).time_control == "1+0"


async def test_rating_window_widens_while_waiting(world: World) -> None:
    low, high = await world.player(), await world.player()
    async with world.h.store.begin() as conn:
        from datetime import UTC, datetime

        await conn.execute(
            insert(ratings).values(
                player_id=high,
                game="chess",
                mu=40.0,
                sigma=3.0,
                rating=1900,
                games_played=9,
                wins=9,
                updated_at=datetime.now(UTC),
            )
        )
    assert (await world.send(low, join())).ok
    assert (await world.send(high, join())).ok
    assert await world.mm.tick() == 0  # 400 apart, window 100 at first

    async def matched() -> bool:
        return await world.mm.tick() == 1

    await wait_until(matched, "the window to widen to 400")  # ~0.15 s at 2000/s


async def test_leave_and_one_queue_or_staked_game_at_a_time(world: World) -> None:
    player = await world.player(deposit=1_000)
    assert (await world.send(player, join())).ok
    again = await world.send(player, join(tc="3+2"))
    assert again.code == "already_queued"
    assert (await world.send(player, m.QueueLeave(id="l1"))).ok
    left = await world.frame(player, m.QueueStatus)
    while left.state != "left":
        left = await world.frame(player, m.QueueStatus)
    assert await world.mm.tick() == 0
    other = await world.player(deposit=1_000)
    assert (await world.send(player, join(stake=100))).ok
    assert (await world.send(other, join(stake=100))).ok
    assert await world.mm.tick() == 1
    busy = await world.send(player, join(stake=100))
    assert busy.code == "already_playing"
    assert (await world.send(player, join(stake=0))).ok  # free games are not limited
    bad = await world.send(player, join(tc="7+7"))
    assert bad.code in ("already_queued", "bad_time_control")


async def test_insufficient_funds_drops_that_player_and_requeues_the_others(
    world: World,
) -> None:
    rich, poor = await world.player(deposit=500), await world.player(deposit=100)
    assert (await world.send(rich, join(stake=100))).ok
    assert (await world.send(poor, join(stake=100))).ok
    await world.h.ledger.withdraw(poor, 50, key="spent")  # after joining, before the match
    async with world.h.store.connect() as conn:
        rich_since = await conn.scalar(
            select(queue_entries.c.enqueued_ms).where(queue_entries.c.player_id == rich)
        )
    assert await world.mm.tick() == 0
    dropped = await world.frame(poor, m.QueueStatus)
    while dropped.state != "dropped":
        dropped = await world.frame(poor, m.QueueStatus)
    assert "insufficient" in (dropped.reason or "")
    async with world.h.store.connect() as conn:
        queued = (await conn.execute(select(queue_entries))).all()
        escrows = (
            await conn.execute(select(ledger_transfers).where(ledger_transfers.c.kind == "escrow"))
        ).all()
        statuses = [r.status for r in await conn.execute(select(games.c.status))]
    assert [(q.player_id, q.enqueued_ms) for q in queued] == [(rich, rich_since)]
    assert escrows == [] and statuses == ["aborted"]
    assert await world.h.ledger.balance(rich) == 500
    assert await world.h.ledger.balance(poor) == 50
    assert await world.h.ledger.check() == []


async def test_private_game_by_invite_code(world: World) -> None:
    host, guest = await world.player(deposit=300), await world.player(deposit=300)
    create = m.PrivateCreate(id="p1", game="chess", time_control="2+1", stake=200)
    created = await world.send(host, create)
    assert created.ok and created.payload is not None
    code = msgspec.json.decode(created.payload)["code"]
    wrong = await world.send(guest, m.PrivateJoin(id="p2", code="NOPE2345"))
    assert wrong.code == "invite_not_found"
    joined = await world.send(guest, m.PrivateJoin(id="p3", code=code.lower()))
    assert joined.ok and joined.payload is not None
    assert msgspec.json.decode(joined.payload)["seat"] == 1
    matched = await world.frame(host, m.Matched)
    assert matched.seat == 0 and matched.stake == 200 and matched.time_control == "2+1"
    assert await world.h.ledger.balance(guest) == 100

    async def started() -> bool:
        return len(await world.h.events(matched.game_id)) == 1

    await wait_until(started, "the engine's start event")
    full = await world.send(await world.player(), m.PrivateJoin(id="p4", code=code))
    assert full.code == "invite_not_found"


async def test_a_game_left_pending_by_a_crash_is_started_at_the_next_start(
    world: World,
) -> None:
    players = [await world.player(deposit=100) for _ in range(2)]
    key = QueueKey("chess", 60_000, 0, 100)
    entries = [Entry(p, key, 1500, 0) for p in players]
    assert await world.mm.rows.enqueue(entries)
    # The matchmaker died right after making the game row: nothing escrowed yet.
    assert await world.mm.rows.create_from_queue("crashed-game", entries)
    restarted = Matchmaker(
        store=world.h.store, bus=world.h.bus, ledger=world.h.ledger, settings=world.h.settings
    )
    await restarted.recover()
    matched = await world.frame(players[1], m.Matched)
    assert matched.game_id == "crashed-game" and matched.seat == 1
    assert [await world.h.ledger.balance(p) for p in players] == [0, 0]

    async def started() -> bool:
        return len(await world.h.events("crashed-game")) == 1

    await wait_until(started, "the engine's start event")
    await restarted.recover()  # again: nothing more happens
    assert await world.h.ledger.check() == []
