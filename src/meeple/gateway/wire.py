"""The lean WebSocket transport: one :class:`asyncio.Protocol` per connection, no task.

Each connection is one :class:`WireConnection` object, which is at once the
transport's protocol (bytes in: :meth:`~WireConnection.data_received`) and the
session's :class:`~meeple.gateway.connection.Connection` (frames out:
:meth:`~WireConnection.send`). WebSocket framing is websockets' sans-I/O
:class:`~websockets.server.ServerProtocol` (parsing, control frames, the closing
handshake); text frames to the client are framed here (a server frame is a 2-10
byte header and the payload, unmasked), so fan-out writes one bytes object per
socket and never builds a frame object.

- Reads: frames are handled in the ``data_received`` callback (the session never
  awaits); a connection costs a task only while it is being opened.
- Writes go straight to the transport. Past its write-buffer high-water mark the
  transport pauses us; while paused, a connection whose buffer passes
  ``ws_send_buffer_bytes`` is closed as a slow consumer (4008).
- Pings and timeouts come from the gateway's shared loop (:meth:`heartbeat`): a
  ping after ``ws_ping_interval_s`` without a frame from the client, a close
  (1011) if its pong does not come within another interval, and an abort when a
  close handshake does not finish in ``CLOSE_TIMEOUT_S``.
- No compression (no permessage-deflate), frames at most ``max(64 KiB, 4 x
  ws_max_frame_bytes)`` at the protocol level (the gateway answers frames over
  ``ws_max_frame_bytes`` with ``frame_too_large``).

:func:`upgrade` turns an HTTP connection whose request head was read (by
:mod:`meeple.gateway.server`) into a WebSocket: the handshake, then admission
(:meth:`Gateway.admit`), then the connection opens in the background.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from meeple.gateway.connection import (
    CLOSE_INTERNAL,
    CLOSE_NORMAL,
    CLOSE_RESTART,
    CLOSE_SLOW,
    Connection,
)
from meeple.gateway.limits import TokenBucket
from meeple.obs import metrics

if TYPE_CHECKING:
    from meeple.gateway.gateway import Gateway

log = logging.getLogger(__name__)

# websockets logs every connection at INFO ("connection open"); at 10,000 clients
# that is noise. Its warnings and errors still pass.
_protocol_log = logging.getLogger(f"{__name__}.protocol")
_protocol_log.setLevel(logging.WARNING)

CLOSE_TIMEOUT_S = 5.0
"""How long a close handshake (ours or the client's) may take before the socket is cut."""

_TEXT, _BINARY, _CONT, _PONG, _CLOSE = (
    Opcode.TEXT,
    Opcode.BINARY,
    Opcode.CONT,
    Opcode.PONG,
    Opcode.CLOSE,
)
_OPEN = State.OPEN
_NO_BUCKET = TokenBucket(0.0, 0)  # refused connections never read a frame


def text_frame(data: bytes) -> bytes:
    """``data`` as one unmasked, final text frame (a server's frame, RFC 6455 5.2)."""
    size = len(data)
    if size < 126:
        return bytes((0x81, size)) + data
    if size < 65536:
        return b"\x81\x7e" + size.to_bytes(2, "big") + data
    return b"\x81\x7f" + size.to_bytes(8, "big") + data


class WireConnection(Connection, asyncio.Protocol):
    """One WebSocket client on a transport, driven by callbacks."""

    __slots__ = (
        "closed_at",
        "gateway",
        "held",
        "last_pong",
        "lost",
        "partial",
        "partial_text",
        "paused",
        "ping_sent",
        "proto",
        "send_limit",
        "transport",
    )

    def __init__(
        self,
        gateway: Gateway | None,
        transport: asyncio.Transport,
        proto: ServerProtocol,
        *,
        player_id: int,
        username: str,
        address: str,
        bucket: TokenBucket,
        send_limit: int,
    ) -> None:
        Connection.__init__(
            self, player_id=player_id, username=username, address=address, bucket=bucket
        )
        self.gateway = gateway  # None: refused, only its refusal goes out
        self.transport = transport
        self.proto = proto
        self.send_limit = send_limit
        self.paused = False
        self.lost = False
        self.ping_sent = 0.0  # when the unanswered ping went out (0: none)
        self.last_pong = self.last_received
        self.closed_at = 0.0
        self.partial: bytearray | None = None  # a fragmented message being received
        self.partial_text = False
        self.held: bytearray | None = None  # bytes that arrived while opening

    # -- frames out -----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Write one text frame now (dropped once closing; a slow consumer is closed)."""
        if self.close_code is not None:
            return
        transport = self.transport
        if self.paused and transport.get_write_buffer_size() > self.send_limit:
            log.warning("slow consumer closed", extra={"conn": self.id, "player": self.player_id})
            self.close(CLOSE_SLOW, "slow consumer")
            return
        transport.write(text_frame(data))
        metrics.MESSAGES_OUT.inc()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake after what was written (the first reason wins)."""
        if not self._closing(code, reason) or self.lost:
            return
        if self.proto.state is _OPEN:
            self.proto.send_close(code, reason)
            self._flush()

    def _closing(self, code: int, reason: str) -> bool:
        if not Connection._closing(self, code, reason):
            return False
        self.closed_at = time.monotonic()
        return True

    def _flush(self) -> None:
        """Write what the protocol produced (control frames; ``b""``: end the stream)."""
        for data in self.proto.data_to_send():
            if self.lost:
                return
            if data:
                self.transport.write(data)
            else:
                self.transport.close()  # after the buffered bytes

    # -- upkeep (the gateway's shared loop) ------------------------------------------------

    def heartbeat(self, now: float, ping_interval_s: float) -> None:
        """Ping a quiet client, close an unanswering one, cut a stuck close."""
        if self.lost:
            return
        if self.close_code is not None:
            if now - self.closed_at > CLOSE_TIMEOUT_S:
                self.transport.abort()
            return
        if self.held is not None:
            return  # still opening
        if self.ping_sent:
            if now - self.ping_sent > ping_interval_s:
                self.close(CLOSE_INTERNAL, "keepalive ping timeout")
            return
        if now - max(self.last_received, self.last_pong) >= ping_interval_s:
            self.ping_sent = now
            self.proto.send_ping(b"")
            self._flush()

    # -- asyncio.Protocol -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Bytes from the client: parse frames and act on each."""
        if self.held is not None:
            self.held += data
            return
        proto = self.proto
        proto.receive_data(data)
        for event in proto.events_received():
            if isinstance(event, Frame):
                self._frame(event)
        self._flush()

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is _TEXT or opcode is _BINARY:
            if frame.fin:
                self._message(bytes(frame.data), opcode is _TEXT)
            else:
                self.partial = bytearray(frame.data)
                self.partial_text = opcode is _TEXT
        elif opcode is _CONT:
            if self.partial is not None:
                self.partial += frame.data
                if frame.fin:
                    message, self.partial = bytes(self.partial), None
                    self._message(message, self.partial_text)
        elif opcode is _PONG:
            self.ping_sent = 0.0
            self.last_pong = time.monotonic()
        elif opcode is _CLOSE:
            self._closing(CLOSE_NORMAL, "")  # the protocol answers it
        # PING: the protocol queued the pong

    def _message(self, data: bytes, text: bool) -> None:
        if self.gateway is None:
            return
        try:
            self.gateway.receive(self, data, text=text)
        except Exception:
            # Our bug: this client's socket ends (it resumes), the others are unharmed.
            log.exception("frame handling failed", extra={"conn": self.id})
            self.close(CLOSE_INTERNAL, "internal error")

    def eof_received(self) -> bool | None:
        """The client half-closed: close our side too."""
        self._closing(CLOSE_NORMAL, "")
        self.proto.receive_eof()
        self._flush()
        return None

    def pause_writing(self) -> None:
        """The transport's buffer is past its high-water mark."""
        self.paused = True

    def resume_writing(self) -> None:
        """The transport's buffer drained below its low-water mark."""
        self.paused = False

    def connection_lost(self, exc: Exception | None) -> None:
        """The socket is gone."""
        self.lost = True
        self._closing(CLOSE_NORMAL, "")
        if self.gateway is not None:
            self.gateway.forget(self)

    # -- opening ----------------------------------------------------------------------------

    async def open(self) -> None:
        """Welcome the client, then read the frames that waited (the transport was paused)."""
        assert self.gateway is not None
        opened = await self.gateway.open(self)
        held, self.held = self.held, None
        if self.lost:
            return
        self.transport.resume_reading()
        if opened and held:
            self.data_received(bytes(held))


def upgrade(
    gateway: Gateway | None,
    transport: asyncio.Transport,
    head: bytes,
    rest: bytes,
    *,
    trusted_proxies: Collection[str] = (),
) -> None:
    """Make a WebSocket of ``transport`` whose request head is ``head`` (``rest``: the
    bytes that followed it). ``gateway`` None: not started yet (accept, close 1012)."""
    limit = 16384 if gateway is None else gateway.settings.ws_max_frame_bytes
    proto = ServerProtocol(max_size=max(1 << 16, 4 * limit), logger=_protocol_log)
    proto.receive_data(head)
    events = proto.events_received()
    request = events[0] if events and isinstance(events[0], Request) else None
    if request is None:  # not a parsable request
        _write_all(transport, proto)
        transport.close()
        return
    response = proto.accept(request)
    proto.send_response(response)
    _write_all(transport, proto)
    if response.status_code != 101:
        transport.close()
        return
    address = client_address(transport, request, trusted_proxies)
    if gateway is None:
        refused = WireConnection(
            None, transport, proto, player_id=0, username="", address=address,
            bucket=_NO_BUCKET, send_limit=0,
        )  # fmt: skip
        transport.set_protocol(refused)
        refused.close(CLOSE_RESTART, "")
        return
    from meeple.gateway.gateway import bearer

    query = parse_qs(urlsplit(request.path).query)
    tokens = query.get("token")
    token = tokens[0] if tokens else bearer(request.headers.get("Authorization"))
    admitted = gateway.admit(token, address)
    send_limit = gateway.settings.ws_send_buffer_bytes
    if isinstance(admitted, tuple):
        frame, code = admitted
        refused = WireConnection(
            None, transport, proto, player_id=0, username="", address=address,
            bucket=_NO_BUCKET, send_limit=send_limit,
        )  # fmt: skip
        transport.set_protocol(refused)
        refused.send(frame)
        refused.close(code, "")
        return
    conn = WireConnection(
        gateway,
        transport,
        proto,
        player_id=admitted.player_id,
        username=admitted.username,
        address=address,
        bucket=gateway.bucket(),
        send_limit=send_limit,
    )
    conn.held = bytearray(rest)
    transport.set_protocol(conn)
    transport.pause_reading()
    gateway.register(conn)
    gateway.session.spawn(conn.open())


def _write_all(transport: asyncio.Transport, proto: ServerProtocol) -> None:
    for data in proto.data_to_send():
        if data:
            transport.write(data)


def client_address(
    transport: asyncio.BaseTransport, request: Request, trusted_proxies: Collection[str]
) -> str:
    """The client's address: the peer's, or from ``X-Forwarded-For`` when the peer is a
    trusted proxy (the nearest address that is not a trusted proxy, as uvicorn does)."""
    peer = transport.get_extra_info("peername")
    host = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
    if not trusted_proxies:
        return host
    trust_all = "*" in trusted_proxies
    if not (trust_all or host in trusted_proxies):
        return host
    forwarded = request.headers.get("X-Forwarded-For")
    if not forwarded:
        return host
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if trust_all:
        return hops[0] if hops else host
    for hop in reversed(hops):
        if hop not in trusted_proxies:
            return hop
    return hops[0] if hops else host
