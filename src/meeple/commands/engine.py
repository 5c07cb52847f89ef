"""``meeple engine``: an engine and a matchmaker instance, with an HTTP port only for
``/healthz``, ``/readyz`` and ``/metrics``.

Run several on the same Redis (``MEEPLE_REDIS_URL``) and store
(``MEEPLE_DATABASE_URL``): the engines share the 64 game shards (each takes
``ceil(64 / engines)``; see docs/engine.md), and the matchmakers all answer queue
commands while the holder of ``lease.matchmaker`` alone makes games.

SIGTERM hands over at once: the batch in flight completes, every shard lease is
released (the other engines load those games within a poll), then it exits 0.
SIGKILL is survivable: the others take the shards once the leases expire
(``MEEPLE_LEASE_TTL_MS``).
"""

from __future__ import annotations

import argparse
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette

from meeple.commands.api import settings_from
from meeple.settings import Settings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port`` (and ``--data-dir``) over the ``MEEPLE_*`` environment."""
    from meeple.commands.api import add_arguments as api_arguments

    api_arguments(parser)


def create_engine_app(settings: Settings, engine_id: str) -> Starlette:
    """The engine role as an ASGI app (probes only); the engine runs in its lifespan."""
    from meeple.bus.factory import open_bus
    from meeple.commands._roles import probe_routes, reachable
    from meeple.engine import Engine
    from meeple.ledger import Ledger
    from meeple.matchmaking import Matchmaker
    from meeple.store.database import Store

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            store = await Store.open(settings.effective_database_url)
            stack.push_async_callback(store.close)
            bus = open_bus(settings)
            stack.push_async_callback(bus.close)
            ledger = Ledger(store, settings.currency)
            engine = Engine(
                store=store, bus=bus, ledger=ledger, settings=settings, engine_id=engine_id
            )
            await engine.start()
            stack.push_async_callback(engine.stop)
            matchmaker = Matchmaker(
                store=store, bus=bus, ledger=ledger, settings=settings, instance_id=engine_id
            )
            await matchmaker.start()
            stack.push_async_callback(matchmaker.stop)
            app.state.engine, app.state.matchmaker = engine, matchmaker
            app.state.store, app.state.bus = store, bus
            yield

    async def ready() -> tuple[bool, dict[str, object]]:
        engine = getattr(app.state, "engine", None)
        why = await reachable(getattr(app.state, "store", None), getattr(app.state, "bus", None))
        detail: dict[str, object] = {"role": "engine", "engine": engine_id}
        if engine is not None:
            detail |= {"shards": len(engine.owned), "games": len(engine.tables)}
            if why is None and not engine.running:
                why = "stopping"
        if why is not None:
            detail["reason"] = why
        return why is None, detail

    app = Starlette(routes=probe_routes(ready), lifespan=lifespan)
    app.state.engine = app.state.matchmaker = None
    return app


def run(args: argparse.Namespace) -> int:
    """Run an engine and a matchmaker until SIGTERM (hand the shards over first)."""
    from meeple.commands._roles import run_role
    from meeple.obs import tracing
    from meeple.obs.logging import configure_logging

    settings = settings_from(args)
    configure_logging(settings)
    engine_id = f"engine-{uuid.uuid4().hex[:12]}"
    tracing.configure(settings, "engine", engine_id)
    app = create_engine_app(settings, engine_id)

    async def hand_over() -> None:
        if app.state.matchmaker is not None:
            await app.state.matchmaker.stop()
        if app.state.engine is not None:
            await app.state.engine.stop()

    bus = "redis" if settings.redis_url else "in-memory bus (alone: no gateway can reach it)"
    return run_role(
        app,
        settings,
        announce=f"meeple engine {engine_id} running games ({bus}); probes",
        on_signal=hand_over,
    )
