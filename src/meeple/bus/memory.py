"""The in-memory Bus adapter: one process (``meeple serve``), no network.

Same promises as the Redis adapter (see :mod:`meeple.bus.base`); the contract
suite in tests/bus runs against both.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Sequence

from meeple.bus.base import Bus, Subscriber

_CLOSED = ("", b"")


class MemorySubscriber(Subscriber):
    """A bounded buffer fed by :class:`MemoryBus`."""

    def __init__(self, bus: MemoryBus, limit: int) -> None:
        self._bus = bus
        self._limit = limit
        self._frames: deque[tuple[str, bytes]] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self.topics: set[str] = set()

    def _deliver(self, topic: str, data: bytes) -> None:
        if self._closed:
            return
        if len(self._frames) >= self._limit:
            self.overflowed = True
            self._close_now()
            return
        self._frames.append((topic, data))
        self._ready.set()

    async def subscribe(self, *topics: str) -> None:
        for topic in topics:
            if topic not in self.topics:
                self.topics.add(topic)
                self._bus._subscribers[topic].add(self)

    async def unsubscribe(self, *topics: str) -> None:
        for topic in topics:
            self.topics.discard(topic)
            subs = self._bus._subscribers.get(topic)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self._bus._subscribers[topic]

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            while self._frames:
                yield self._frames.popleft()
            if self._closed:
                return
            self._ready.clear()
            await self._ready.wait()

    def _close_now(self) -> None:
        self._closed = True
        for topic in list(self.topics):
            subs = self._bus._subscribers.get(topic)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self._bus._subscribers[topic]
        self.topics.clear()
        self._ready.set()

    async def close(self) -> None:
        self._close_now()


class MemoryBus(Bus):
    """Pub/sub, queues and leases in this process's memory."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[MemorySubscriber]] = defaultdict(set)
        self._queues: dict[str, deque[bytes]] = defaultdict(deque)
        self._queue_ready = asyncio.Condition()
        self._leases: dict[str, tuple[str, float]] = {}

    async def publish(self, topic: str, data: bytes) -> None:
        for sub in tuple(self._subscribers.get(topic, ())):
            sub._deliver(topic, data)

    def subscriber(self, *, limit: int = 10_000) -> Subscriber:
        return MemorySubscriber(self, limit)

    async def push(self, queue: str, data: bytes) -> None:
        self._queues[queue].append(data)
        async with self._queue_ready:
            self._queue_ready.notify_all()

    def _take(self, queues: Sequence[str], max_items: int) -> list[tuple[str, bytes]]:
        taken: list[tuple[str, bytes]] = []
        for name in queues:
            items = self._queues.get(name)
            while items and len(taken) < max_items:
                taken.append((name, items.popleft()))
        return taken

    async def pop(
        self, queues: Sequence[str], *, max_items: int, wait_s: float
    ) -> list[tuple[str, bytes]]:
        taken = self._take(queues, max_items)
        if taken or wait_s <= 0:
            return taken
        deadline = time.monotonic() + wait_s
        async with self._queue_ready:
            while not taken:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._queue_ready.wait(), remaining)
                except TimeoutError:
                    break
                taken = self._take(queues, max_items)
        return taken

    async def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        now = time.monotonic()
        held = self._leases.get(name)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._leases[name] = (owner, now + ttl_ms / 1000)
        return True

    async def release(self, name: str, owner: str) -> None:
        held = self._leases.get(name)
        if held is not None and held[0] == owner:
            del self._leases[name]

    async def holder(self, name: str) -> str | None:
        held = self._leases.get(name)
        if held is None or held[1] <= time.monotonic():
            return None
        return held[0]
