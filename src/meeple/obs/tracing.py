"""OpenTelemetry traces across the tiers; off unless ``MEEPLE_OTEL_ENDPOINT`` is set.

Off (the default) no SDK is installed: every hook on a hot path tests one module
flag, :data:`ENABLED`, and does nothing else. On, :func:`configure` builds a tracer
provider of this module's own (the process-global one of ``opentelemetry.trace``
is left alone, so tests can install and remove it freely) with

- the resource ``service.name`` = ``<MEEPLE_OTEL_SERVICE_PREFIX>-<role>`` (``api``,
  ``gateway``, ``engine``, ``serve``), ``service.instance.id`` and
  ``service.version``, plus anything in ``OTEL_RESOURCE_ATTRIBUTES``;
- a parent-based ratio sampler (``MEEPLE_OTEL_SAMPLE_RATIO`` for new traces; a
  trace begun upstream keeps its caller's decision);
- a batch processor (its own thread; the standard ``OTEL_BSP_*`` variables tune
  it) feeding an OTLP/HTTP exporter (``OTEL_EXPORTER_OTLP_TRACES_HEADERS``,
  ``..._TIMEOUT``, ``..._CERTIFICATE`` apply). A collector that cannot be reached
  never reaches the caller: the export fails on the processor's thread, the
  outage is logged once (and its end once), and those spans are dropped.

Span context crosses a tier boundary as a W3C ``traceparent``: in HTTP headers
into the api, and in the optional ``trace`` field of the internal
:class:`~meeple.protocol.internal.Command` from a gateway (or a matchmaker) to an
engine. Only a sampled context is carried: an unsampled command costs the engine
nothing.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags, Tracer
from opentelemetry.trace.status import Status, StatusCode
from opentelemetry.util.types import AttributeValue

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from meeple.obs._export import ReportedExporter
    from meeple.settings import Settings

log = logging.getLogger(__name__)

ENABLED = False
"""True while an SDK tracer provider is installed in this process (the one cheap check)."""

FAULTS = frozenset({"internal_error", "games_unavailable", "timeout"})
"""Outcome codes that are our failures (the span's status is ERROR); a player's
mistake (``illegal_move``, ``not_your_turn``...) is an outcome, not an error."""

SHUTDOWN_WAIT_S = 3.0  # the most a process waits at exit for its last spans to go out

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_provider: TracerProvider | None = None
_exporter: ReportedExporter | None = None
_tracers: dict[str, Tracer] = {}


# ------------------------------------------------------------------ set-up


def configure(settings: Settings, role: str, instance_id: str | None = None) -> bool:
    """Install the SDK with an OTLP/HTTP exporter if ``settings.otel_endpoint`` is set.

    ``role`` names the service (``<prefix>-<role>``); ``instance_id`` defaults to a
    random UUID. Returns whether tracing is on.
    """
    if not settings.otel_endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from meeple.obs._export import ReportedExporter

    endpoint = traces_url(settings.otel_endpoint)
    where = f"{settings.otel_service_prefix}-{role}"
    install(
        ReportedExporter(OTLPSpanExporter(endpoint=endpoint), where),
        service_name=where,
        instance_id=instance_id,
        sample_ratio=settings.otel_sample_ratio,
    )
    log.info("tracing on", extra={"endpoint": endpoint, "service": where})
    return True


def traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL of a collector: ``<endpoint>/v1/traces`` for a bare
    ``scheme://host:port``; a URL with a path is taken as it is."""
    scheme, sep, rest = endpoint.partition("://")
    if sep and "/" not in rest.rstrip("/"):
        return f"{scheme}://{rest.rstrip('/')}/v1/traces"
    return endpoint


def install(
    exporter: SpanExporter,
    *,
    service_name: str,
    instance_id: str | None = None,
    sample_ratio: float = 1.0,
    batch: bool = True,
) -> None:
    """Install a tracer provider exporting to ``exporter`` (replacing any installed one).

    ``batch=False`` exports each span as it ends, on the caller's thread (tests with
    an in-memory exporter); otherwise a batch processor exports on its own thread.
    """
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from meeple import __version__
    from meeple.obs._export import ReportedExporter

    global ENABLED, _provider, _exporter
    shutdown()
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.instance.id": instance_id or str(uuid.uuid4()),
            "service.version": __version__,
        }
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(sample_ratio))
    )
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _provider = provider
    _exporter = exporter if isinstance(exporter, ReportedExporter) else None
    _tracers.clear()
    ENABLED = True


