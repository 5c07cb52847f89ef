"""What the single-role commands (``meeple gateway``, ``meeple engine``) share: the
probes ``/healthz``, ``/readyz`` and ``/metrics``, and serving until SIGTERM.

``/healthz`` answers 200 while the process runs (it checks nothing). ``/readyz``
answers 200 only when the role can do its job (store and bus reachable, started,
not draining), else 503 with the reason; ``/metrics`` is Prometheus text.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from meeple.bus.base import Bus
from meeple.obs import metrics, tracing
from meeple.settings import Settings
from meeple.store.database import Store

if TYPE_CHECKING:
    from meeple.gateway.server import GatewaySource

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 2.0

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]


def probe_routes(ready: Readiness) -> list[BaseRoute]:
    """``/healthz``, ``/readyz`` (from ``ready()``) and ``/metrics``."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        ok, detail = await ready()
        return JSONResponse({"status": "ok" if ok else "unavailable", **detail}, 200 if ok else 503)

    return [
        Route("/healthz", healthz, name="healthz"),
        Route("/readyz", readyz, name="readyz"),
        Route("/metrics", metrics.endpoint, name="metrics"),
    ]


async def reachable(store: Store | None, bus: Bus | None) -> str | None:
    """Why the store or the bus cannot be used now (``None``: both answer)."""
    if store is None or bus is None:
        return "starting"
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), store.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("store unreachable", extra={"error": repr(exc)})
        return "store_unavailable"
    if not await bus.ping():
        return "bus_unavailable"
    return None


def run_role(
    app: Starlette,
    settings: Settings,
    *,
    announce: str,
    on_signal: Callable[[], Awaitable[None]],
    gateway: GatewaySource | None = None,
) -> int:
    """Serve ``app`` until SIGTERM/Ctrl-C; ``on_signal`` runs first (drain, handover).
    With ``gateway``, ``/ws`` upgrades go to its lean transport on the same port (no
    ASGI task per connection); every other request goes to ``app``."""
    from meeple.commands._uvicorn import config
    from meeple.commands.serve import _DrainingServer

    extra: dict[str, Any] = {}
    if gateway is not None:
        from meeple.gateway.server import uvicorn_options

        extra = uvicorn_options(gateway)
    server = _DrainingServer(
        config(app, settings, **extra),
        announce,
        on_signal,
        gc_gen0_threshold=settings.gc_gen0_threshold,
    )
    try:
        server.run()
    finally:
        tracing.shutdown()  # the last spans out (bounded), if tracing is on
    return 0 if server.started else 1
