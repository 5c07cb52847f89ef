"""One client connection as the session sees it: who it is, what it follows, how it is closed.

The transport is somewhere else: :class:`Connection` is the transport-agnostic part
(identity, limits, follows, the close reason) and a transport subclasses it with
:meth:`~Connection.send` and :meth:`~Connection.close` — the lean WebSocket server
(:mod:`meeple.gateway.wire`, what ``meeple serve`` and ``meeple gateway`` run) or an
ASGI WebSocket (:mod:`meeple.gateway.asgi`). Frames go out as the UTF-8 bytes of their
JSON; fan-out hands every connection the same bytes object.

A connection's memory is most of the gateway's memory at 10,000 idle clients, so
everything here has ``__slots__`` and nothing per connection is created before it
is needed (a :class:`Follow` only on subscribe).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from meeple.gateway.limits import TokenBucket
from meeple.obs import metrics

_ids = itertools.count(1)

# Close codes (RFC 6455 and the 4000-4999 private range), documented in docs/protocol.md.
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # sustained flood, too many connections from one address
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_RESTART = 1012  # draining: reconnect (elsewhere, or here in a moment)
CLOSE_UNAUTHORIZED = 4401
CLOSE_SLOW = 4008
CLOSE_IDLE = 4000


@dataclass(slots=True)
class Follow:
    """A connection's subscription to one game.

    ``last_seq`` is the last event sent to this client. While ``syncing`` (catching
    up from the store or waiting for a state), live frames wait in ``buffer``;
    ``recheck`` asks a catch-up in progress to read the store once more (frames were
    lost after it started reading).
    """

    game_id: str
    last_seq: int = 0
    syncing: bool = True
    recheck: bool = False
    buffer: list[tuple[int, bytes]] = field(default_factory=list)


class Connection:
    """State of one authenticated WebSocket; transports implement ``send`` and ``close``."""

    __slots__ = (
        "address",
        "bucket",
        "close_code",
        "close_reason",
        "follows",
        "id",
        "last_received",
        "player_id",
        "username",
    )

    def __init__(self, *, player_id: int, username: str, address: str, bucket: TokenBucket) -> None:
        self.id = next(_ids)
        self.player_id = player_id
        self.username = username
        self.address = address
        self.bucket = bucket
        self.follows: dict[str, Follow] = {}
        self.last_received = time.monotonic()
        self.close_code: int | None = None
        self.close_reason = ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} player={self.player_id} {self.address}>"

    @property
    def closing(self) -> bool:
        """Whether a close was requested (frames queued before it still go out)."""
        return self.close_code is not None

    def send(self, data: bytes) -> None:
        """Send one text frame (the UTF-8 JSON ``data``); dropped once closing."""
        raise NotImplementedError

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already sent (the first reason wins)."""
        raise NotImplementedError

    def heartbeat(self, now: float, ping_interval_s: float) -> None:
        """Upkeep from the gateway's shared loop (protocol pings, stuck closes)."""

    def _closing(self, code: int, reason: str) -> bool:
        """Record the close reason; False if the connection was already closing."""
        if self.close_code is not None:
            return False
        self.close_code = code
        self.close_reason = reason
        metrics.DISCONNECTS.labels(reason=reason.replace(" ", "_") or "closed").inc()
        return True
