"""``meeple serve``: the whole platform in one process on embedded defaults.

One port: WebSocket upgrades of ``/ws`` go to the gateway's lean transport
(:mod:`meeple.gateway.server`), every other request to one ASGI app
(:mod:`meeple.app`: the api, the web client, ``/metrics``), whose lifespan starts
the engine, the matchmaker and the gateway, on the SQLite store in the data
dir (or ``MEEPLE_DATABASE_URL``, e.g. PostgreSQL) and the in-memory bus.

Ctrl-C or SIGTERM drains first: every client gets ``Notice(draining)``, commands
in flight get their answers, sockets close with 1012; then the engine gives its
leases up and the process exits with status 0. A second signal stops at once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from types import FrameType

import uvicorn

from meeple.commands._uvicorn import _Server
from meeple.commands.api import add_arguments as _api_arguments
from meeple.commands.api import settings_from

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The same flags as ``meeple api``: ``--host``, ``--port``, ``--data-dir``."""
    _api_arguments(parser)


class _DrainingServer(_Server):
    """Drains the gateway on the first signal, before uvicorn closes the sockets."""

    def __init__(
        self,
        config: uvicorn.Config,
        announce: str,
        drain: Callable[[], Awaitable[None]],
        *,
        gc_gen0_threshold: int = 0,
    ) -> None:
        super().__init__(config, announce, gc_gen0_threshold=gc_gen0_threshold)
        self._drain = drain
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self._drain_task: asyncio.Future[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining or self._loop is None or not self.started:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        self._loop.call_soon_threadsafe(self._start_drain, sig, frame)

    def _start_drain(self, sig: int, frame: FrameType | None) -> None:
        async def drain_then_exit() -> None:
            try:
                await self._drain()
            except Exception:
                log.exception("drain failed")
            finally:
                super(_DrainingServer, self).handle_exit(sig, frame)

        self._drain_task = asyncio.ensure_future(drain_then_exit())


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM."""
    from meeple.app import create_serve_app
    from meeple.commands._roles import run_role
    from meeple.obs import tracing
    from meeple.obs.logging import configure_logging

    settings = settings_from(args)
    configure_logging(settings)
    tracing.configure(settings, "serve")
    app = create_serve_app(settings)
    runtime = app.state.runtime
    return run_role(
        app,
        settings,
        announce="meeple serving",
        on_signal=runtime.drain,
        gateway=lambda: runtime.gateway,
    )
