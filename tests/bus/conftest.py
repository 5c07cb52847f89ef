"""Fixtures of the Bus contract suite: one bus per adapter, and a frame collector."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from meeple.bus.base import Bus, Subscriber
from meeple.bus.memory import MemoryBus
from meeple.bus.redis import RedisBus
from tests.services import RedisServer

DEADLINE_S = 5.0


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    """A bus of each adapter; the Redis one namespaced for this test."""
    the_bus: Bus
    if request.param == "memory":
        the_bus = MemoryBus()
    else:
        server: RedisServer = request.getfixturevalue("redis")
        server.start()  # a fault test before may have left it down
        the_bus = RedisBus(server.url, prefix=f"t{uuid.uuid4().hex[:12]}:")
    try:
        yield the_bus
    finally:
        await the_bus.close()


class Collector:
    """Iterates a subscriber in a task and records every frame (and the end)."""

    def __init__(self, sub: Subscriber) -> None:
        self.sub = sub
        self.frames: list[tuple[str, bytes]] = []
        self.ended = False
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for frame in self.sub:
            async with self._changed:
                self.frames.append(frame)
                self._changed.notify_all()
        async with self._changed:
            self.ended = True
            self._changed.notify_all()

    async def until(
        self, condition: Callable[[Collector], bool], within_s: float = DEADLINE_S
    ) -> None:
        """Wait until ``condition(self)`` holds (fail after ``within_s`` seconds)."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: condition(self))

    async def count(self, n: int) -> list[tuple[str, bytes]]:
        """Wait for ``n`` frames; return them."""
        await self.until(lambda c: len(c.frames) >= n)
        return self.frames[:n]

    def of(self, topic: str) -> list[bytes]:
        """The frames of one topic, in arrival order."""
        return [data for t, data in self.frames if t == topic]

    async def stop(self) -> None:
        """Close the subscriber and wait for the iteration to end."""
        await self.sub.close()
        async with asyncio.timeout(DEADLINE_S):
            await self._task


@pytest.fixture
async def collect(bus: Bus) -> AsyncIterator[Callable[..., Collector]]:
    """Make collectors over new subscribers of ``bus``; all stopped at the end."""
    made: list[Collector] = []

    def make(sub: Subscriber | None = None, *, limit: int = 10_000) -> Collector:
        col = Collector(sub if sub is not None else bus.subscriber(limit=limit))
        made.append(col)
        return col

    yield make
    for col in made:
        await col.stop()
