"""Protocol v1: the JSON messages between a client and a gateway.

One message per WebSocket text frame, a JSON object whose ``type`` names it.
Every client command carries ``id``, a client-chosen string (1-64 characters):
its :class:`Ack` or :class:`Error` echoes it, and a retry with the same id returns
the first outcome (DESIGN.md invariant 3). docs/protocol.md documents each message
with examples; the classes here are the single source of truth for both sides.

Decoding is strict: unknown fields, wrong types and unknown ``type`` values are
errors (see :func:`decode_client`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

PROTOCOL_VERSION = 1

CommandId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
GameId = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
GameName = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
TimeControl = Annotated[str, msgspec.Meta(pattern=r"^\d{1,3}\+\d{1,3}$")]
"""Minutes + increment seconds, as players say it: ``"3+2"``."""
Stake = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
Seq = Annotated[int, msgspec.Meta(ge=0)]


class _Client(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    id: CommandId


# ------------------------------------------------------------------ client -> server


class Ping(_Client, tag="ping"):
    """Keep-alive; answered by :class:`Pong`."""


class QueueJoin(_Client, tag="queue.join"):
    """Join the matchmaking queue of (game, time control, stake)."""

    game: GameName
    time_control: TimeControl
    stake: Stake = 0


class QueueLeave(_Client, tag="queue.leave"):
    """Leave the queue (no-op if not queued)."""


class PrivateCreate(_Client, tag="private.create"):
    """Create a private game; the answer carries its invite code."""

    game: GameName
    time_control: TimeControl
    stake: Stake = 0


class PrivateJoin(_Client, tag="private.join"):
    """Take a seat in a private game by its invite code."""

    code: Annotated[str, msgspec.Meta(min_length=4, max_length=16)]


class Subscribe(_Client, tag="subscribe"):
    """Follow a game from the event after ``after_seq`` (0: from the start).

    A seated player follows as a player; anyone else as a spectator.
    """

    game_id: GameId
    after_seq: Seq = 0


class Unsubscribe(_Client, tag="unsubscribe"):
    """Stop following a game."""

    game_id: GameId


class Move(_Client, tag="move"):
    """Play a move, in the game's notation (``h2-h3``, ``e2e4``)."""

    game_id: GameId
    move: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


class Resign(_Client, tag="resign"):
    """Resign from a game."""

    game_id: GameId


class DrawOffer(_Client, tag="draw.offer"):
    """Offer a draw (games that have draws)."""

    game_id: GameId


class DrawAccept(_Client, tag="draw.accept"):
    """Accept the pending draw offer."""

    game_id: GameId


class DrawDecline(_Client, tag="draw.decline"):
    """Decline the pending draw offer."""

    game_id: GameId


class Claim(_Client, tag="claim"):
    """Claim a win (fourchess: two left, lead > 20) or a draw (chess: repetition, 50 moves)."""

    game_id: GameId
    claim: Literal["win", "draw"]


ClientMessage = (
    Ping
    | QueueJoin
    | QueueLeave
    | PrivateCreate
    | PrivateJoin
    | Subscribe
    | Unsubscribe
    | Move
    | Resign
    | DrawOffer
    | DrawAccept
    | DrawDecline
    | Claim
)

GameCommand = Move | Resign | DrawOffer | DrawAccept | DrawDecline | Claim
"""Client messages the gateway forwards to the engine that owns the game."""

# ------------------------------------------------------------------ server -> client


class _Server(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


class Welcome(_Server, tag="welcome"):
    """First frame after a successful connect."""

    protocol: int
    player_id: int
    username: str
    server_time_ms: int
    games: list[str] = []  # the player's games in progress (subscribe to resume them)
    games_available: bool = True


class Ack(_Server, tag="ack"):
    """A command succeeded; sent only after its events are committed.

    ``seq`` is the last event it caused (if any); ``data`` carries a command's answer.
    """

    id: str
    seq: int | None = None
    data: dict[str, Any] | None = None


class Error(_Server, tag="error"):
    """A command (or frame) failed and changed nothing. ``code`` is stable."""

    code: str
    message: str
    id: str | None = None
    retry_after_ms: int | None = None


class Pong(_Server, tag="pong"):
    """Answer to :class:`Ping`."""

    id: str
    server_time_ms: int


class QueueStatus(_Server, tag="queue.status"):
    """Where the player stands in matchmaking (sent on join, leave and periodically)."""

    state: Literal["waiting", "left", "matched", "dropped"]
    game: str
    time_control: str
    stake: int
    waited_ms: int = 0
    queue_size: int = 0
    reason: str | None = None


class Matched(_Server, tag="matched"):
    """A game was made for the player; subscribe to it to play."""

    game_id: str
    seat: int
    game: str
    time_control: str
    stake: int
    players: list[dict[str, Any]] = []


class Event(_Server, tag="event"):
    """Something happened in a game: encoded once by the engine, fanned out as bytes.

    ``seq`` is contiguous per game from 1. ``clocks`` are the seats' remaining
    milliseconds at ``ts_ms``; ``to_act`` the seats whose clock runs now.
    """

    game_id: str
    seq: int
    kind: str
    ts_ms: int
    seat: int | None = None
    data: dict[str, Any] = {}
    clocks: list[int] = []
    to_act: list[int] = []


class State(_Server, tag="state"):
    """The whole of a game as one frame: sent on subscribe when the client is far
    behind (or new), then events follow from ``seq + 1``."""

    game_id: str
    seq: int
    game: str
    status: str
    seats: list[dict[str, Any]]
    view: dict[str, Any]
    clocks: list[int]
    to_act: list[int]
    ts_ms: int
    time_control: str
    stake: int
    you: int | None = None  # your seat, or None when spectating
    result: dict[str, Any] | None = None


class Notice(_Server, tag="notice"):
    """Server notices: ``games_unavailable``, ``games_available``, ``draining``."""

    code: str
    message: str
    retry_after_ms: int | None = None


ServerMessage = Welcome | Ack | Error | Pong | QueueStatus | Matched | Event | State | Notice

# ------------------------------------------------------------------ encoding

_encoder = msgspec.json.Encoder()
_client_decoder: msgspec.json.Decoder[ClientMessage] = msgspec.json.Decoder(ClientMessage)
_server_decoder: msgspec.json.Decoder[ServerMessage] = msgspec.json.Decoder(ServerMessage)


def encode(message: msgspec.Struct) -> bytes:
    """Encode any message to its JSON frame."""
    return _encoder.encode(message)


def decode_client(frame: bytes | str) -> ClientMessage:
    """Decode a client frame. Raises :class:`ProtocolError` with a stable code."""
    from meeple.protocol.errors import ProtocolError

    try:
        return _client_decoder.decode(frame)
    except msgspec.DecodeError as exc:
        text = str(exc)
        if "Invalid value" in text and "$.type" in text:
            raise ProtocolError("unknown_type", text) from None
        if text.startswith("JSON is malformed") or "Input data was truncated" in text:
            raise ProtocolError("bad_frame", f"not a JSON object: {text}") from None
        raise ProtocolError("bad_message", text) from None


def decode_server(frame: bytes | str) -> ServerMessage:
    """Decode a server frame (used by the client and the tests)."""
    return _server_decoder.decode(frame)