def shutdown() -> None:
    """Flush the last spans (at most :data:`SHUTDOWN_WAIT_S`) and turn tracing off."""
    global ENABLED, _provider, _exporter
    provider, exporter = _provider, _exporter
    ENABLED, _provider, _exporter = False, None, None
    _tracers.clear()
    if provider is None:
        return
    if exporter is not None and exporter.down:
        exporter.abort()  # do not wait out retries against a collector known to be down
    # The SDK's shutdown joins its export thread without a bound: bound it here.
    done = threading.Thread(target=provider.shutdown, name="otel-shutdown", daemon=True)
    done.start()
    done.join(SHUTDOWN_WAIT_S)


def tracer(scope: str) -> Tracer:
    """The tracer of an instrumentation scope (``meeple.gateway``, ``meeple.engine``...)."""
    found = _tracers.get(scope)
    if found is None:
        provider = _provider
        found = provider.get_tracer(scope) if provider is not None else trace.NoOpTracer()
        _tracers[scope] = found
    return found


# ------------------------------------------------------------------ propagation


def traceparent(span: Span) -> str | None:
    """The W3C ``traceparent`` of ``span`` if it is sampled (None: carry nothing)."""
    ctx = span.get_span_context()
    if not ctx.trace_flags.sampled:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-01"


def remote(value: str | None) -> Context | None:
    """The context of a ``traceparent`` from another process (None: absent or malformed)."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    trace_id, span_id = int(match[1], 16), int(match[2], 16)
    if not trace_id or not span_id:
        return None
    flags = TraceFlags(int(match[3], 16) & TraceFlags.SAMPLED)
    parent = SpanContext(trace_id, span_id, is_remote=True, trace_flags=flags)
    return trace.set_span_in_context(NonRecordingSpan(parent))


def from_headers(headers: Sequence[tuple[bytes, bytes]]) -> Context | None:
    """The remote context of an ASGI request's ``traceparent`` header, if any."""
    for name, value in headers:
        if name == b"traceparent":
            return remote(value.decode("latin-1"))
    return None


def current_ids() -> tuple[str, str] | None:
    """Hex trace and span ids of the current span, if it is sampled (log lines)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid or not ctx.trace_flags.sampled:
        return None
    return f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}"


# ------------------------------------------------------------------ spans


@contextlib.contextmanager
def span(
    scope: str,
    name: str,
    *,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
    root: bool = True,
) -> Iterator[Span | None]:
    """A current span for off-the-hot-path work (None when tracing is off).

    ``parent``: a ``traceparent`` from another process; else the current span's
    trace continues, or a new one begins (unless ``root`` is false: then work that
    came untraced, or unsampled, from another process gets no span either).
    """
    if not ENABLED or (parent is None and not root):
        yield None
        return
    started = tracer(scope).start_as_current_span(
        name, context=remote(parent), kind=kind, attributes=attributes
    )
    with started as current:
        yield current


class _Command(Protocol):
    """What a span needs of an internal Command (meeple.protocol.internal)."""

    @property
    def kind(self) -> str: ...
    @property
    def command_id(self) -> str: ...
    @property
    def game_id(self) -> str: ...
    @property
    def player_id(self) -> int: ...


def command_attributes(command: _Command) -> dict[str, AttributeValue]:
    """The attributes every span of a command carries, in whichever tier."""
    return {
        "meeple.command.kind": command.kind,
        "meeple.command.id": command.command_id,
        "meeple.game_id": command.game_id,
        "meeple.player_id": command.player_id,
    }


def outcome(span: Span, code: str | None) -> None:
    """Record a command's outcome (``ok`` or its error code); our failures are errors."""
    span.set_attribute("meeple.outcome", code or "ok")
    if code in FAULTS:
        span.set_status(Status(StatusCode.ERROR, code))
