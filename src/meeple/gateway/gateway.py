"""The gateway: admission, frame limits, drain, and its one shared housekeeping loop.

Transports (:mod:`meeple.gateway.wire`, the lean WebSocket server that ``meeple
serve`` and ``meeple gateway`` run; :mod:`meeple.gateway.asgi`, the ``/ws`` route
of :meth:`Gateway.routes`) carry bytes; everything a client experiences is decided
here and in :mod:`meeple.gateway.session`, the same for both:

1. :meth:`Gateway.admit` checks the token and the address limit at connect (a
   refusal is a frame and a close code);
2. :meth:`Gateway.register` then :meth:`Gateway.open` subscribe the player's topic
   and send ``Welcome``;
3. :meth:`Gateway.receive` applies the frame limits (size, rate, draining) and
   hands the frame to the session;
4. :meth:`Gateway.forget` when the socket is gone.

Everything periodic (idle timeouts, protocol pings of the lean transport, engine
availability and its notices) runs in one loop for all connections: no task and no
timer per connection.

Drain (SIGTERM, or :meth:`Gateway.drain`): every client gets ``Notice(draining)``,
new commands are refused with ``draining``, commands already in flight get their
replies, then every socket is closed with 1012 after its queued frames.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, WebSocketRoute

from meeple.auth.errors import InvalidToken, TokenExpired
from meeple.auth.keys import load_key_ring
from meeple.auth.tokens import AccessClaims, verify_access_token
from meeple.bus.base import Bus, BusUnavailable
from meeple.gateway.commands import CommandRouter
from meeple.gateway.connection import (
    CLOSE_IDLE,
    CLOSE_INTERNAL,
    CLOSE_POLICY,
    CLOSE_RESTART,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHORIZED,
    Connection,
)
from meeple.gateway.hub import Hub
from meeple.gateway.limits import AddressLimiter, TokenBucket, frame_too_large
from meeple.gateway.reads import GatewayReads
from meeple.gateway.session import Session, error_frame, guess_id
from meeple.obs import metrics
from meeple.obs.outage import OutageLog
from meeple.protocol import messages as m
from meeple.settings import Settings
from meeple.store.database import Store

if TYPE_CHECKING:
    from starlette.websockets import WebSocket

log = logging.getLogger(__name__)

Refusal = tuple[bytes, int]
"""A refused connection's one frame and its close code."""


