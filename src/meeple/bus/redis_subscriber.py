"""One Redis pub/sub consumer: its own connection, a bounded buffer, self-healing.

A reader task owns the connection: it connects, subscribes every wanted topic,
reads messages into the buffer, and sends a ``PING`` when the connection has been
quiet for ``ping_interval_s`` (no answer within another interval: the connection
is dead). When the connection breaks it reconnects with capped, jittered backoff,
subscribes everything again, and once Redis has confirmed those subscriptions it
yields the ``GAP_TOPIC`` marker (frames published meanwhile are lost; the consumer
resyncs from the store).

:meth:`RedisSubscriber.subscribe` returns once Redis has confirmed the new
subscriptions, so a frame published after it returns is delivered. While Redis is
away it returns at once (the topics go live on the reconnect and the marker says
so). :meth:`RedisSubscriber.unsubscribe` takes effect at once: frames of a topic no
longer wanted are dropped on arrival.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from meeple.bus.base import GAP_TOPIC, Subscriber

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    from meeple.bus.redis import RedisBus

log = logging.getLogger(__name__)

_BACKOFF_START_S = 0.05
_BACKOFF_CAP_S = 1.0


class _Dead(Exception):
    """The connection stopped answering pings."""


class RedisSubscriber(Subscriber):
    """Subscriptions on one dedicated Redis connection (see the module docs)."""

    def __init__(self, bus: RedisBus, limit: int) -> None:
        self._bus = bus
        self._limit = limit
        self._prefix = bus.prefix
        self._frames: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()  # frames or the end are ready for the iterator
        self._wanted: set[str] = set()  # topics the consumer asked for
        self._sent: set[str] = set()  # topics subscribed on the current connection
        self._acks: dict[str, deque[asyncio.Future[bool]]] = {}  # topic -> confirmations
        self._gap_after: set[str] | None = None  # confirmations due before the marker
        self._missed = False  # frames may have been lost: the next connection says so
        self._conn: AbstractConnection | None = None
        self._live = asyncio.Event()  # set while connected (and resubscribed)
        self._down = False  # the last connection attempt failed
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._connected_once = False
        self.reconnects = 0
        """Connections made after the first one."""

    # -- the consumer's side ----------------------------------------------------------

    async def subscribe(self, *topics: str) -> None:
        new = [t for t in dict.fromkeys(topics) if t not in self._wanted]
        if self._closed or not new:
            return
        self._wanted.update(new)
        self._start()
        if not self._live.is_set():
            if self._down:
                self._missed = True  # live on the reconnect, announced by the marker
                return
            try:
                async with asyncio.timeout(self._bus.timeout_s):
                    await self._live.wait()
            except TimeoutError:
                self._missed = True
                return
        waits: list[asyncio.Future[bool]] = []
        async with self._write_lock:
            conn = self._conn
            if conn is None or not conn.is_connected:
                self._missed = True
                return
            todo = [t for t in new if t in self._wanted and t not in self._sent]
            # Expect the confirmations before sending: the reader may read them
            # while this task still waits for the send to drain.
            for topic in todo:
                self._sent.add(topic)
                self._expect(topic)
            # Topics sent by the (re)connect wait for the same confirmations.
            waits = [q[-1] for t in new if (q := self._acks.get(t))]
            if todo:
                try:
                    await conn.send_command(
                        "SUBSCRIBE", *[self._prefix + t for t in todo], check_health=False
                    )
                except (RedisError, OSError):
                    self._missed = True  # the reader sees the broken connection too
                    return
        if not waits:
            return
        try:
            async with asyncio.timeout(self._bus.timeout_s):
                confirmed = await asyncio.gather(*waits)
        except TimeoutError:
            # Redis did not confirm in time: start over on a fresh connection.
            log.warning("redis subscribe not confirmed; reconnecting")
            self._missed = True
            await conn.disconnect(nowait=True)
            return
        if not all(confirmed):
            self._missed = True

    async def unsubscribe(self, *topics: str) -> None:
        gone = [t for t in dict.fromkeys(topics) if t in self._wanted]
        self._wanted.difference_update(gone)
        async with self._write_lock:
            sent = [t for t in gone if t in self._sent]
            self._sent.difference_update(sent)
            conn = self._conn
            if not sent or conn is None or not conn.is_connected:
                return
            try:
                await conn.send_command(
                    "UNSUBSCRIBE", *[self._prefix + t for t in sent], check_health=False
                )
            except (RedisError, OSError):
                pass  # the next connection subscribes only what is wanted

    async def __aiter__(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            while self._frames:
                yield self._frames.popleft()
            if self._closed:
                return
            self._wake.clear()
            await self._wake.wait()

    async def close(self) -> None:
        self._close_now()
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- the reader -------------------------------------------------------------------

    def _running(self) -> bool:
        return not self._closed  # a method: close() flips it from other tasks

    def _start(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="redis-subscriber")

    async def _run(self) -> None:
        backoff = _BACKOFF_START_S
        while self._running():
            conn = self._bus._new_connection()
            try:
                await conn.connect()  # type: ignore[no-untyped-call]
                self._down = False
                backoff = _BACKOFF_START_S
                await self._resubscribe(conn)
                await self._read(conn)
            except (RedisError, OSError, TimeoutError, _Dead) as exc:
                if not self._closed:
                    if not self._down:
                        log.warning("redis subscriber connection lost: %s", exc)
                    self._down = True
            finally:
                self._lost(conn)
                await conn.disconnect(nowait=True)
            if not self._running():
                return
            await asyncio.sleep(backoff * (0.5 + random.random() / 2))
            backoff = min(backoff * 2, _BACKOFF_CAP_S)

    async def _resubscribe(self, conn: AbstractConnection) -> None:
        async with self._write_lock:
            topics = sorted(self._wanted)
            self._sent = set(topics)
            for topic in topics:
                self._expect(topic)
            if topics:
                await conn.send_command(
                    "SUBSCRIBE", *[self._prefix + t for t in topics], check_health=False
                )
            self._conn = conn
            if self._connected_once:
                self.reconnects += 1
            self._connected_once = True
            if self._missed:
                self._gap_after = set(topics)
            self._live.set()
        if self._gap_after == set():
            self._gap()

    async def _read(self, conn: AbstractConnection) -> None:
        pinged = False
        while not self._closed:
            reply = await conn.read_response(timeout=self._bus.ping_interval_s)
            if reply is None:  # quiet for an interval
                if pinged:
                    raise _Dead("no answer to PING")
                async with self._write_lock:
                    await conn.send_command("PING", check_health=False)
                pinged = True
                continue
            pinged = False
            if isinstance(reply, list):
                self._handle(reply)

    def _handle(self, reply: list[bytes]) -> None:
        kind = reply[0]
        if kind == b"message":
            topic = reply[1].decode()[len(self._prefix) :]
            if topic in self._wanted:
                self._push(topic, reply[2])
        elif kind == b"subscribe":
            topic = reply[1].decode()[len(self._prefix) :]
            waiting = self._acks.get(topic)
            if waiting:
                future = waiting.popleft()
                if not waiting:
                    del self._acks[topic]
                if not future.done():
                    future.set_result(True)
            if self._gap_after is not None:
                self._gap_after.discard(topic)
                if not self._gap_after:
                    self._gap()
        # "unsubscribe" confirmations and "pong" need nothing.

    def _expect(self, topic: str) -> None:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._acks.setdefault(topic, deque()).append(future)

    def _lost(self, conn: AbstractConnection) -> None:
        """The connection is gone: nothing is live until the next one."""
        if self._conn is conn:
            self._conn = None
        self._live.clear()
        self._sent = set()
        self._gap_after = None
        if self._wanted:
            self._missed = True
        for waiting in self._acks.values():
            for future in waiting:
                if not future.done():
                    future.set_result(False)
        self._acks.clear()

    def _gap(self) -> None:
        self._gap_after = None
        self._missed = False
        self.gaps += 1
        log.warning("redis subscriber resubscribed after a gap (%d so far)", self.gaps)
        self._push(GAP_TOPIC, b"")

    # -- the buffer ---------------------------------------------------------------------

    def _push(self, topic: str, data: bytes) -> None:
        if self._closed:
            return
        if len(self._frames) >= self._limit:
            self.overflowed = True
            log.warning("redis subscriber overflowed (%d frames buffered)", self._limit)
            self._close_now()
            return
        self._frames.append((topic, data))
        self._wake.set()

    def _close_now(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wanted.clear()
        self._live.set()  # release subscribe() waiters; they see the closed state
        self._wake.set()
        self._bus._forget(self)
        for waiting in self._acks.values():
            for future in waiting:
                if not future.done():
                    future.set_result(False)
        self._acks.clear()
