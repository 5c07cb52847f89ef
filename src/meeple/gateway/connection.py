"""One client connection: who it is, what it follows, and its bounded outbox.

Frames to a client are queued in :attr:`Connection.outbox` and written by the
connection's writer (the only per-connection task besides the reader that ASGI
gives us): fan-out never waits for a slow socket. A client whose outbox passes
its limit is closed as a slow consumer (4008) instead of being buffered without
bound; it reconnects and resumes from its last sequence number.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from meeple.gateway.limits import TokenBucket
from meeple.obs import metrics

log = logging.getLogger(__name__)

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
    up from the store or waiting for a state), live frames wait in ``buffer``.
    """

    game_id: str
    last_seq: int = 0
    syncing: bool = True
    buffer: list[tuple[int, str]] = field(default_factory=list)


class Connection:
    """State of one authenticated WebSocket."""

    def __init__(
        self,
        ws: WebSocket,
        *,
        player_id: int,
        username: str,
        address: str,
        bucket: TokenBucket,
        send_limit: int,
    ) -> None:
        self.id = next(_ids)
        self.ws = ws
        self.player_id = player_id
        self.username = username
        self.address = address
        self.bucket = bucket
        self.send_limit = send_limit
        self.follows: dict[str, Follow] = {}
        self.last_received = time.monotonic()
        self.outbox: deque[str] = deque()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.close_code: int | None = None
        self.close_reason = ""
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()

    def __repr__(self) -> str:
        return f"<Connection {self.id} player={self.player_id} {self.address}>"

    @property
    def closing(self) -> bool:
        """Whether a close was requested (frames queued before it still go out)."""
        return self.close_code is not None

    def send(self, text: str) -> None:
        """Queue one frame for the client (dropped once the connection is closing)."""
        if self.close_code is not None:
            return
        if len(self.outbox) >= self.send_limit:
            log.warning("slow consumer closed", extra={"conn": self.id, "player": self.player_id})
            self.outbox.clear()
            self.close(CLOSE_SLOW, "slow consumer")
            return
        self.outbox.append(text)
        self._wake.set()

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued are written (the first reason wins)."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            metrics.DISCONNECTS.labels(reason=reason.replace(" ", "_") or "closed").inc()
        self._wake.set()

    def spawn(self, coro: Any) -> None:
        """Run a piece of this connection's work; cancelled when the connection ends."""
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("connection task failed", exc_info=task.exception())

    async def wait_closed(self) -> None:
        """Until the writer has closed the socket."""
        await self._closed.wait()

    async def run_writer(self) -> None:
        """Write queued frames in order; close the socket when asked to."""
        try:
            while True:
                while self.outbox:
                    text = self.outbox.popleft()
                    await self.ws.send({"type": "websocket.send", "text": text})
                    metrics.MESSAGES_OUT.inc()
                if self.close_code is not None:
                    await self.ws.send(
                        {
                            "type": "websocket.close",
                            "code": self.close_code,
                            "reason": self.close_reason,
                        }
                    )
                    return
                self._wake.clear()
                await self._wake.wait()
        except (OSError, RuntimeError, WebSocketDisconnect):
            # The peer went away mid-write (uvicorn raises on a closed socket): nothing
            # left to deliver; the reader notices the disconnect.
            return
        finally:
            self._closed.set()