class Gateway:
    """Holds client connections, relays their commands and fans out game events."""

    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        settings: Settings,
        gateway_id: str | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.gateway_id = gateway_id or f"gw-{secrets.token_hex(4)}"
        self._bus_outage = OutageLog(log, "bus", f"gateway {self.gateway_id}")
        self.tick_s = tick_s
        self.reads = GatewayReads(store)
        # The shared loop refreshes every holder each tick; a cache that outlives a
        # tick spares the command pump a holder round trip between refreshes.
        self.router = CommandRouter(
            bus, self.gateway_id, timeout_s=settings.command_timeout_s, holder_ttl_s=1.0 + tick_s
        )
        self.hub = Hub(bus, self.reads, self.gateway_id, self.router.resolve)
        self.session = Session(
            hub=self.hub, router=self.router, reads=self.reads, resume_limit=settings.resume_limit
        )
        self.addresses = AddressLimiter(settings.ws_max_per_address)
        self.connections: set[Connection] = set()
        self.draining = False
        self._keys = load_key_ring(settings)
        self._loop_task: asyncio.Task[None] | None = None
        self._emptied = asyncio.Event()

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe the bus and start the housekeeping loop."""
        await self.hub.start()
        self.router.start()
        self.session.games_available = await self.router.any_available()
        self._loop_task = asyncio.create_task(self._housekeeping(), name="gateway-housekeeping")
        log.info("gateway started", extra={"gw": self.gateway_id})

    async def drain(self) -> None:
        """Tell every client, finish commands in flight, close every socket (1012)."""
        if self.draining:
            return
        self.draining = True
        notice = m.encode(
            m.Notice(
                code="draining", message="server shutting down; reconnect", retry_after_ms=1000
            )
        )
        for conn in list(self.connections):
            conn.send(notice)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.drain_timeout_s
        await self.router.wait_idle(self.settings.drain_timeout_s)
        # The replies have arrived; let their callbacks (and subscribes) send them first.
        await self.session.wait_idle(max(0.0, deadline - loop.time()))
        self._emptied.clear()
        for conn in list(self.connections):
            conn.close(CLOSE_RESTART, "draining")
        if self.connections:
            try:
                await asyncio.wait_for(self._emptied.wait(), max(0.1, deadline - loop.time()))
            except TimeoutError:
                left = len(self.connections)
                log.warning("connections still open after drain", extra={"open": left})
        log.info("gateway drained", extra={"gw": self.gateway_id})

    async def stop(self) -> None:
        """Drain if not done yet, then stop the loops and drop the subscriptions."""
        await self.drain()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        self.router.fail_all("draining", "server shutting down")
        await self.session.stop()
        await self.router.stop()
        await self.hub.stop()

    def routes(self) -> list[BaseRoute]:
        """The gateway's ASGI routes: the WebSocket endpoint ``/ws``.

        For any ASGI server; ``meeple serve`` and ``meeple gateway`` serve ``/ws``
        with the lean transport instead (:func:`meeple.gateway.server.lean_http`).
        """
        return [WebSocketRoute("/ws", self.endpoint, name="ws")]

    async def endpoint(self, ws: WebSocket) -> None:
        """One ASGI WebSocket connection, from accept to close."""
        from meeple.gateway.asgi import serve_websocket

        await serve_websocket(self, ws)

    # -- a connection's life ------------------------------------------------------------

    def admit(self, token: str | None, address: str) -> AccessClaims | Refusal:
        """Authenticate and apply the address limit (counted on success: pair with
        :meth:`register` and :meth:`forget`, or :meth:`AddressLimiter.release`)."""
        if self.draining:
            notice = m.Notice(code="draining", message="server shutting down", retry_after_ms=1000)
            return m.encode(notice), CLOSE_RESTART
        try:
            if not token:
                raise InvalidToken("no access token (?token= or Authorization: Bearer)")
            claims = verify_access_token(token, self._keys)
        except TokenExpired as exc:
            return error_frame("token_expired", exc.message), CLOSE_UNAUTHORIZED
        except InvalidToken as exc:
            return error_frame("unauthorized", exc.message), CLOSE_UNAUTHORIZED
        if not self.addresses.acquire(address):
            limit = self.addresses.limit
            message = f"at most {limit} connections per address"
            return error_frame("too_many_connections", message), CLOSE_POLICY
        return claims

    def bucket(self) -> TokenBucket:
        """A new connection's rate limiter."""
        return TokenBucket(self.settings.ws_rate_per_s, self.settings.ws_rate_burst)

    def register(self, conn: Connection) -> None:
        """Count an admitted connection (before :meth:`open`)."""
        self.connections.add(conn)
        metrics.CONNECTIONS.inc()

    async def open(self, conn: Connection) -> bool:
        """Deliver the player's frames to ``conn`` and send ``Welcome``; False if it failed
        (the connection is then closing)."""
        if conn.close_code is not None:
            return False  # gone before it was opened (forget ran already)
        try:
            live = self.hub.add_player(conn)
            if live is not None:
                await live
            games = await self.reads.active_games(conn.player_id)
        except Exception:
            log.exception("connection set-up failed", extra={"player": conn.player_id})
            conn.close(CLOSE_INTERNAL, "internal error")
            return False
        if conn.closing:
            return False
        welcome = m.Welcome(
            protocol=m.PROTOCOL_VERSION,
            player_id=conn.player_id,
            username=conn.username,
            server_time_ms=int(time.time() * 1000),
            games=games,
            games_available=self.session.games_available,
        )
        conn.send(m.encode(welcome))
        if live is not None and games:
            self.session.announce(conn.player_id, "online", games)
        return True

    def receive(self, conn: Connection, data: bytes, *, text: bool) -> None:
        """One frame from the client: limits first, then the session."""
        now = time.monotonic()
        conn.last_received = now
        if conn.close_code is not None:
            return  # waiting for the client's close; its frames no longer count
        limit = self.settings.ws_max_frame_bytes
        if frame_too_large(data, limit):
            conn.send(
                error_frame("frame_too_large", f"frame of {len(data)} bytes; the limit is {limit}")
            )
            conn.close(CLOSE_TOO_BIG, "frame too large")
            return
        if not text:
            conn.send(error_frame("bad_frame", "binary frames are not accepted"))
            return
        if not conn.bucket.take(now):
            if conn.bucket.strikes >= self.settings.ws_flood_close_after:
                conn.close(CLOSE_POLICY, "flood")
            else:
                # Every refused command gets its answer (with its id, when it has
                # one) so that a client can retry it after retry_after_ms.
                conn.send(
                    error_frame(
                        "rate_limited",
                        f"at most {self.settings.ws_rate_per_s:g} frames per second",
                        guess_id(data),
                        retry_after_ms=conn.bucket.retry_after_ms(),
                    )
                )
            return
        if self.draining:
            conn.send(error_frame("draining", "server shutting down; reconnect"))
            return
        self.session.handle(conn, data)

    def forget(self, conn: Connection) -> None:
        """The socket is gone: stop delivering, free its address slot, tell the engines."""
        if conn not in self.connections:
            return
        self.connections.discard(conn)
        metrics.CONNECTIONS.dec()
        self.addresses.release(conn.address)
        last = self.hub.remove_player(conn)
        if last and not self.draining:
            # A draining gateway's players are reconnecting elsewhere: no offline blip.
            self.session.spawn(self._offline(conn.player_id))
        if not self.connections:
            self._emptied.set()

    async def _offline(self, player_id: int) -> None:
        try:
            await self.session.presence(player_id, "offline")
        except Exception:
            log.exception("presence offline failed", extra={"player": player_id})

    # -- the shared loop ----------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self._tick()
            except BusUnavailable as exc:
                self._bus_outage.failed(exc)  # once per outage, not every tick
            except Exception:
                log.exception("gateway housekeeping failed")
            else:
                self._bus_outage.succeeded()

    async def _tick(self) -> None:
        now = time.monotonic()
        idle = self.settings.ws_idle_timeout_s
        interval = self.settings.ws_ping_interval_s
        for conn in list(self.connections):
            if now - conn.last_received > idle and conn.close_code is None:
                conn.close(CLOSE_IDLE, "idle")
            conn.heartbeat(now, interval)
        available = await self.router.any_available()
        if available != self.session.games_available:
            self.session.games_available = available
            code = "games_available" if available else "games_unavailable"
            text = "games are back" if available else "no game engine is reachable right now"
            notice = m.encode(m.Notice(code=code, message=text))
            log.warning("engine availability changed", extra={"available": available})
            for conn in list(self.connections):
                conn.send(notice)


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
