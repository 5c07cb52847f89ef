"""The one-process platform (``meeple serve``) as a single ASGI application.

Routes, first match wins: ``/ws`` (the gateway), ``/metrics`` (Prometheus), then
everything else to the api's FastAPI app (``/api/...``, ``/healthz``, ``/readyz``).
``meeple serve`` keeps WebSocket upgrades of ``/ws`` out of the app (the gateway's
lean transport takes them on the same port, :mod:`meeple.gateway.server`); the
``/ws`` route here serves any other ASGI server.
The lifespan opens the store and the bus (in memory, or Redis with
``MEEPLE_REDIS_URL``) and starts, in order, the
api, the engine, the matchmaker and the gateway; shutdown runs in reverse, the
gateway draining first while the engine still answers its commands in flight.

The tiers share nothing but the Bus and Store ports (and the settings), exactly
as when they run as separate processes on Redis and PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from meeple.bus.base import Bus
from meeple.bus.factory import open_bus
from meeple.obs import metrics
from meeple.settings import Settings
from meeple.store.database import Store

if TYPE_CHECKING:  # the tiers are imported when the app starts, not when it is built
    from meeple.gateway import Gateway

log = logging.getLogger(__name__)


class Runtime:
    """The running tiers of one process (set while the lifespan is active)."""

    def __init__(self) -> None:
        self.api: ASGIApp | None = None
        self.gateway: Gateway | None = None
        self.store: Store | None = None
        self.bus: Bus | None = None

    async def drain(self) -> None:
        """Drain the gateway (clients get ``draining``; commands in flight finish)."""
        if self.gateway is not None:
            await self.gateway.drain()


def create_serve_app(settings: Settings, *, store: Store | None = None) -> Starlette:
    """Every tier in one ASGI app. With ``store`` given it is used and left open."""
    runtime = Runtime()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from meeple.api.app import create_app
        from meeple.engine import Engine
        from meeple.gateway import Gateway
        from meeple.ledger import Ledger
        from meeple.matchmaking import Matchmaker
        from meeple.web import static_files

        async with AsyncExitStack() as stack:
            the_store = store
            if the_store is None:
                the_store = await Store.open(settings.effective_database_url)
                stack.push_async_callback(the_store.close)
            bus = open_bus(settings)  # MEEPLE_REDIS_URL: Redis, else in memory
            stack.push_async_callback(bus.close)
            api = create_app(settings, the_store)
            # The browser client at /, after every api route (their 404s stay problems).
            api.mount("/", static_files(), name="web")
            await stack.enter_async_context(api.router.lifespan_context(api))
            ledger = Ledger(the_store, settings.currency)
            engine = Engine(store=the_store, bus=bus, ledger=ledger, settings=settings)
            await engine.start()
            stack.push_async_callback(engine.stop)
            matchmaker = Matchmaker(store=the_store, bus=bus, ledger=ledger, settings=settings)
            await matchmaker.start()
            stack.push_async_callback(matchmaker.stop)
            gateway = Gateway(store=the_store, bus=bus, settings=settings)
            await gateway.start()
            stack.push_async_callback(gateway.stop)
            runtime.api, runtime.gateway, runtime.store, runtime.bus = api, gateway, the_store, bus
            app.state.runtime = runtime
            log.info("all tiers started", extra={"store": the_store.dialect})
            yield
            log.info("stopping")

    async def ws(websocket: WebSocket) -> None:
        if runtime.gateway is None:  # the lifespan has not run (or has ended)
            await websocket.close(1012)
            return
        await runtime.gateway.endpoint(websocket)

    async def api(scope: Scope, receive: Receive, send: Send) -> None:
        if runtime.api is None:
            response = Response("starting", status_code=503)
            await response(scope, receive, send)
            return
        await runtime.api(scope, receive, send)

    app = Starlette(
        routes=[
            WebSocketRoute("/ws", ws, name="ws"),
            Route("/metrics", metrics.endpoint, name="metrics"),
            Mount("", app=api),
        ],
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
