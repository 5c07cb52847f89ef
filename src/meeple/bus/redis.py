"""The Redis Bus adapter: many processes, one Redis (which holds no state of record).

- **pub/sub**: ``PUBLISH``; :meth:`RedisBus.publish_many` sends a whole batch in one
  pipeline (one round trip). Each subscriber has its own connection (see
  :mod:`meeple.bus.redis_subscriber`): a gateway has one subscriber, so one
  connection, whatever the number of its topics.
- **work queues**: Redis lists, ``LPUSH`` in, taken from the other end. A pop first
  takes what is there with one Lua script (up to ``max_items`` across the queues, in
  their order, FIFO per queue); when nothing is, it blocks in ``BRPOP`` on every queue
  (at most ``wait_s``) and then takes the rest of the batch with the script. An item is
  gone from Redis once popped: it is lost if its consumer dies (or its connection
  breaks) before handling it; senders retry with the same command id.
- **leases**: one key per lease holding the owner. A Lua script takes it
  (``SET NX PX``) or renews it only if the caller still holds it (``PEXPIRE``), in one
  round trip; another releases it only if the caller holds it. ``GET`` never returns an
  expired key, so :meth:`RedisBus.holder` is exact to Redis's clock. Fencing a paused
  holder is the store's job (expected-sequence appends).

Failures: every call has a deadline. Connection errors are retried a few times with
jittered exponential backoff (redis-py's ``Retry``), then raise
:class:`~meeple.bus.base.BusUnavailable`; nothing hangs. A retried ``LPUSH`` or
``PUBLISH`` may land twice (harmless: command ids and event sequence numbers dedupe).
After a Redis restart the queues and leases are empty (Redis keeps nothing): owners
re-acquire their leases at the next renewal, senders retry.

Bounds: the connection pool is bounded (callers wait for a free connection up to the
call's timeout), pipelines are sent in chunks, each subscriber buffers at most its
limit. The queues live in Redis memory (bounded by Redis's ``maxmemory``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from meeple.bus.base import Bus, BusError, BusUnavailable, Subscriber
from meeple.bus.redis_subscriber import RedisSubscriber

log = logging.getLogger(__name__)

T = TypeVar("T")

_PIPELINE_CHUNK = 512
"""Frames per pipeline round trip in publish_many (bounds the client's write buffer)."""

# Take up to ARGV[1] items from the KEYS in order (FIFO: LPUSH in, RPOP out).
# Returns a flat list: key index (1-based), item, key index, item, ...
_TAKE = """
local out = {}
local left = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if left <= 0 then break end
  local items = redis.call('RPOP', key, left)
  if items then
    for _, item in ipairs(items) do
      out[#out + 1] = i
      out[#out + 1] = item
    end
    left = left - #items
  end
end
return out
"""

# Take the lease if free, renew it if ARGV[1] holds it; 1 if held by ARGV[1] now.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return 1
"""

# Delete the lease only if ARGV[1] holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisBus(Bus):
    """Pub/sub, work queues and leases on one Redis server (``redis://`` URL).

    ``prefix`` namespaces every key and channel (several deployments or test runs on
    one Redis). ``timeout_s`` bounds each socket operation and each pool wait;
    ``retries`` connection failures are retried (backoff ``backoff_cap_s`` at most)
    before :class:`BusUnavailable`.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        max_connections: int = 32,
        timeout_s: float = 2.0,
        retries: int = 3,
        backoff_cap_s: float = 0.5,
        ping_interval_s: float = 5.0,
    ) -> None:
        self.prefix = prefix
        self.timeout_s = timeout_s
        self.ping_interval_s = ping_interval_s
        self._budget_s = (timeout_s + backoff_cap_s) * (retries + 1)
        # BRPOP must return before the socket read times out.
        self._block_chunk_s = max(0.05, timeout_s / 2)
        self._pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(ExponentialWithJitterBackoff(cap=backoff_cap_s, base=0.05), retries),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
            protocol=2,
        )
        self._client = Redis(connection_pool=self._pool)
        self._take = self._client.register_script(_TAKE)
        self._acquire = self._client.register_script(_ACQUIRE)
        self._release = self._client.register_script(_RELEASE)
        self._subscribers: set[RedisSubscriber] = set()

    def __repr__(self) -> str:
        return f"RedisBus(prefix={self.prefix!r})"

    async def _call(self, what: str, op: Callable[[], Awaitable[T]], budget_s: float = 0) -> T:
        """Run one Redis exchange under a deadline, with the port's errors."""
        try:
            async with asyncio.timeout(budget_s or self._budget_s):
                return await op()
        except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError) as exc:
            raise BusUnavailable(f"redis {what} failed: {exc}") from exc
        except TimeoutError as exc:
            raise BusUnavailable(f"redis {what} timed out") from exc
        except RedisError as exc:
            raise BusError(f"redis {what} failed: {exc}") from exc

    # -- pub/sub ------------------------------------------------------------

    async def publish(self, topic: str, data: bytes) -> None:
        await self._call("publish", lambda: self._client.publish(self.prefix + topic, data))

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for start in range(0, len(messages), _PIPELINE_CHUNK):
            chunk = messages[start : start + _PIPELINE_CHUNK]
            await self._call("publish", functools.partial(self._publish_chunk, chunk))

    async def _publish_chunk(self, chunk: Sequence[tuple[str, bytes]]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for topic, data in chunk:
            pipe.publish(self.prefix + topic, data)
        await pipe.execute()

    def subscriber(self, *, limit: int = 10_000) -> Subscriber:
        sub = RedisSubscriber(self, limit)
        self._subscribers.add(sub)
        return sub

    def _new_connection(self) -> AbstractConnection:
        """A connection outside the pool (a subscriber keeps it for its lifetime)."""
        return self._pool.connection_class(**self._pool.connection_kwargs)

    def _forget(self, sub: RedisSubscriber) -> None:
        self._subscribers.discard(sub)

    # -- work queues ----------------------------------------------------------

    async def push(self, queue: str, data: bytes) -> None:
        await self._call("push", lambda: self._client.lpush(self.prefix + queue, data))

    async def pop(
        self, queues: Sequence[str], *, max_items: int, wait_s: float
    ) -> list[tuple[str, bytes]]:
        if max_items <= 0 or not queues:
            return []
        keys = [self.prefix + q for q in queues]
        taken = await self._take_now(queues, keys, max_items)
        if taken or wait_s <= 0:
            return taken
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        while True:
            remaining = deadline - loop.time()
            if remaining < 0.001:  # BRPOP 0 would block forever
                return []
            block = round(min(remaining, self._block_chunk_s), 3)
            got = await self._call(
                "pop", functools.partial(self._brpop, keys, block), budget_s=block + self._budget_s
            )
            if got:
                break
        key, data = got
        first = (queues[keys.index(key.decode())], data)
        if max_items == 1:
            return [first]
        return [first, *await self._take_now(queues, keys, max_items - 1)]

    async def _brpop(self, keys: list[str], block_s: float) -> tuple[bytes, bytes] | None:
        got = await self._client.brpop(keys, timeout=block_s)
        return cast("tuple[bytes, bytes] | None", got)

    async def _take_now(
        self, queues: Sequence[str], keys: list[str], max_items: int
    ) -> list[tuple[str, bytes]]:
        flat = await self._call("pop", lambda: self._take(keys=keys, args=[max_items]))
        items = cast("list[int | bytes]", flat)
        return [
            (queues[cast(int, items[i]) - 1], cast(bytes, items[i + 1]))
            for i in range(0, len(items), 2)
        ]

    # -- leases -----------------------------------------------------------------

    async def acquire(self, name: str, owner: str, ttl_ms: int) -> bool:
        key = self.prefix + name
        held = await self._call("acquire", lambda: self._acquire(keys=[key], args=[owner, ttl_ms]))
        return bool(held)

    async def release(self, name: str, owner: str) -> None:
        key = self.prefix + name
        await self._call("release", lambda: self._release(keys=[key], args=[owner]))

    async def holder(self, name: str) -> str | None:
        value = await self._call("holder", lambda: self._client.get(self.prefix + name))
        return None if value is None else cast(bytes, value).decode()

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        """Every holder in one ``MGET`` (an expired key reads as missing)."""
        if not names:
            return []
        keys = [self.prefix + name for name in names]
        values = await self._call("holders", lambda: self._client.mget(keys))
        return [None if v is None else v.decode() for v in cast("list[bytes | None]", values)]

    # -- life cycle ---------------------------------------------------------------

    async def ping(self) -> bool:
        try:
            return bool(await self._call("ping", self._client.ping, budget_s=self.timeout_s))
        except BusError:
            return False

    async def close(self) -> None:
        for sub in list(self._subscribers):
            await sub.close()
        await self._client.aclose()
        await self._pool.disconnect()
