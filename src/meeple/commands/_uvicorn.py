"""Serving an ASGI app with uvicorn on uvloop, stopping cleanly on Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Generator
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from meeple.obs.runtime import settle_heap
from meeple.settings import Settings

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    """uvicorn's server, announcing where it listens and exiting with status 0 on a signal.

    uvicorn re-raises the signal after a graceful shutdown, which turns Ctrl-C into a
    KeyboardInterrupt traceback; a drained, stopped server is a clean exit.
    """

    def __init__(
        self, config: uvicorn.Config, announce: str | None, *, gc_gen0_threshold: int = 0
    ) -> None:
        super().__init__(config)
        self._announce = announce
        self._gc_gen0_threshold = gc_gen0_threshold

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            settle_heap(self._gc_gen0_threshold)  # after the lifespan: stores, engines up
        if self._announce is not None and self.started:
            for server in self.servers:
                for sock in server.sockets:
                    host, port = sock.getsockname()[:2]
                    host = f"[{host}]" if ":" in host else host
                    sys.stdout.write(f"{self._announce} on http://{host}:{port}\n")
            sys.stdout.flush()


def config(app: ASGIApp, settings: Settings, **extra: Any) -> uvicorn.Config:
    """uvicorn's configuration for every meeple server: uvloop, our logging, graceful
    shutdown; ``extra`` adds options (the gateway's lean ``/ws`` transport)."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        log_config=None,  # our logging (meeple.obs.logging) is already configured
        access_log=False,  # meeple.api.middleware.RequestLog logs every request
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        **extra,
    )


def serve(app: ASGIApp, settings: Settings, *, announce: str | None = None) -> int:
    """Run ``app`` on ``settings.host:port`` until a signal; the exit status."""
    server = _Server(config(app, settings), announce, gc_gen0_threshold=settings.gc_gen0_threshold)
    server.run()
    return 0 if server.started else 1
