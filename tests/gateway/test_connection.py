"""A connection's outbox: ordered writes, close after the queued frames, slow consumers."""

from __future__ import annotations

import asyncio
from typing import Any

from meeple.gateway.asgi import AsgiConnection as Connection
from meeple.gateway.connection import CLOSE_SLOW
from meeple.gateway.limits import TokenBucket


class Socket:
    """Records what the writer sends; ``gate`` holds writes (a client that does not read)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.gate.wait()
        self.sent.append(message)


def _connection(socket: Socket, send_limit: int = 3) -> Connection:
    return Connection(
        socket,  # type: ignore[arg-type]
        player_id=1,
        username="p",
        address="127.0.0.1",
        bucket=TokenBucket(10, 20),
        send_limit=send_limit,
    )


async def test_frames_go_out_in_order_then_the_close() -> None:
    socket = Socket()
    conn = _connection(socket)
    writer = asyncio.create_task(conn.run_writer())
    for text in ("a", "b", "c"):
        conn.send(text)
    conn.close(1012, "draining")
    conn.send("too late")
    await asyncio.wait_for(conn.wait_closed(), 5)
    await writer
    assert [m.get("text") for m in socket.sent] == ["a", "b", "c", None]
    assert socket.sent[-1] == {"type": "websocket.close", "code": 1012, "reason": "draining"}


async def test_a_client_that_does_not_read_is_closed_as_slow() -> None:
    socket = Socket()
    socket.gate.clear()
    conn = _connection(socket, send_limit=3)
    writer = asyncio.create_task(conn.run_writer())
    for n in range(4):
        conn.send(f"f{n}")
    assert conn.close_code == CLOSE_SLOW
    assert not conn.outbox  # nothing more is buffered for it
    socket.gate.set()
    await asyncio.wait_for(conn.wait_closed(), 5)
    await writer
    assert socket.sent[-1]["code"] == CLOSE_SLOW
    assert not [m for m in socket.sent if m.get("text")]  # dropped, not delivered late
