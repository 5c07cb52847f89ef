"""What the gateway does with each client frame, after the limits let it through.

Frames are decoded strictly (:func:`meeple.protocol.messages.decode_client`);
a bad one is answered with its error code and changes nothing. Commands are sent
in the order they arrive (the push happens before the next frame is read); their
replies are awaited in the background, so a slow engine never stalls pings or
commands to other games.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec

from meeple.gateway.commands import CommandRouter
from meeple.gateway.connection import Connection
from meeple.gateway.hub import Hub
from meeple.gateway.reads import GatewayReads
from meeple.obs import metrics
from meeple.protocol import messages as m
from meeple.protocol.errors import ProtocolError
from meeple.protocol.internal import (
    MATCHMAKER_QUEUE,
    Command,
    CommandReply,
    command_queue,
    shard_of,
)

log = logging.getLogger(__name__)

_MATCHMAKING = (m.QueueJoin, m.QueueLeave, m.PrivateCreate, m.PrivateJoin)
_NEEDS_ENGINE = (m.QueueJoin, m.PrivateCreate, m.PrivateJoin)
_json_dict = msgspec.json.Decoder(dict[str, Any])


def error_frame(code: str, message: str, command_id: str | None = None, **extra: Any) -> str:
    """An encoded :class:`~meeple.protocol.messages.Error`."""
    metrics.FRAMES_REJECTED.labels(code=code).inc()
    return m.encode(m.Error(code=code, message=message, id=command_id, **extra)).decode()


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

    async def handle(self, conn: Connection, frame: str) -> None:
        """Decode and act on one frame (already within size and rate limits)."""
        try:
            message = m.decode_client(frame)
        except ProtocolError as exc:
            metrics.MESSAGES_IN.labels(type="invalid").inc()
            conn.send(error_frame(exc.code, exc.message, guess_id(frame)))
            return
        kind = type(message).__struct_config__.tag
        metrics.MESSAGES_IN.labels(type=str(kind)).inc()
        if isinstance(message, m.Ping):
            conn.send(
                m.encode(m.Pong(id=message.id, server_time_ms=int(time.time() * 1000))).decode()
            )
        elif isinstance(message, m.Subscribe):
            if message.game_id in conn.follows:
                # Subscribing again restarts the follow from the new after_seq.
                await self.hub.unfollow(conn, message.game_id)
            await self.hub.follow(conn, message.game_id)
            conn.spawn(self._subscribe(conn, message))
        elif isinstance(message, m.Unsubscribe):
            await self.hub.unfollow(conn, message.game_id)
            conn.send(m.encode(m.Ack(id=message.id)).decode())
        elif isinstance(message, _MATCHMAKING):
            await self._matchmaking(conn, message, frame)
        else:
            await self._game_command(conn, message)

    # -- commands ----------------------------------------------------------------------

    async def _game_command(self, conn: Connection, message: m.GameCommand) -> None:
        shard = shard_of(message.game_id)
        if not await self.router.shard_available(shard):
            conn.send(error_frame("games_unavailable", "no engine owns that game now", message.id))
            return
        command = self.router.command(
            game_id=message.game_id,
            player_id=conn.player_id,
            command_id=message.id,
            kind=str(type(message).__struct_config__.tag),
            arg=game_arg(message),
        )
        future = await self.router.send(command_queue(shard), command)
        conn.spawn(self._answer(conn, command, future))

    async def _matchmaking(self, conn: Connection, message: Any, frame: str) -> None:
        if isinstance(message, _NEEDS_ENGINE) and not self.games_available:
            conn.send(error_frame("games_unavailable", "no game engine is up", message.id))
            return
        command = self.router.command(
            game_id="",
            player_id=conn.player_id,
            command_id=message.id,
            kind=str(type(message).__struct_config__.tag),
            arg=frame,
        )
        future = await self.router.send(MATCHMAKER_QUEUE, command)
        conn.spawn(self._answer(conn, command, future))

    async def _answer(self, conn: Connection, command: Command, future: Any) -> None:
        try:
            reply: CommandReply = await self.router.wait(command, future)
        except ProtocolError as exc:
            conn.send(error_frame(exc.code, exc.message, command.command_id))
            return
        conn.send(reply_frame(reply))

    # -- following games -----------------------------------------------------------------

    async def _subscribe(self, conn: Connection, message: m.Subscribe) -> None:
        follow = conn.follows.get(message.game_id)
        if follow is None:
            return  # unsubscribed meanwhile
        try:
            head = await self.reads.head(message.game_id)
        except Exception:
            log.exception("store read failed", extra={"game": message.game_id})
            await self.hub.unfollow(conn, message.game_id)
            conn.send(error_frame("internal_error", "the store did not answer; retry", message.id))
            return
        if head is None:
            await self.hub.unfollow(conn, message.game_id)
            conn.send(error_frame("game_not_found", "no such game", message.id))
            return
        after = message.after_seq
        resumable = 0 < after <= head.last_seq and head.last_seq - after <= self.resume_limit
        follow.last_seq = after if resumable else 0

        async def fetch_state() -> tuple[int, str]:
            return await self.fetch_state(conn, message.game_id)

        try:
            await self.hub.sync(conn, follow, None if resumable else fetch_state)
        except ProtocolError as exc:
            await self.hub.unfollow(conn, message.game_id)
            conn.send(error_frame(exc.code, exc.message, message.id))
            return
        except Exception:
            log.exception("subscribe failed", extra={"game": message.game_id})
            await self.hub.unfollow(conn, message.game_id)
            conn.send(error_frame("internal_error", "subscribe failed; retry", message.id))
            return
        if conn.follows.get(message.game_id) is follow:
            conn.send(m.encode(m.Ack(id=message.id, seq=follow.last_seq)).decode())

    async def fetch_state(self, conn: Connection, game_id: str) -> tuple[int, str]:
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
        text = reply.payload.decode()
        seq = reply.seq
        if seq is None:
            seq = msgspec.json.decode(reply.payload, type=m.State).seq
        return seq, text

    # -- presence ---------------------------------------------------------------------------

    async def presence(self, player_id: int, state: str) -> None:
        """Tell the engines of the player's games in progress that the player came or went."""
        for game_id in await self.reads.active_games(player_id):
            command = self.router.command(
                game_id=game_id,
                player_id=player_id,
                command_id=self.router.internal_id("presence"),
                kind="presence",
                arg=state,
            )
            await self.router.tell(command_queue(shard_of(game_id)), command)


def reply_frame(reply: CommandReply) -> str:
    """The client frame for an engine's or matchmaker's reply."""
    if not reply.ok:
        return error_frame(reply.code or "internal_error", reply.message or "", reply.command_id)
    data = _json_dict.decode(reply.payload) if reply.payload else None
    return m.encode(m.Ack(id=reply.command_id, seq=reply.seq, data=data)).decode()


class _IdOnly(msgspec.Struct):
    id: Any = None


def guess_id(frame: str) -> str | None:
    """The ``id`` of a rejected frame if it has a usable one (so the client can match
    the error to its command)."""
    try:
        value = msgspec.json.decode(frame, type=_IdOnly).id
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None
