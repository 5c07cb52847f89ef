"""The OTLP exporter behind a guard: a collector that cannot be reached is logged
once per outage, and its spans dropped; nothing is ever raised into the SDK's
export thread (imported only when tracing is on)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from meeple.obs.outage import OutageLog

log = logging.getLogger("meeple.obs.tracing")

# The OTLP exporter logs every failed attempt itself (several per batch while it
# retries, every few seconds while the collector is down).
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)


class ReportedExporter(SpanExporter):
    """Exports through ``inner``; a failure is logged once per outage, never raised.

    The inner exporter's own lines are held back; the first of the failed attempt
    names the cause in the outage's single WARNING ("... trace collector unreachable: ..."), and one
    INFO says when spans go through again.
    """

    def __init__(self, inner: SpanExporter, where: str) -> None:
        self.inner = inner
        self._outage = OutageLog(log, "trace collector", where)
        self._cause: str | None = None
        self._closed = False
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).addFilter(self._hold)

    @property
    def down(self) -> bool:
        """The last export failed."""
        return self._outage.down

    def _hold(self, record: logging.LogRecord) -> bool:
        if self._cause is None:  # the first line of an attempt names the cause
            self._cause = record.getMessage()
        return False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._cause = None
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # an exporter bug must not stop the export thread either
            self._outage.failed(exc)
            return SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self._outage.succeeded()
        else:
            cause = self._cause or "export failed"
            self._outage.failed(RuntimeError(f"{len(spans)} spans dropped: {cause}"))
        return result

    def abort(self) -> None:
        """Stop a retry in progress now (the collector is down and the process exits)."""
        self._close()

    def shutdown(self) -> None:
        self._close()
        for name in _EXPORTER_LOGGERS:
            logging.getLogger(name).removeFilter(self._hold)

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
