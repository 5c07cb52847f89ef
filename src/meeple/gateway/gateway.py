"""The gateway: the WebSocket endpoint ``/ws`` and its one shared housekeeping loop.

Per connection there are two tasks only: the reader (the ASGI endpoint itself)
and the writer (:meth:`Connection.run_writer`). Everything periodic (idle
timeouts, engine availability and its notices) runs in one loop for all
connections; WebSocket protocol pings are timers in the server (uvicorn's
sans-I/O protocol, ``ws_ping_interval_s``), not tasks.

Drain (SIGTERM, or :meth:`Gateway.drain`): every client gets ``Notice(draining)``,
new commands are refused with ``draining``, commands already in flight get their
replies, then every socket is closed with 1012 after its queued frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from meeple.auth.errors import InvalidToken, TokenExpired
from meeple.auth.tokens import AccessClaims, load_signing_key, verify_access_token
from meeple.bus.base import Bus
from meeple.gateway.commands import CommandRouter
from meeple.gateway.connection import (
    CLOSE_IDLE,
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
from meeple.protocol import messages as m
from meeple.settings import Settings
from meeple.store.database import Store

log = logging.getLogger(__name__)


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
        self.tick_s = tick_s
        self.reads = GatewayReads(store)
        self.router = CommandRouter(bus, self.gateway_id, timeout_s=settings.command_timeout_s)
        self.hub = Hub(bus, self.reads, self.gateway_id, self.router.resolve)
        self.session = Session(
            hub=self.hub, router=self.router, reads=self.reads, resume_limit=settings.resume_limit
        )
        self.addresses = AddressLimiter(settings.ws_max_per_address)
        self.connections: set[Connection] = set()
        self.draining = False
        self._signing_key = load_signing_key(settings)
        self._loop_task: asyncio.Task[None] | None = None

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe the bus and start the housekeeping loop."""
        await self.hub.start()
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
        ).decode()
        for conn in list(self.connections):
            conn.send(notice)
        deadline = time.monotonic() + self.settings.drain_timeout_s
        await self.router.wait_idle(self.settings.drain_timeout_s)
        # The replies have arrived; let their tasks queue them before closing.
        pending = [t for conn in self.connections for t in conn.tasks]
        if pending:
            await asyncio.wait(pending, timeout=max(0.0, deadline - time.monotonic()))
        for conn in list(self.connections):
            conn.close(CLOSE_RESTART, "draining")
        closing = [asyncio.ensure_future(conn.wait_closed()) for conn in self.connections]
        if closing:
            await asyncio.wait(closing, timeout=max(0.1, deadline - time.monotonic()))
            for waiter in closing:
                waiter.cancel()
        log.info("gateway drained", extra={"gw": self.gateway_id})

    async def stop(self) -> None:
        """Drain if not done yet, then stop the loops and drop the subscriptions."""
        await self.drain()
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        self.router.fail_all("draining", "server shutting down")
        await self.hub.stop()

    def routes(self) -> list[BaseRoute]:
        """The gateway's routes: the WebSocket endpoint ``/ws``."""
        return [WebSocketRoute("/ws", self.endpoint, name="ws")]

    # -- the endpoint ----------------------------------------------------------------

    async def endpoint(self, ws: WebSocket) -> None:
        """One client connection, from accept to close."""
        await ws.accept()
        address = ws.client.host if ws.client else "unknown"
        claims = await self._admit(ws, address)
        if claims is None:
            return
        conn = Connection(
            ws,
            player_id=claims.player_id,
            username=claims.username,
            address=address,
            bucket=TokenBucket(self.settings.ws_rate_per_s, self.settings.ws_rate_burst),
            send_limit=self.settings.ws_send_buffer_frames,
        )
        writer = asyncio.create_task(conn.run_writer())
        self.connections.add(conn)
        metrics.CONNECTIONS.inc()
        try:
            first = await self.hub.add_player(conn)
            games = await self.reads.active_games(conn.player_id)
            conn.send(
                m.encode(
                    m.Welcome(
                        protocol=m.PROTOCOL_VERSION,
                        player_id=conn.player_id,
                        username=conn.username,
                        server_time_ms=int(time.time() * 1000),
                        games=games,
                        games_available=self.session.games_available,
                    )
                ).decode()
            )
            if first and games:
                await self.session.presence(conn.player_id, "online")
            await self._read(conn)
        finally:
            await self._forget(conn, writer)

    async def _admit(self, ws: WebSocket, address: str) -> AccessClaims | None:
        """Authenticate and apply the address limit; None when the socket was refused."""
        if self.draining:
            await self._refuse(
                ws,
                m.Notice(code="draining", message="server shutting down", retry_after_ms=1000),
                CLOSE_RESTART,
            )
            return None
        token = ws.query_params.get("token") or _bearer(ws.headers.get("authorization"))
        try:
            if not token:
                raise InvalidToken("no access token (?token= or Authorization: Bearer)")
            claims = verify_access_token(token, self._signing_key)
        except TokenExpired as exc:
            await self._refuse(ws, _error("token_expired", exc.message), CLOSE_UNAUTHORIZED)
            return None
        except InvalidToken as exc:
            await self._refuse(ws, _error("unauthorized", exc.message), CLOSE_UNAUTHORIZED)
            return None
        if not self.addresses.acquire(address):
            limit = self.addresses.limit
            await self._refuse(
                ws,
                _error("too_many_connections", f"at most {limit} connections per address"),
                CLOSE_POLICY,
            )
            return None
        return claims

    async def _refuse(self, ws: WebSocket, frame: m.Error | m.Notice, code: int) -> None:
        if isinstance(frame, m.Error):
            metrics.FRAMES_REJECTED.labels(code=frame.code).inc()
        with contextlib.suppress(Exception):
            await ws.send_text(m.encode(frame).decode())
            await ws.close(code)

    async def _read(self, conn: Connection) -> None:
        """Read frames until the client goes away."""
        limit = self.settings.ws_max_frame_bytes
        while True:
            message = await conn.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            now = time.monotonic()
            conn.last_received = now
            if conn.closing:
                continue  # waiting for the client's close; its frames no longer count
            text = message.get("text")
            if text is None:
                data = message.get("bytes") or b""
                if frame_too_large(data, limit):
                    self._too_large(conn, len(data))
                else:
                    conn.send(error_frame("bad_frame", "binary frames are not accepted"))
                continue
            if frame_too_large(text, limit):
                self._too_large(conn, len(text.encode()))
                continue
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
                            guess_id(text),
                            retry_after_ms=conn.bucket.retry_after_ms(),
                        )
                    )
                continue
            if self.draining:
                conn.send(error_frame("draining", "server shutting down; reconnect"))
                continue
            await self.session.handle(conn, text)

    def _too_large(self, conn: Connection, size: int) -> None:
        limit = self.settings.ws_max_frame_bytes
        conn.send(error_frame("frame_too_large", f"frame of {size} bytes; the limit is {limit}"))
        conn.close(CLOSE_TOO_BIG, "frame too large")

    async def _forget(self, conn: Connection, writer: asyncio.Task[None]) -> None:
        self.connections.discard(conn)
        metrics.CONNECTIONS.dec()
        self.addresses.release(conn.address)
        for task in list(conn.tasks):
            task.cancel()
        last = await self.hub.remove_player(conn)
        conn.close(1000, "")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(conn.wait_closed()), 1.0)
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)
        if last and not self.draining:
            # A draining gateway's players are reconnecting elsewhere: no offline blip.
            try:
                await self.session.presence(conn.player_id, "offline")
            except Exception:
                log.exception("presence offline failed", extra={"player": conn.player_id})

    # -- the shared loop ----------------------------------------------------------------

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self._tick()
            except Exception:
                log.exception("gateway housekeeping failed")

    async def _tick(self) -> None:
        now = time.monotonic()
        idle = self.settings.ws_idle_timeout_s
        for conn in list(self.connections):
            if now - conn.last_received > idle and not conn.closing:
                conn.close(CLOSE_IDLE, "idle")
        available = await self.router.any_available()
        if available != self.session.games_available:
            self.session.games_available = available
            code = "games_available" if available else "games_unavailable"
            text = "games are back" if available else "no game engine is reachable right now"
            notice = m.encode(m.Notice(code=code, message=text)).decode()
            log.warning("engine availability changed", extra={"available": available})
            for conn in list(self.connections):
                conn.send(notice)


def _error(code: str, message: str) -> m.Error:
    return m.Error(code=code, message=message)


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None
