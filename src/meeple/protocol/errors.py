"""Stable error codes on the wire, and the protocol's own exception.

Every :class:`~meeple.protocol.messages.Error` frame carries one of ``CODES``;
clients branch on the code, people read the message. Codes are never renamed.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    # frames (the gateway rejects these before anything else sees them)
    "bad_frame": "the frame is not a JSON object (or not text)",
    "frame_too_large": "the frame is larger than the limit; the connection is closed",
    "unknown_type": "no message has that `type`",
    "bad_message": "a field is missing, unknown or of the wrong type/range",
    "rate_limited": "too many frames; slow down (retry_after_ms says how long)",
    # identity and access
    "unauthorized": "no valid access token",
    "token_expired": "the access token has expired; refresh it and reconnect",
    "not_a_player": "you have no seat in that game (spectators only watch)",
    "game_not_found": "no such game",
    "too_many_connections": "too many connections from your address",
    # game rules (meeple.rules error codes, passed through)
    "not_your_turn": "it is not your seat's turn",
    "illegal_move": "the move is not legal in this position",
    "bad_notation": "the move text does not parse",
    "action_unavailable": "that action is not available in this game or position",
    "game_over": "the game has ended",
    "bad_option": "unknown game option or value",
    "unknown_game": "no game of that name",
    # matchmaking and money
    "already_queued": "you are already in a queue",
    "already_playing": "you already have a staked game in progress",
    "bad_time_control": "time control not offered",
    "insufficient_funds": "your balance does not cover the stake",
    "invite_not_found": "no open private game with that code",
    # platform
    "games_unavailable": "no game engine is reachable right now; try again shortly",
    "timeout": "no answer in time; retry with the same command id",
    "draining": "this server is shutting down; reconnect",
    "internal_error": "our bug; it was logged",
}


class ProtocolError(ValueError):
    """A frame or command was refused; ``code`` is one of :data:`CODES`."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise AssertionError(f"unknown protocol error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
