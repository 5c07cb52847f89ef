"""Pure ASGI middleware of the api: request log, metrics and traces, last-resort 500,
rate and body limits.

Order, outermost first: :class:`RequestLog` (logs, counts and times every request,
with tracing on in a span of its own; turns an unexpected exception into a 500
problem that leaks nothing), :class:`RateLimit`, :class:`BodyLimit`.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.status import Status, StatusCode
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from meeple.api.problems import problem_response
from meeple.obs import metrics, tracing

log = logging.getLogger(__name__)
access_log = logging.getLogger("meeple.api.access")

MAX_BODY_BYTES = 64 * 1024
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route took (a 404)


class RequestLog:
    """One JSON log line per request; a 500 problem for any unhandled exception.

    Also ``meeple_api_requests_total`` and ``meeple_api_request_duration_seconds``
    by method, route template (never the raw path: ids would explode the series)
    and status class; and with tracing on, a server span per request that
    continues the caller's W3C ``traceparent`` and is current while the request
    is handled and logged (the log line carries its ``trace_id``).
    """

    def __init__(self, app: ASGIApp, untraced: Iterable[str] = ()) -> None:
        self.app = app
        self.untraced = frozenset(untraced)  # probes and scrapes: counted, not traced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not tracing.ENABLED or scope.get("path") in self.untraced:
            await self._handle(scope, receive, send, None)
            return
        span = _start_span(scope)
        with trace.use_span(span, end_on_exit=False):
            await self._handle(scope, receive, send, span)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, span: Span | None) -> None:
        started = time.perf_counter()
        outer = scope.get("route")  # the route that led here (meeple serve's mount), if any
        given = _header(scope, b"x-request-id")
        # A client's id is echoed into logs and headers: only a short, plain one.
        request_id = given if given and len(given) <= 64 and given.isprintable() else None
        request_id = request_id or secrets.token_hex(8)
        status = 0

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception(
                "unhandled error",
                extra={"request_id": request_id, "path": scope.get("path")},
            )
            if status:  # the response already started: nothing left to do but drop it
                raise
            await problem_response(
                500,
                "internal_error",
                "the server failed to handle this request; it has been logged",
                headers={"x-request-id": request_id},
            )(scope, receive, send)
            status = 500
        finally:
            duration = time.perf_counter() - started
            client = scope.get("client")
            access_log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "duration_ms": round(duration * 1000, 2),
                    "client": client[0] if client else None,
                    "request_id": request_id,
                },
            )
            method = scope["method"] if scope["method"] in METHODS else "other"
            route = scope.get("route")
            template = getattr(route, "path_format", UNMATCHED) if route is not outer else UNMATCHED
            labels = (method, template, f"{status // 100}xx" if status else "none")
            metrics.API_REQUESTS.labels(*labels).inc()
            metrics.API_LATENCY.labels(*labels).observe(duration)
            if span is not None:
                span.set_attribute("meeple.request_id", request_id)
                _end_span(span, method, template, status)


def _start_span(scope: Scope) -> Span:
    client = scope.get("client")
    return tracing.tracer("meeple.api").start_span(
        str(scope["method"]),
        context=tracing.from_headers(scope.get("headers", [])),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": scope["method"],
            "url.path": scope.get("path", ""),
            "url.scheme": scope.get("scheme", "http"),
            "client.address": client[0] if client else "",
        },
    )


def _end_span(span: Span, method: str, template: str, status: int) -> None:
    if template != UNMATCHED:
        span.update_name(f"{method} {template}")
        span.set_attribute("http.route", template)
    if status:
        span.set_attribute("http.response.status_code", status)
    if status >= 500 or not status:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem_response(
            413,
            "body_too_large",
            f"request body is larger than {self.max_bytes} bytes",
            headers={"connection": "close"},
        )(scope, receive, send)


class _TooLarge(HTTPException):
    """Raised from ``receive``; an HTTPException so that FastAPI's body parsing lets it through."""

    def __init__(self) -> None:
        super().__init__(413, "request body is too large")


class RateLimit:
    """A token bucket per client address, in this process (nginx may limit globally too).

    ``rate`` tokens per second refill a bucket of ``burst``; a request spends one. Paths
    in ``exempt`` (health checks) are never limited. ``rate <= 0`` turns the limit off.
    """

    MAX_CLIENTS = 100_000

    def __init__(self, app: ASGIApp, rate: float, burst: int, exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.rate = rate
        self.burst = max(1, burst)
        self.exempt = frozenset(exempt)
        self._buckets: dict[str, tuple[float, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0 or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self._spend(client[0] if client else "-", time.monotonic())
        if wait > 0:
            await problem_response(
                429,
                "rate_limited",
                "too many requests from this address; slow down",
                headers={"retry-after": str(max(1, int(wait + 0.999)))},
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _spend(self, client: str, now: float) -> float:
        """Take a token for ``client``; return 0, or the seconds until one is available."""
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
        if len(self._buckets) >= self.MAX_CLIENTS and client not in self._buckets:
            self._forget_idle(now)
        self._buckets[client] = (tokens - 1, now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        # A bucket that would be full again carries no information.
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
