"""One listening port for HTTP and the gateway's lean WebSocket transport.

Every accepted connection starts with :class:`FirstRequest`, which reads the
first request head. A WebSocket upgrade to ``/ws`` stays here and becomes a
:class:`~meeple.gateway.wire.WireConnection`; anything else is handed, with the
bytes already read, to an HTTP protocol (uvicorn's, serving the ASGI app: api,
web, ``/metrics``, probes), which takes over the transport as if it had accepted
it. So ``/ws`` costs no ASGI task, queue or scope per connection, and the rest of
the app is served exactly as before.

- With uvicorn (``meeple serve``, ``meeple gateway``): pass :func:`uvicorn_options`
  (``http=lean_http(...)``, ``ws="none"``) to :class:`uvicorn.Config`; uvicorn
  keeps its lifespan, signals and graceful shutdown.
- Alone (tests, tools): :func:`serve_gateway` listens with the gateway only
  (any other request gets 404).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, cast

from meeple.gateway.wire import upgrade

if TYPE_CHECKING:
    import uvicorn

    from meeple.gateway.gateway import Gateway

HEAD_LIMIT = 16384
"""Largest request head read here; a bigger one goes to the HTTP protocol (which refuses it)."""

HEAD_TIMEOUT_S = 10.0
"""A connection that sends no complete request head in this time is cut."""

_WS_REQUEST = re.compile(rb"GET /ws(?:[ ?])")
_UPGRADE_WEBSOCKET = re.compile(rb"\r\nupgrade:[ \t]*websocket[ \t]*\r\n", re.IGNORECASE)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"

GatewaySource = Callable[[], "Gateway | None"]
"""Returns the running gateway (None before it started: ``/ws`` is closed with 1012)."""

HttpFactory = Callable[[], asyncio.Protocol]


def is_websocket_request(head: bytes) -> bool:
    """Whether a request head asks for a WebSocket upgrade of ``/ws``."""
    return _WS_REQUEST.match(head) is not None and _UPGRADE_WEBSOCKET.search(head) is not None


class FirstRequest(asyncio.Protocol):
    """A new connection until its first request head is read."""

    __slots__ = ("_buffer", "_gateway", "_http", "_timer", "_transport", "_trusted")

    def __init__(
        self,
        gateway: GatewaySource,
        http: HttpFactory | None,
        trusted_proxies: Collection[str] = (),
    ) -> None:
        self._gateway = gateway
        self._http = http
        self._trusted = trusted_proxies
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start the head timer."""
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self._transport = cast(asyncio.Transport, transport)
        self._timer = asyncio.get_running_loop().call_later(HEAD_TIMEOUT_S, self._transport.abort)

    def data_received(self, data: bytes) -> None:
        """Read until the head is complete, then hand the connection over."""
        buffer = self._buffer + data if self._buffer else data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(buffer) > HEAD_LIMIT:
                self._hand_over(buffer)
            else:
                self._buffer = buffer
            return
        self._buffer = b""
        head = buffer[: end + 4]
        if is_websocket_request(head):
            self._stop_timer()
            assert self._transport is not None
            upgrade(
                self._gateway(),
                self._transport,
                head,
                buffer[end + 4 :],
                trusted_proxies=self._trusted,
            )
        else:
            self._hand_over(buffer)

    def _hand_over(self, buffer: bytes) -> None:
        self._stop_timer()
        transport = self._transport
        assert transport is not None
        if self._http is None:
            transport.write(_NOT_FOUND)
            transport.close()
            return
        protocol = self._http()
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(buffer)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def eof_received(self) -> bool | None:
        """The client gave up before a whole head: close."""
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Gone before the head was read."""
        self._stop_timer()


async def serve_gateway(gateway: Gateway, host: str, port: int) -> asyncio.Server:
    """Listen on ``host:port`` with the gateway's lean transport only (``/ws``)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(lambda: FirstRequest(lambda: gateway, None), host, port)


def lean_http(gateway: GatewaySource) -> type[asyncio.Protocol]:
    """A uvicorn HTTP protocol class (``uvicorn.Config(http=...)``) that keeps WebSocket
    upgrades of ``/ws`` for ``gateway()`` and gives every other request to uvicorn's
    own HTTP protocol (httptools when installed, else h11)."""

    class LeanHttp(FirstRequest):
        __slots__ = ()

        def __init__(
            self,
            config: uvicorn.Config,
            server_state: Any,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            http_class = _http_protocol_class()

            def http() -> asyncio.Protocol:
                protocol: asyncio.Protocol = http_class(
                    config=config, server_state=server_state, app_state=app_state, _loop=_loop
                )
                return protocol

            super().__init__(gateway, http, _trusted_proxies(config))

    return LeanHttp


def uvicorn_options(gateway: GatewaySource) -> dict[str, Any]:
    """The :class:`uvicorn.Config` options that serve ``/ws`` with the lean transport."""
    return {"http": lean_http(gateway), "ws": "none"}


def _http_protocol_class() -> Any:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # httptools is optional for uvicorn
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol


_trusted_cache: dict[int, frozenset[str]] = {}


def _trusted_proxies(config: uvicorn.Config) -> frozenset[str]:
    """uvicorn's trusted proxies (``forwarded_allow_ips``) when it applies proxy headers."""
    key = id(config)
    trusted = _trusted_cache.get(key)
    if trusted is None:
        trusted = frozenset()
        if config.proxy_headers:
            allowed = config.forwarded_allow_ips
            items = allowed.split(",") if isinstance(allowed, str) else list(allowed or ())
            trusted = frozenset(item.strip() for item in items if item.strip())
        _trusted_cache.clear()
        _trusted_cache[key] = trusted
    return trusted
