"""Commands from clients to engines and the matchmaker, and their replies.

A command goes to a work queue (its game's shard, or the matchmaker's) with this
gateway's id as ``reply_to``; the reply comes back on the gateway's reply topic
and resolves the future keyed by ``(player id, command id)``. A second copy of a
command still in flight (a client retrying early, or on a second connection)
waits for the same reply instead of being pushed again; after a reply or a
timeout the engine's own at-most-once record answers any retry.

Sending never makes the caller wait: :meth:`CommandRouter.submit` queues the push
and returns the reply future at once, and one pump task per gateway pushes the
queued commands in the order they were submitted (so one client's commands reach
their queue in the order it sent them). Timeouts are one sweep timer for all
commands in flight, not a timer or a task per command.

Failover: an engine that dies takes the commands it had popped with it. A game
command still unanswered ``resend_after_s`` after its push, whose shard has since
changed hands (the holder cache says so; it is refreshed then), is pushed again
with the same command id to the new owner, whose at-most-once record makes the
copy harmless. So a client waits for the takeover, not for its command timeout.

Availability: a game command for a shard that no engine holds is answered
``games_unavailable`` at once. Lease holders are cached for ``holder_ttl_s`` and
refreshed for all shards in one batched read (:meth:`Bus.holders`); a command for a
shard whose cached holder is stale is checked by the pump before it is pushed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque

from meeple.bus.base import Bus
from meeple.protocol.errors import ProtocolError
from meeple.protocol.internal import (
    SHARDS,
    Command,
    CommandReply,
    decode_reply,
    encode_internal,
    shard_lease,
)

log = logging.getLogger(__name__)

ReplyKey = tuple[int, str]

_SWEEP_MAX_S = 0.1


class _Outgoing:
    """A command waiting for the pump."""

    __slots__ = ("data", "future", "holder", "key", "pushed_at", "queue", "shard")

    def __init__(
        self,
        queue: str,
        data: bytes,
        shard: int | None,
        key: ReplyKey,
        future: asyncio.Future[CommandReply] | None,
    ) -> None:
        self.queue = queue
        self.data = data
        self.shard = shard
        self.key = key
        self.future = future
        self.pushed_at = 0.0
        self.holder: str | None = None  # the shard's lease holder when it was pushed


class CommandRouter:
    """Sends commands over the bus and pairs replies with their waiters."""

    def __init__(
        self,
        bus: Bus,
        gateway_id: str,
        *,
        timeout_s: float,
        holder_ttl_s: float = 1.0,
        resend_after_s: float = 0.5,
    ) -> None:
        self.bus = bus
        self.gateway_id = gateway_id
        self.timeout_s = timeout_s
        self.holder_ttl_s = holder_ttl_s
        self.resend_after_s = resend_after_s
        # Game commands pushed and unanswered, for a resend after a takeover.
        self._inflight: dict[ReplyKey, _Outgoing] = {}
        self._refresh: asyncio.Task[bool] | None = None
        # Insertion order is deadline order (one timeout for all): the sweep reads the front.
        self._pending: dict[ReplyKey, tuple[asyncio.Future[CommandReply], float]] = {}
        self._holders: dict[int, tuple[str | None, float]] = {}
        self._internal_ids = itertools.count(1)
        self._idle = asyncio.Event()
        self._idle.set()
        self._outbox: deque[_Outgoing] = deque()
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._sweep: asyncio.TimerHandle | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the pump."""
        if self._pump is None:
            self._pump = asyncio.create_task(self._run(), name=f"commands-{self.gateway_id}")

    async def stop(self) -> None:
        """Stop the pump and the sweep (answer the waiters first: :meth:`fail_all`)."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)
            self._refresh = None

    # -- availability -------------------------------------------------------------

    def known_available(self, shard: int) -> bool | None:
        """Whether an engine holds the shard's lease, from the cache (None: unknown or stale)."""
        cached = self._holders.get(shard)
        if cached is None or cached[1] <= time.monotonic():
            return None
        return cached[0] is not None

    async def shard_available(self, shard: int) -> bool:
        """Whether an engine holds the shard's lease (cached for ``holder_ttl_s``)."""
        known = self.known_available(shard)
        if known is not None:
            return known
        holder = await self.bus.holder(shard_lease(shard))
        self._holders[shard] = (holder, time.monotonic() + self.holder_ttl_s)
        return holder is not None

    async def any_available(self) -> bool:
        """Whether any engine is up (some shard is held); refreshes the cache."""
        holders = await self.bus.holders([shard_lease(s) for s in range(SHARDS)])
        expires = time.monotonic() + self.holder_ttl_s
        for shard, holder in enumerate(holders):
            self._holders[shard] = (holder, expires)
        return any(h is not None for h in holders)

    # -- sending --------------------------------------------------------------------

    def internal_id(self, kind: str) -> str:
        """A command id for the gateway's own requests (never a client's reply key)."""
        return f"~{kind}.{self.gateway_id}.{next(self._internal_ids)}"

    def command(
        self, *, game_id: str, player_id: int, command_id: str, kind: str, arg: str | None
    ) -> Command:
        """A command that wants its reply on this gateway's topic."""
        return Command(
            game_id=game_id,
            player_id=player_id,
            command_id=command_id,
            kind=kind,
            arg=arg,
            reply_to=self.gateway_id,
            sent_ms=int(time.time() * 1000),
        )

    def submit(
        self, queue: str, command: Command, *, shard: int | None = None
    ) -> asyncio.Future[CommandReply]:
        """Queue ``command`` for ``queue`` (unless the same one is in flight); its reply future.

        With ``shard``, a stale availability is checked before the push: no holder
        resolves the future with ``games_unavailable`` (nothing is pushed). The
        future fails with :class:`ProtocolError` (``timeout``, ``games_unavailable``).
        """
        key = (command.player_id, command.command_id)
        entry = self._pending.get(key)
        if entry is not None and not entry[0].done():
            return entry[0]
        loop = asyncio.get_running_loop()
        future: asyncio.Future[CommandReply] = loop.create_future()
        self._pending[key] = (future, time.monotonic() + self.timeout_s)
        self._idle.clear()
        if self._sweep is None:
            self._sweep = loop.call_later(self._sweep_period(), self._expire)
        self._outbox.append(_Outgoing(queue, encode_internal(command), shard, key, future))
        self._wake.set()
        return future

    def tell(self, queue: str, command: Command) -> None:
        """Queue a command that wants no reply (``reply_to`` is empty)."""
        quiet = Command(
            game_id=command.game_id,
            player_id=command.player_id,
            command_id=command.command_id,
            kind=command.kind,
            arg=command.arg,
            reply_to="",
            sent_ms=command.sent_ms,
        )
        key = (command.player_id, command.command_id)
        self._outbox.append(_Outgoing(queue, encode_internal(quiet), None, key, None))
        self._wake.set()

    async def call(self, queue: str, command: Command, *, shard: int | None = None) -> CommandReply:
        """Submit and wait for the reply (or :class:`ProtocolError`)."""
        return await self.submit(queue, command, shard=shard)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                item = self._outbox.popleft()
                if item.future is not None and item.future.done():
                    continue  # timed out (or failed) before its turn
                try:
                    if item.shard is not None and not await self.shard_available(item.shard):
                        self._fail(item, "games_unavailable", "no engine owns that game now")
                        continue
                    await self.bus.push(item.queue, item.data)
                    if item.shard is not None and item.future is not None:
                        cached = self._holders.get(item.shard)
                        item.holder = None if cached is None else cached[0]
                        item.pushed_at = time.monotonic()
                        self._inflight[item.key] = item
                except Exception as exc:
                    extra = {"queue": item.queue, "error": repr(exc)}
                    log.warning("command push failed", extra=extra)
                    self._fail(item, "games_unavailable", "the game service is unreachable; retry")

    def _fail(self, item: _Outgoing, code: str, message: str) -> None:
        future = item.future
        if future is None or future.done():
            return
        self._forget(item.key, future)
        future.set_exception(ProtocolError(code, message))

    # -- replies ----------------------------------------------------------------------

    def resolve(self, data: bytes) -> None:
        """Hand a reply frame from the reply topic to its waiter (if still waiting)."""
        try:
            reply = decode_reply(data)
        except ValueError:
            log.error("undecodable command reply dropped", extra={"size": len(data)})
            return
        key = (reply.player_id, reply.command_id)
        entry = self._pending.get(key)
        if entry is None:
            return  # timed out already; the client retries and gets the recorded outcome
        future = entry[0]
        if not future.done():
            future.set_result(reply)
        self._forget(key, future)

    def _sweep_period(self) -> float:
        return min(_SWEEP_MAX_S, max(0.005, self.timeout_s / 4))

    def _expire(self) -> None:
        """The sweep: fail every command past its deadline with ``timeout``."""
        self._sweep = None
        now = time.monotonic()
        expired = []
        for key, (future, deadline) in self._pending.items():
            if deadline > now:
                break
            expired.append((key, future))
        for key, future in expired:
            self._forget(key, future)
            if not future.done():
                future.set_exception(
                    ProtocolError("timeout", f"no answer in {self.timeout_s:g} s; retry")
                )
        self._resend_moved(now)
        if self._pending:
            self._sweep = asyncio.get_running_loop().call_later(self._sweep_period(), self._expire)

    def _resend_moved(self, now: float) -> None:
        """Push again the old unanswered game commands whose shard changed hands."""
        waiting = [i for i in self._inflight.values() if now - i.pushed_at >= self.resend_after_s]
        if not waiting:
            return
        fresh_until = now + self.holder_ttl_s - 0.25  # refreshed within the last 0.25 s
        stale = any(self._holders.get(i.shard or 0, (None, 0.0))[1] < fresh_until for i in waiting)
        if stale and (self._refresh is None or self._refresh.done()):
            self._refresh = asyncio.get_running_loop().create_task(self.any_available())
            self._refresh.add_done_callback(_ignore_failure)
        for item in waiting:
            cached = self._holders.get(item.shard or 0)
            if cached is None or cached[0] is None or cached[0] == item.holder:
                continue
            log.info(
                "resending a command to the shard's new owner",
                extra={"shard": item.shard, "old": item.holder, "new": cached[0]},
            )
            del self._inflight[item.key]
            item.pushed_at = now
            self._outbox.append(item)
            self._wake.set()

    def _forget(self, key: ReplyKey, future: asyncio.Future[CommandReply]) -> None:
        entry = self._pending.get(key)
        if entry is not None and entry[0] is future:
            del self._pending[key]
            self._inflight.pop(key, None)
        if not self._pending:
            self._idle.set()

    @property
    def in_flight(self) -> int:
        """Commands sent and not yet answered (or timed out)."""
        return len(self._pending)

    async def wait_idle(self, timeout_s: float) -> bool:
        """Until no command is in flight, at most ``timeout_s``; whether it got there."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def fail_all(self, code: str, message: str) -> None:
        """Answer every waiter with an error (the gateway is stopping)."""
        for (player_id, command_id), (future, _) in list(self._pending.items()):
            if not future.done():
                future.set_result(
                    CommandReply(
                        command_id=command_id,
                        player_id=player_id,
                        game_id="",
                        ok=False,
                        code=code,
                        message=message,
                    )
                )
        self._pending.clear()
        self._inflight.clear()
        self._idle.set()


def _ignore_failure(task: asyncio.Task[bool]) -> None:
    """A failed holder refresh is retried by the next sweep; the bus logs its own trouble."""
    if not task.cancelled():
        task.exception()
