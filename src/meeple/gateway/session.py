"""What the gateway does with each client frame, after the limits let it through.

Frames are decoded strictly (:func:`meeple.protocol.messages.decode_client`);
a bad one is answered with its error code and changes nothing. Handling a frame
never waits: pings are answered at once, commands are queued for the bus in the
order they arrive (:meth:`CommandRouter.submit`) and their replies are sent from
a callback when they come, so a slow engine never stalls pings or commands to
other games, and a connection costs no task. Only a subscribe, which reads the
store and may ask the engine for a state, runs as a task while it is in flight.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Coroutine
from typing import Any

import msgspec

from meeple.gateway import spans
from meeple.gateway.commands import CommandRouter
from meeple.gateway.connection import Connection
from meeple.gateway.hub import Hub
from meeple.gateway.reads import GatewayReads
from meeple.obs import metrics, tracing
from meeple.protocol import messages as m
from meeple.protocol.errors import ProtocolError
from meeple.protocol.internal import (
    MATCHMAKER_QUEUE,
    Command,
    CommandReply,
    command_queue,
    shard_of,
)
from meeple.store.outage import unreachable

log = logging.getLogger(__name__)

_MATCHMAKING = (m.QueueJoin, m.QueueLeave, m.PrivateCreate, m.PrivateJoin)
_NEEDS_ENGINE = (m.QueueJoin, m.PrivateCreate, m.PrivateJoin)
_json_dict = msgspec.json.Decoder(dict[str, Any])
_INVALID = metrics.MESSAGES_IN.labels(type="invalid")


@functools.cache
def _received(kind: str) -> Any:
    """The labelled counter of one message type (labels() costs a lock and a lookup)."""
    return metrics.MESSAGES_IN.labels(type=kind)


def error_frame(code: str, message: str, command_id: str | None = None, **extra: Any) -> bytes:
    """An encoded :class:`~meeple.protocol.messages.Error`."""
    metrics.FRAMES_REJECTED.labels(code=code).inc()
    return m.encode(m.Error(code=code, message=message, id=command_id, **extra))


def game_arg(message: m.GameCommand) -> str | None:
    """The ``arg`` of a game command: the move text or the claim; None for the rest."""
    if isinstance(message, m.Move):
        return message.move
    if isinstance(message, m.Claim):
        return message.claim
    return None


class Session:
    """Handles the frames of every connection of one gateway."""

    def __init__(
        self,
        *,
        hub: Hub,
        router: CommandRouter,
        reads: GatewayReads,
        resume_limit: int,
    ) -> None:
        self.hub = hub
        self.router = router
        self.reads = reads
        self.resume_limit = resume_limit
        self.games_available = True
        self._answers = 0  # replies awaited by connections (drain waits for them)
        self._answered = asyncio.Event()
        self._answered.set()
        self._tasks: set[asyncio.Task[Any]] = set()

    def handle(self, conn: Connection, frame: bytes) -> None:
        """Decode and act on one frame (already within size and rate limits)."""
        try:
            message = m.decode_client(frame)
        except ProtocolError as exc:
            _INVALID.inc()
            conn.send(error_frame(exc.code, exc.message, guess_id(frame)))
            return
        except UnicodeDecodeError:  # the lean transport does not decode text frames itself
            _INVALID.inc()
            conn.send(error_frame("bad_frame", "a text frame must be UTF-8", guess_id(frame)))
            return
        kind = str(type(message).__struct_config__.tag)
        _received(kind).inc()
        if isinstance(message, m.Ping):
            conn.send(m.encode(m.Pong(id=message.id, server_time_ms=int(time.time() * 1000))))
        elif isinstance(message, m.Subscribe):
            if message.game_id in conn.follows:
                # Subscribing again restarts the follow from the new after_seq.
                self.hub.unfollow(conn, message.game_id)
            _, live = self.hub.follow(conn, message.game_id)
            self.spawn(self._subscribe(conn, message, live))
        elif isinstance(message, m.Unsubscribe):
            self.hub.unfollow(conn, message.game_id)
            conn.send(m.encode(m.Ack(id=message.id)))
        elif isinstance(message, _MATCHMAKING):
            self._matchmaking(conn, message, kind, frame)
        else:
            self._game_command(conn, message, kind)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a piece of work that must await (drain waits for it)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("gateway task failed", exc_info=task.exception())

    async def wait_idle(self, timeout_s: float) -> None:
        """Until every awaited reply was sent and every subscribe finished (or the timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while (self._tasks or self._answers) and loop.time() < deadline:
            waiters: list[asyncio.Future[Any]] = list(self._tasks)
            if self._answers:
                waiters.append(asyncio.ensure_future(self._answered.wait()))
            await asyncio.wait(waiters, timeout=deadline - loop.time())
            for waiter in waiters:
                if waiter not in self._tasks:
                    waiter.cancel()

    async def stop(self) -> None:
        """Cancel the work still in flight."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- commands ----------------------------------------------------------------------

    def _game_command(self, conn: Connection, message: m.GameCommand, kind: str) -> None:
        shard = shard_of(message.game_id)
        if self.router.known_available(shard) is False:
            conn.send(error_frame("games_unavailable", "no engine owns that game now", message.id))
            return
        command = self.router.command(
            game_id=message.game_id,
            player_id=conn.player_id,
            command_id=message.id,
            kind=kind,
            arg=game_arg(message),
        )
        self._submit(conn, command_queue(shard), command, shard)

    def _matchmaking(self, conn: Connection, message: Any, kind: str, frame: bytes) -> None:
        if isinstance(message, _NEEDS_ENGINE) and not self.games_available:
            conn.send(error_frame("games_unavailable", "no game engine is up", message.id))
            return
        command = self.router.command(
            game_id="",
            player_id=conn.player_id,
            command_id=message.id,
            kind=kind,
            arg=frame.decode(errors="replace"),
        )
        self._submit(conn, MATCHMAKER_QUEUE, command)

    def _submit(
        self, conn: Connection, queue: str, command: Command, shard: int | None = None
    ) -> None:
        """Send a client's command and answer ``conn`` when its reply comes."""
        span = None
        if tracing.ENABLED:
            command, span = spans.start(command)
        future = self.router.submit(queue, command, shard=shard)
        self._answer(conn, command, future)
        if span is not None:
            future.add_done_callback(functools.partial(spans.finish, span))

    def _answer(
        self, conn: Connection, command: Command, future: asyncio.Future[CommandReply]
    ) -> None:
        """Send the reply (or the error) to ``conn`` when it comes."""
        self._answers += 1
        self._answered.clear()
        future.add_done_callback(functools.partial(self._send_answer, conn, command.command_id))

    def _send_answer(
        self, conn: Connection, command_id: str, future: asyncio.Future[CommandReply]
    ) -> None:
        self._answers -= 1
        if not self._answers:
            self._answered.set()
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            conn.send(reply_frame(future.result()))
        elif isinstance(exc, ProtocolError):
            conn.send(error_frame(exc.code, exc.message, command_id))
        else:
            log.error("command failed", exc_info=exc)
            conn.send(error_frame("internal_error", "the command failed; retry", command_id))

    # -- following games -----------------------------------------------------------------

    async def _subscribe(
        self, conn: Connection, message: m.Subscribe, live: asyncio.Future[None] | None
    ) -> None:
        try:
            if live is not None:
                await live  # the topic is live before the store is read: nothing slips between
            follow = conn.follows.get(message.game_id)
            if follow is None:
                return  # unsubscribed meanwhile
            head = await self.reads.head(message.game_id)
        except Exception as exc:
            self._subscribe_failed(conn, message, exc)
            return
        if head is None:
            self.hub.unfollow(conn, message.game_id)
            conn.send(error_frame("game_not_found", "no such game", message.id))
            return
        after = message.after_seq
        resumable = 0 < after <= head.last_seq and head.last_seq - after <= self.resume_limit
        follow.last_seq = after if resumable else 0

        async def fetch_state() -> tuple[int, bytes]:
            return await self.fetch_state(conn, message.game_id)

        try:
            await self.hub.sync(conn, follow, None if resumable else fetch_state)
        except ProtocolError as exc:
            self.hub.unfollow(conn, message.game_id)
            conn.send(error_frame(exc.code, exc.message, message.id))
            return
        except Exception as exc:
            self._subscribe_failed(conn, message, exc)
            return
        if conn.follows.get(message.game_id) is follow:
            conn.send(m.encode(m.Ack(id=message.id, seq=follow.last_seq)))

    def _subscribe_failed(self, conn: Connection, message: m.Subscribe, exc: Exception) -> None:
        """Answer a subscribe that could not read the store: a store that cannot be
        reached is a temporary unavailability (retriable), anything else our bug."""
        self.hub.unfollow(conn, message.game_id)
        if unreachable(exc):
            log.warning("subscribe: the store is unreachable", extra={"game": message.game_id})
            text = "the game store is unreachable; retry"
            conn.send(error_frame("games_unavailable", text, message.id))
            return
        log.error("subscribe failed", extra={"game": message.game_id}, exc_info=exc)
        conn.send(error_frame("internal_error", "subscribe failed; retry", message.id))

    async def fetch_state(self, conn: Connection, game_id: str) -> tuple[int, bytes]:
        """The game's State frame for this player, from the engine that owns it.

        Finished games too: the owning engine loads any game of its shards from the
        log on demand (and keeps ended ones a while), so the gateway never rebuilds
        game state itself and needs no rules.
        """
        shard = shard_of(game_id)
        if not await self.router.shard_available(shard):
            raise ProtocolError("games_unavailable", "no engine owns that game now")
        command = self.router.command(
            game_id=game_id,
            player_id=conn.player_id,
            command_id=self.router.internal_id("state"),
            kind="state",
            arg=None,
        )
        reply = await self.router.call(command_queue(shard), command)
        if not reply.ok or reply.payload is None:
            raise ProtocolError(reply.code or "internal_error", reply.message or "no state")
        seq = reply.seq
        if seq is None:
            seq = msgspec.json.decode(reply.payload, type=m.State).seq
        return seq, reply.payload

    # -- presence ---------------------------------------------------------------------------

    async def presence(self, player_id: int, state: str) -> None:
        """Tell the engines of the player's games in progress that the player came or went."""
        self.announce(player_id, state, await self.reads.active_games(player_id))

    def announce(self, player_id: int, state: str, games: list[str]) -> None:
        """Queue ``presence`` commands (``online``/``offline``) for ``games``."""
        for game_id in games:
            command = self.router.command(
                game_id=game_id,
                player_id=player_id,
                command_id=self.router.internal_id("presence"),
                kind="presence",
                arg=state,
            )
            self.router.tell(command_queue(shard_of(game_id)), command)


def reply_frame(reply: CommandReply) -> bytes:
    """The client frame for an engine's or matchmaker's reply."""
    if not reply.ok:
        return error_frame(reply.code or "internal_error", reply.message or "", reply.command_id)
    data = _json_dict.decode(reply.payload) if reply.payload else None
    return m.encode(m.Ack(id=reply.command_id, seq=reply.seq, data=data))


class _IdOnly(msgspec.Struct):
    id: Any = None


def guess_id(frame: bytes | str) -> str | None:
    """The ``id`` of a rejected frame if it has a usable one (so the client can match
    the error to its command)."""
    try:
        value = msgspec.json.decode(frame, type=_IdOnly).id
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None
