"""Commands from clients to engines and the matchmaker, and their replies.

A command goes to a work queue (its game's shard, or the matchmaker's) with this
gateway's id as ``reply_to``; the reply comes back on the gateway's reply topic
and resolves the future keyed by ``(player id, command id)``. A second copy of a
command still in flight (a client retrying early, or on a second connection)
waits for the same reply instead of being pushed again; after a reply or a
timeout the engine's own at-most-once record answers any retry.

Availability: a game command for a shard that no engine holds is answered
``games_unavailable`` at once. Lease holders are cached for ``holder_ttl_s`` so
that a busy gateway asks the bus about each shard at most once a second.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

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


class CommandRouter:
    """Sends commands over the bus and pairs replies with their waiters."""

    def __init__(
        self, bus: Bus, gateway_id: str, *, timeout_s: float, holder_ttl_s: float = 1.0
    ) -> None:
        self.bus = bus
        self.gateway_id = gateway_id
        self.timeout_s = timeout_s
        self.holder_ttl_s = holder_ttl_s
        self._pending: dict[ReplyKey, asyncio.Future[CommandReply]] = {}
        self._holders: dict[int, tuple[str | None, float]] = {}
        self._internal_ids = itertools.count(1)
        self._idle = asyncio.Event()
        self._idle.set()

    # -- availability -------------------------------------------------------------

    async def shard_available(self, shard: int) -> bool:
        """Whether an engine holds the shard's lease (cached for ``holder_ttl_s``)."""
        now = time.monotonic()
        cached = self._holders.get(shard)
        if cached is not None and cached[1] > now:
            return cached[0] is not None
        holder = await self.bus.holder(shard_lease(shard))
        self._holders[shard] = (holder, now + self.holder_ttl_s)
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

    async def send(self, queue: str, command: Command) -> asyncio.Future[CommandReply]:
        """Push ``command`` to ``queue`` (unless the same one is in flight); its reply future."""
        key = (command.player_id, command.command_id)
        future = self._pending.get(key)
        if future is not None and not future.done():
            return future
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        self._idle.clear()
        try:
            await self.bus.push(queue, encode_internal(command))
        except BaseException:
            self._forget(key, future)
            raise
        return future

    async def tell(self, queue: str, command: Command) -> None:
        """Push a command that wants no reply (``reply_to`` is empty)."""
        quiet = Command(
            game_id=command.game_id,
            player_id=command.player_id,
            command_id=command.command_id,
            kind=command.kind,
            arg=command.arg,
            reply_to="",
            sent_ms=command.sent_ms,
        )
        await self.bus.push(queue, encode_internal(quiet))

    async def wait(self, command: Command, future: asyncio.Future[CommandReply]) -> CommandReply:
        """The reply, or :class:`ProtocolError` ``timeout`` (retry with the same id)."""
        key = (command.player_id, command.command_id)
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout_s)
        except TimeoutError:
            self._forget(key, future)
            raise ProtocolError(
                "timeout", f"no answer to {command.kind} in {self.timeout_s:g} s"
            ) from None

    async def call(self, queue: str, command: Command) -> CommandReply:
        """Send and wait."""
        return await self.wait(command, await self.send(queue, command))

    # -- replies ----------------------------------------------------------------------

    def resolve(self, data: bytes) -> None:
        """Hand a reply frame from the reply topic to its waiter (if still waiting)."""
        try:
            reply = decode_reply(data)
        except ValueError:
            log.error("undecodable command reply dropped", extra={"size": len(data)})
            return
        key = (reply.player_id, reply.command_id)
        future = self._pending.get(key)
        if future is None:
            return  # timed out already; the client retries and gets the recorded outcome
        if not future.done():
            future.set_result(reply)
        self._forget(key, future)

    def _forget(self, key: ReplyKey, future: asyncio.Future[CommandReply]) -> None:
        if self._pending.get(key) is future:
            del self._pending[key]
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
        for (player_id, command_id), future in list(self._pending.items()):
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
        self._idle.set()
