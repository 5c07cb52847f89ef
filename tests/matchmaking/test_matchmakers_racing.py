"""Several matchmaker instances on one store: nobody is matched twice, nobody queued is
lost, and one player never ends up in two staked games, however their commands race."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import func, select

from meeple.matchmaking import Matchmaker
from meeple.protocol import messages as m
from meeple.protocol.internal import Command, CommandReply
from meeple.store.database import Store
from meeple.store.schema import game_seats, games, queue_entries
from tests.engine.harness import Harness, fast_settings

_ids = itertools.count(1)


@pytest.fixture
async def two(store: Store, tmp_path: Path) -> AsyncIterator[tuple[Harness, list[Matchmaker]]]:
    """A harness and two matchmakers (not started: the tests drive them directly)."""
    settings = fast_settings(tmp_path, match_window=10_000, match_tick_ms=60_000)
    harness = Harness(store, settings)
    await harness.start()
    instances = [
        Matchmaker(
            store=store,
            bus=harness.bus,
            ledger=harness.ledger,
            settings=settings,
            instance_id=f"mm-{i}",
        )
        for i in (1, 2)
    ]
    try:
        yield harness, instances
    finally:
        await harness.close()


def command(player: int, message: msgspec.Struct) -> Command:
    return Command(
        game_id="",
        player_id=player,
        command_id=f"c{next(_ids)}",
        kind=str(type(message).__struct_config__.tag),
        arg=m.encode(message).decode(),
        reply_to="",
        sent_ms=0,
    )


def join(stake: int = 0) -> m.QueueJoin:
    return m.QueueJoin(id=f"j{next(_ids)}", game="chess", time_control="1+0", stake=stake)


async def seats_by_player(store: Store) -> dict[int, int]:
    """Seats each player holds in pending or active games."""
    async with store.connect() as conn:
        rows = await conn.execute(
            select(game_seats.c.player_id, func.count())
            .join(games, games.c.id == game_seats.c.game_id)
            .where(games.c.status.in_(("pending", "active")))
            .group_by(game_seats.c.player_id)
        )
        return {int(p): int(n) for p, n in rows}


async def queued(store: Store) -> set[int]:
    async with store.connect() as conn:
        return {int(p) for (p,) in await conn.execute(select(queue_entries.c.player_id))}


async def test_racing_ticks_match_each_player_once_and_lose_nobody(
    two: tuple[Harness, list[Matchmaker]],
) -> None:
    harness, (a, b) = two
    players = await harness.players(30)
    made = 0
    for round_ in range(3):
        wave = players[round_ * 10 : (round_ + 1) * 10]
        for i, player in enumerate(wave):
            assert (await (a if i % 2 else b).handle(command(player, join()))).ok
        # Both believe they hold lease.matchmaker (e.g. one was paused): both tick at once.
        made += sum(await asyncio.gather(a.tick(), b.tick(), a.tick()))
    seated = await seats_by_player(harness.store)
    assert set(seated.values()) == {1}, "a player in two games"
    assert len(seated) == 2 * made == 30 - len(await queued(harness.store))
    assert set(seated) | await queued(harness.store) == set(players)  # nobody lost
    while await a.tick():  # whoever is left is matched by the next ticks
        pass
    assert await queued(harness.store) == set()


async def test_a_player_racing_a_queue_and_a_private_game_gets_one_staked_game(
    two: tuple[Harness, list[Matchmaker]],
) -> None:
    harness, (a, b) = two
    hosts = await harness.players(6, deposit=1_000)
    racers = await harness.players(6, deposit=1_000)
    opponents = await harness.players(6, deposit=1_000)
    for host, racer, opponent in zip(hosts, racers, opponents, strict=True):
        create = m.PrivateCreate(id="p", game="chess", time_control="1+0", stake=100)
        created = await a.handle(command(host, create))
        assert created.ok and created.payload is not None
        code = msgspec.json.decode(created.payload)["code"]
        assert (await a.handle(command(opponent, join(stake=100)))).ok
        # The same player, on two instances at once: a staked queue and a staked private game.
        replies: list[CommandReply] = await asyncio.gather(
            a.handle(command(racer, join(stake=100))),
            b.handle(command(racer, m.PrivateJoin(id="q", code=code))),
        )
        assert sum(r.ok for r in replies) >= 1
        await a.tick()
    seated = await seats_by_player(harness.store)
    in_queue = await queued(harness.store)
    for racer in racers:
        assert seated.get(racer, 0) + (racer in in_queue) == 1, (racer, seated, in_queue)
    assert await harness.ledger.check() == []
