"""The gateway on an ASGI WebSocket (:meth:`meeple.gateway.Gateway.routes`).

For embedding the gateway in any ASGI server. It costs two tasks per connection
(the ASGI endpoint that reads, and the writer below) and the ASGI server's own
objects; ``meeple serve`` and ``meeple gateway`` use the lean transport
(:mod:`meeple.gateway.wire`) instead. The session behaves the same on both.

Frames to a client are queued in :attr:`AsgiConnection.outbox` and written by the
connection's writer: fan-out never waits for a slow socket. A client whose outbox
passes its limit is closed as a slow consumer (4008) instead of being buffered
without bound; it reconnects and resumes from its last sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from meeple.gateway.connection import CLOSE_NORMAL, CLOSE_SLOW, Connection
from meeple.gateway.limits import TokenBucket
from meeple.obs import metrics

if TYPE_CHECKING:
    from meeple.gateway.gateway import Gateway

log = logging.getLogger(__name__)


class AsgiConnection(Connection):
    """A connection over an ASGI WebSocket, with a bounded outbox and a writer task."""

    __slots__ = ("_closed", "_wake", "outbox", "send_limit", "ws")

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
        super().__init__(player_id=player_id, username=username, address=address, bucket=bucket)
        self.ws = ws
        self.send_limit = send_limit
        self.outbox: deque[bytes | str] = deque()
        self._wake = asyncio.Event()
        self._closed = asyncio.Event()

    def send(self, data: bytes | str) -> None:
        """Queue one frame for the client (dropped once the connection is closing)."""
        if self.close_code is not None:
            return
        if len(self.outbox) >= self.send_limit:
            log.warning("slow consumer closed", extra={"conn": self.id, "player": self.player_id})
            self.outbox.clear()
            self.close(CLOSE_SLOW, "slow consumer")
            return
        self.outbox.append(data)
        self._wake.set()

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued are written (the first reason wins)."""
        self._closing(code, reason)
        self._wake.set()

    async def wait_closed(self) -> None:
        """Until the writer has closed the socket."""
        await self._closed.wait()

    async def run_writer(self) -> None:
        """Write queued frames in order; close the socket when asked to."""
        try:
            while True:
                while self.outbox:
                    data = self.outbox.popleft()
                    text = data if isinstance(data, str) else data.decode()
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


async def serve_websocket(gateway: Gateway, ws: WebSocket) -> None:
    """One client connection, from accept to close."""
    from meeple.gateway.gateway import bearer

    await ws.accept()
    address = ws.client.host if ws.client else "unknown"
    token = ws.query_params.get("token") or bearer(ws.headers.get("authorization"))
    claims = gateway.admit(token, address)
    if isinstance(claims, tuple):
        frame, code = claims
        with contextlib.suppress(Exception):
            await ws.send_text(frame.decode())
            await ws.close(code)
        return
    conn = AsgiConnection(
        ws,
        player_id=claims.player_id,
        username=claims.username,
        address=address,
        bucket=gateway.bucket(),
        send_limit=gateway.settings.ws_send_buffer_frames,
    )
    writer = asyncio.create_task(conn.run_writer())
    gateway.register(conn)
    try:
        if await gateway.open(conn):
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is not None:
                    gateway.receive(conn, text.encode(), text=True)
                else:
                    gateway.receive(conn, message.get("bytes") or b"", text=False)
    finally:
        gateway.forget(conn)
        conn.close(CLOSE_NORMAL, "")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(conn.wait_closed()), 1.0)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
