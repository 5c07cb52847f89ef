"""Redis-only fault tests: restarts, outages and a server that stops answering.

Each test runs on a Redis server of this module (so killing it disturbs no other
test) with short timeouts, so that an outage is noticed in well under a second.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from meeple.bus.base import GAP_TOPIC, BusUnavailable
from meeple.bus.redis import RedisBus
from tests.bus.conftest import Collector
from tests.services import RedisServer


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    """A Redis server that these tests may kill."""
    root = Path(tempfile.mkdtemp(prefix="meeple-redis-faults-"))
    redis = RedisServer(root)
    try:
        redis.start()
        yield redis
    finally:
        redis.resume()
        redis.kill()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def bus(server: RedisServer) -> AsyncIterator[RedisBus]:
    """A bus with short timeouts on the module's (running) server."""
    server.resume()
    server.start()
    the_bus = RedisBus(
        server.url,
        prefix=f"f{uuid.uuid4().hex[:12]}:",
        timeout_s=0.3,
        retries=2,
        backoff_cap_s=0.1,
        ping_interval_s=0.3,
    )
    try:
        yield the_bus
    finally:
        server.resume()
        await the_bus.close()


async def eventually_ok(op: Callable[[], Awaitable[object]], within_s: float = 10.0) -> None:
    """Retry an operation that raises BusUnavailable until it succeeds."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            await op()
            return
        except BusUnavailable:
            assert time.monotonic() < deadline, "the bus never came back"
            await asyncio.sleep(0.05)


async def test_subscriber_resumes_after_restart_and_reports_the_gap(
    server: RedisServer, bus: RedisBus
) -> None:
    col = Collector(bus.subscriber())
    try:
        await col.sub.subscribe("game.1", "player.7")
        await bus.publish("game.1", b"before")
        await col.count(1)

        server.kill()
        server.start()  # same port, empty

        # The subscriber reconnects by itself; the marker comes once it is live again.
        await col.until(lambda c: (GAP_TOPIC, b"") in c.frames)
        await bus.publish("game.1", b"after")
        await bus.publish("player.7", b"hello")
        await col.until(lambda c: len(c.frames) >= 4)
        assert col.frames == [
            ("game.1", b"before"),
            (GAP_TOPIC, b""),
            ("game.1", b"after"),
            ("player.7", b"hello"),
        ]
        assert col.sub.gaps == 1
        assert not col.ended and not col.sub.overflowed
    finally:
        await col.stop()


async def test_publisher_raises_during_outage_and_works_after(
    server: RedisServer, bus: RedisBus
) -> None:
    col = Collector(bus.subscriber())
    try:
        await col.sub.subscribe("t")
        server.kill()
        for op in (
            lambda: bus.publish("t", b"lost"),
            lambda: bus.publish_many([("t", b"lost")]),
            lambda: bus.push("q", b"lost"),
            lambda: bus.pop(["q"], max_items=5, wait_s=0.2),
            lambda: bus.acquire("lease", "e1", 1000),
            lambda: bus.release("lease", "e1"),
            lambda: bus.holder("lease"),
        ):
            started = time.monotonic()
            with pytest.raises(BusUnavailable) as info:
                await op()
            assert info.value.code == "bus_unavailable"
            assert time.monotonic() - started < 5.0  # bounded retries, no hang
        assert not await bus.ping()

        server.start()
        await eventually_ok(lambda: bus.publish("t", b"back"))
        assert await bus.ping()
        await col.until(lambda c: c.sub.gaps == 1)
        await bus.publish("t", b"live")
        await col.until(lambda c: ("t", b"live") in c.frames)
        assert ("t", b"lost") not in col.frames
        await bus.push("q", b"item")
        assert await bus.pop(["q"], max_items=5, wait_s=1) == [("q", b"item")]
    finally:
        await col.stop()


async def test_leases_are_gone_after_a_restart(server: RedisServer, bus: RedisBus) -> None:
    assert await bus.acquire("lease.shard.1", "e1", 60_000)
    assert not await bus.acquire("lease.shard.1", "e2", 60_000)
    server.restart()
    await eventually_ok(lambda: bus.holder("probe"))
    assert await bus.holder("lease.shard.1") is None  # Redis keeps nothing
    assert await bus.acquire("lease.shard.1", "e2", 60_000)
    assert await bus.holder("lease.shard.1") == "e2"


async def test_queues_are_empty_after_a_restart(server: RedisServer, bus: RedisBus) -> None:
    await bus.push("cmd.3", b"x")
    server.restart()
    await eventually_ok(lambda: bus.holder("probe"))
    assert await bus.pop(["cmd.3"], max_items=5, wait_s=0) == []


async def test_subscribe_while_redis_is_down(server: RedisServer, bus: RedisBus) -> None:
    col = Collector(bus.subscriber())
    try:
        await col.sub.subscribe("early")
        server.kill()
        # The subscriber notices, then a new subscribe returns at once instead of failing.
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await col.sub.subscribe("late")
        assert time.monotonic() - started < 1.0
        server.start()
        await col.until(lambda c: c.sub.gaps == 1)
        await bus.publish("late", b"1")
        await bus.publish("early", b"2")
        await col.until(lambda c: len(c.frames) >= 3)
        assert col.frames == [(GAP_TOPIC, b""), ("late", b"1"), ("early", b"2")]
    finally:
        await col.stop()


async def test_unanswering_server_times_out_then_recovers(
    server: RedisServer, bus: RedisBus
) -> None:
    col = Collector(bus.subscriber())
    try:
        await col.sub.subscribe("t")
        server.pause()  # connections stay open; nothing answers
        started = time.monotonic()
        with pytest.raises(BusUnavailable):
            await bus.publish("t", b"x")
        assert time.monotonic() - started < 5.0
        server.resume()
        await col.until(lambda c: c.sub.gaps >= 1)  # the subscriber's PING went unanswered
        await eventually_ok(lambda: bus.publish("t", b"y"))
        await col.until(lambda c: ("t", b"y") in c.frames)
    finally:
        await col.stop()
