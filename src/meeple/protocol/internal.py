"""Messages between gateways and engines, over the Bus port (msgpack).

A gateway forwards a player's game command to the queue of the engine shard
that owns the game, and waits for a :class:`CommandReply` on its own reply topic.
Game events travel separately, as the client frames themselves, on the topic
:func:`game_topic` (the engine encodes them once; gateways forward the bytes).
"""

from __future__ import annotations

import zlib

import msgspec

SHARDS = 64
"""Games are hashed into this many shards; an engine owns shards by lease."""


MATCHMAKER_QUEUE = "mm"
"""Work queue of matchmaking commands (``queue.join``, ``queue.leave``,
``private.create``, ``private.join``); any matchmaker instance may take them."""


def shard_of(game_id: str) -> int:
    """The shard that owns a game (stable across processes and versions)."""
    return zlib.crc32(game_id.encode()) % SHARDS


def game_topic(game_id: str) -> str:
    """Pub/sub topic of a game's event frames."""
    return f"game.{game_id}"


def player_topic(player_id: int) -> str:
    """Pub/sub topic of frames for one player (matched, queue status)."""
    return f"player.{player_id}"


def reply_topic(gateway_id: str) -> str:
    """Pub/sub topic where a gateway receives its command replies."""
    return f"reply.{gateway_id}"


def command_queue(shard: int) -> str:
    """Work queue of an engine shard's commands."""
    return f"cmd.{shard}"


def shard_lease(shard: int) -> str:
    """Lease name whose holder owns (and alone may write) a shard's games."""
    return f"lease.shard.{shard}"


class Command(msgspec.Struct, frozen=True, array_like=True):
    """A player's command for a game, as the engine receives it.

    ``kind`` is the client message type (``move``, ``resign``, ``draw.offer``,
    ``draw.accept``, ``draw.decline``, ``claim``; for the matchmaker ``queue.join``,
    ``queue.leave``, ``private.create``, ``private.join`` with ``arg`` the JSON of the
    client message), or internal: ``presence`` (``arg`` is ``"online"``/``"offline"``:
    the gateway saw the player connect or drop), ``state`` (reply with a State frame
    in ``payload``), ``start`` (the matchmaker made the game; begin its clocks).

    ``trace`` is the sender's W3C ``traceparent`` when tracing is on and the
    command is sampled (:mod:`meeple.obs.tracing`), else nil (one byte). It is
    the last item of the array: a peer without the field ignores it (msgspec
    drops trailing items it does not know), and a command from such a peer,
    one item shorter, decodes with ``trace=None``.
    """

    game_id: str
    player_id: int
    command_id: str
    kind: str
    arg: str | None
    reply_to: str  # gateway id ("" when no reply is wanted)
    sent_ms: int
    trace: str | None = None


class CommandReply(msgspec.Struct, frozen=True, array_like=True):
    """The engine's answer: ``ok`` with the last seq it caused, or an error code."""

    command_id: str
    player_id: int
    game_id: str
    ok: bool
    seq: int | None = None
    code: str | None = None
    message: str | None = None
    payload: bytes | None = None  # e.g. a State frame, a queue answer (JSON bytes)


_command_encoder = msgspec.msgpack.Encoder()
_command_decoder = msgspec.msgpack.Decoder(Command)
_reply_decoder = msgspec.msgpack.Decoder(CommandReply)


def encode_internal(message: Command | CommandReply) -> bytes:
    """Encode an internal message."""
    return _command_encoder.encode(message)


def decode_command(data: bytes) -> Command:
    """Decode a :class:`Command`."""
    return _command_decoder.decode(data)


def decode_reply(data: bytes) -> CommandReply:
    """Decode a :class:`CommandReply`."""
    return _reply_decoder.decode(data)
