"""``meeple gateway``: the WebSocket edge on its own (``/ws``, plus ``/healthz``,
``/readyz``, ``/metrics``).

Run any number of them behind the L7 router, on the same Redis (``MEEPLE_REDIS_URL``),
store (``MEEPLE_DATABASE_URL``) and signing key (``MEEPLE_SIGNING_KEY``): replies come
back to the gateway that sent the command (its id is the reply topic), and a client
may reconnect to any gateway and resume by sequence number.

SIGTERM drains: every client gets ``Notice(draining)``, commands in flight get their
replies, sockets close with 1012 (clients reconnect elsewhere); then it exits 0.
"""

from __future__ import annotations

import argparse
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from meeple.commands.api import settings_from
from meeple.settings import Settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port`` (and ``--data-dir``) over the ``MEEPLE_*`` environment."""
    from meeple.commands.api import add_arguments as api_arguments

    api_arguments(parser)


def create_gateway_app(settings: Settings, gateway_id: str | None = None) -> Starlette:
    """The gateway role as an ASGI app; ``app.state.gateway`` once started."""
    from meeple.bus.factory import open_bus
    from meeple.commands._roles import probe_routes, reachable
    from meeple.gateway import Gateway
    from meeple.store.database import Store

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            store = await Store.open(settings.effective_database_url)
            stack.push_async_callback(store.close)
            bus = open_bus(settings)
            stack.push_async_callback(bus.close)
            gateway = Gateway(store=store, bus=bus, settings=settings, gateway_id=gateway_id)
            await gateway.start()
            stack.push_async_callback(gateway.stop)
            app.state.gateway, app.state.store, app.state.bus = gateway, store, bus
            yield

    async def ws(websocket: WebSocket) -> None:
        gateway = getattr(app.state, "gateway", None)
        if gateway is None:
            await websocket.close(1013)  # try again later
            return
        await gateway.endpoint(websocket)

    async def ready() -> tuple[bool, dict[str, object]]:
        gateway = getattr(app.state, "gateway", None)
        why = await reachable(getattr(app.state, "store", None), getattr(app.state, "bus", None))
        if why is None and gateway is not None and gateway.draining:
            why = "draining"
        detail: dict[str, object] = {"role": "gateway"}
        if gateway is not None:
            detail |= {"gateway": gateway.gateway_id, "connections": len(gateway.connections)}
            detail["games_available"] = gateway.session.games_available
        if why is not None:
            detail["reason"] = why
        return why is None, detail

    app = Starlette(
        routes=[WebSocketRoute("/ws", ws, name="ws"), *probe_routes(ready)], lifespan=lifespan
    )
    app.state.gateway = None
    return app


def run(args: argparse.Namespace) -> int:
    """Serve ``/ws`` until SIGTERM (drain first)."""
    from meeple.commands._roles import run_role
    from meeple.obs import tracing
    from meeple.obs.logging import configure_logging

    settings = settings_from(args)
    configure_logging(settings)
    gateway_id = f"gw-{secrets.token_hex(4)}"
    tracing.configure(settings, "gateway", gateway_id)
    app = create_gateway_app(settings, gateway_id)

    async def drain() -> None:
        if app.state.gateway is not None:
            await app.state.gateway.drain()

    bus = "redis" if settings.redis_url else "in-memory bus"
    return run_role(
        app,
        settings,
        announce=f"meeple gateway serving /ws ({bus})",
        on_signal=drain,
        gateway=lambda: app.state.gateway,
    )
