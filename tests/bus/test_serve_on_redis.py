"""``meeple serve`` with ``MEEPLE_REDIS_URL``: every tier talks through Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from meeple.bus.factory import open_bus
from meeple.bus.memory import MemoryBus
from meeple.bus.redis import RedisBus
from meeple.protocol.internal import shard_lease
from meeple.settings import Settings
from tests.e2e.conftest import Platform, make_server
from tests.e2e.helpers import queue_and_match, subscribe, until_event
from tests.services import RedisServer


def test_open_bus_chooses_the_adapter_from_the_settings() -> None:
    assert isinstance(open_bus(Settings(redis_url=None)), MemoryBus)
    assert isinstance(open_bus(Settings(redis_url="redis://127.0.0.1:1/0")), RedisBus)


@pytest.fixture
async def platform(redis: RedisServer, tmp_path: Path) -> AsyncIterator[Platform]:
    redis.start()
    server = make_server(tmp_path, MEEPLE_REDIS_URL=redis.url)
    server.start()
    plat = Platform(server)
    try:
        yield plat
    finally:
        await plat.close()
        server.stop()


async def test_a_game_is_matched_and_played_over_redis(
    platform: Platform, redis: RedisServer
) -> None:
    alice, bob = await platform.player(funds=1000), await platform.player(funds=1000)
    a, b = await platform.welcome(alice), await platform.welcome(bob)
    # Matchmaker queue, start command, Matched frames on player topics: all through Redis.
    game_id, by_seat = await queue_and_match([a, b], "chess", "1+0", 100)
    white, black = by_seat[0], by_seat[1]
    for client in (white, black):
        await subscribe(client, game_id)
        await client.type("state")
    reply = await white.call({"type": "move", "game_id": game_id, "move": "e2e4"})
    assert reply["type"] == "ack", reply
    event = await until_event(black, game_id, "move")
    assert event["seq"] == 2

    probe = RedisBus(redis.url)
    try:
        # The engine of that process holds the shard leases in Redis.
        assert (await probe.holder(shard_lease(0))) is not None
    finally:
        await probe.close()


async def test_a_game_continues_after_a_redis_restart(
    platform: Platform, redis: RedisServer
) -> None:
    alice, bob = await platform.player(funds=1000), await platform.player(funds=1000)
    a, b = await platform.welcome(alice), await platform.welcome(bob)
    game_id, by_seat = await queue_and_match([a, b], "chess", "3+2", 100)
    white, black = by_seat[0], by_seat[1]
    for client in (white, black):
        await subscribe(client, game_id)
        await client.type("state")
    assert (await white.call({"type": "move", "game_id": game_id, "move": "e2e4"}))["type"] == "ack"

    redis.kill()  # leases, queues and subscriptions are gone with it
    await asyncio.sleep(1.5)  # longer than the bus's retries: every tier sees the outage
    redis.start()

    # Black retries the same command id until an engine owns the game again.
    move = {"type": "move", "game_id": game_id, "move": "e7e5", "id": "b-1"}
    deadline = time.monotonic() + 20
    while True:
        reply = await black.call(move, within=10)
        if reply["type"] == "ack":
            break
        assert reply["code"] in {"games_unavailable", "timeout"}, reply
        assert time.monotonic() < deadline, "the game never came back"
        await asyncio.sleep(0.2)
    assert reply["seq"] == 3
    event = await white.wait_for(
        lambda f: f.get("type") == "event" and f.get("seq") == 3, 10, what="black's move"
    )
    assert event["data"]["move"] == "e7e5"
