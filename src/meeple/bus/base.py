"""The Bus port: how tiers talk, whatever carries it (memory or Redis).

Three things, each with the weakest promise that meeple needs, so that any
adapter can keep it:

- **pub/sub** (:meth:`Bus.publish`, :meth:`Bus.subscriber`): fan-out of bytes to
  every current subscriber of a topic, in publish order per topic, *at most once*.
  Nothing of record travels only here: a subscriber that missed frames (slow,
  reconnected, Redis restarted) resynchronises from the store by sequence number.
- **work queues** (:meth:`Bus.push`, :meth:`Bus.pop`): each item to one consumer,
  FIFO per queue. An item may be lost if its consumer dies; commands are retried
  by their senders with the same command id, and the engine applies a command id
  at most once (DESIGN.md invariant 3).
- **leases** (:meth:`Bus.acquire`, :meth:`Bus.release`): a named lease held by one
  owner until it expires unless renewed. A lease decides who *should* write; the
  store's expected-sequence append decides who *can* (a paused holder is fenced).

Every buffer is bounded: a subscriber that falls behind by more than its limit
is marked ``overflowed`` and dropped (it must resubscribe and resync).

A subscriber whose connection to the bus broke (Redis restarted, network cut)
does *not* end: it reconnects and resubscribes by itself, then yields the marker
frame ``(GAP_TOPIC, b"")`` once its topics are live again, and counts it in
``gaps``. Frames published while it was away are gone: on the marker, resync
every topic from the store (as after an overflow, without resubscribing). The
in-memory adapter never loses its connection, so it never yields the marker.
Likewise ``subscribe`` does not fail while the bus is away: its topics go live on
the reconnect, which the marker announces.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence

GAP_TOPIC = ""
"""Topic of the marker ``(GAP_TOPIC, b"")`` that a subscriber yields after a reconnect:
frames may have been lost before it (no real topic is empty)."""


class BusError(Exception):
    """Root of bus errors."""

    code = "bus_error"


class BusUnavailable(BusError):
    """The bus cannot be reached now (e.g. Redis is restarting); try again."""

    code = "bus_unavailable"


class Subscriber(ABC):
    """One consumer's subscriptions; iterate it for ``(topic, data)`` pairs."""

    overflowed: bool = False
    gaps: int = 0
    """How many ``GAP_TOPIC`` markers this subscriber has yielded (reconnects that lost frames)."""

    @abstractmethod
    async def subscribe(self, *topics: str) -> None:
        """Start receiving frames published to ``topics`` from now on."""

    @abstractmethod
    async def unsubscribe(self, *topics: str) -> None:
        """Stop receiving ``topics``."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        """Frames in publish order per topic; ends when closed or overflowed."""

    @abstractmethod
    async def close(self) -> None:
        """Unsubscribe from everything and end the iteration."""


class Bus(ABC):
    """Publish/subscribe, work queues and leases."""

    # -- pub/sub ------------------------------------------------------------

    @abstractmethod
    async def publish(self, topic: str, data: bytes) -> None:
        """Send ``data`` to the current subscribers of ``topic``."""

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish several frames at once (adapters pipeline them)."""
        for topic, data in messages:
            await self.publish(topic, data)

    @abstractmethod
    def subscriber(self, *, limit: int = 10_000) -> Subscriber:
        """A new consumer that buffers at most ``limit`` frames."""

    # -- work queues ----------------------------------------------------------

    @abstractmethod
    async def push(self, queue: str, data: bytes) -> None:
        """Append an item to ``queue``."""

    @abstractmethod
    async def pop(
        self, queues: Sequence[str], *, max_items: int, wait_s: float
    ) -> list[tuple[str, bytes]]:
        """Take up to ``max_items`` items from ``queues`` (waiting up to ``wait_s``
        seconds for the first); returns ``(queue, data)`` pairs, maybe none."""

    # -- leases -----------------------------------------------------------------

    @abstractmethod
    async def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Take the lease ``name`` for ``owner`` (or renew it if ``owner`` holds it)
        for ``ttl_ms``. False if someone else holds it."""

    @abstractmethod
    async def release(self, name: str, owner: str) -> None:
        """Give the lease up now, if ``owner`` holds it."""

    @abstractmethod
    async def holder(self, name: str) -> str | None:
        """Who holds the lease now (``None``: nobody)."""

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        """Who holds each of several leases now (adapters read them in one round trip)."""
        return [await self.holder(name) for name in names]

    # -- life cycle ---------------------------------------------------------------

    async def ping(self) -> bool:
        """Whether the bus is reachable (readiness checks)."""
        return True

    async def close(self) -> None:  # noqa: B027  (optional hook)
        """Release connections."""
