"""Tracing's set-up and edges: off without an endpoint, a collector that is down
(logged once, never raised, and the end of the outage said once), traceparents
from outside, and the internal Command's ``trace`` field across versions."""

from __future__ import annotations

import logging

import msgspec
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from meeple.obs import tracing
from meeple.obs._export import ReportedExporter
from meeple.protocol.internal import Command, decode_command, encode_internal
from meeple.settings import Settings
from tests.obs.collector import Collector
from tests.services import free_port


def test_without_an_endpoint_nothing_is_installed() -> None:
    assert tracing.configure(Settings(otel_endpoint=None), "engine") is False
    assert tracing.ENABLED is False
    with tracing.span("meeple.test", "nothing") as span:
        assert span is None
    assert tracing.current_ids() is None


def test_the_traces_url_of_a_collector() -> None:
    assert tracing.traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("https://t.example/otlp/v1/traces") == (
        "https://t.example/otlp/v1/traces"
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        "00-" + "0" * 32 + "-" + "1" * 16 + "-01",  # an all-zero trace id is invalid
        "00-" + "a" * 32 + "-" + "0" * 16 + "-01",  # so is an all-zero span id
        "01-" + "a" * 32 + "-" + "b" * 16 + "-01",  # an unknown version
        "00-" + "a" * 31 + "-" + "b" * 16 + "-01",
    ],
)
def test_a_malformed_traceparent_is_ignored(value: str | None) -> None:
    assert tracing.remote(value) is None


def test_a_traceparent_keeps_its_callers_sampling_decision() -> None:
    exporter = InMemorySpanExporter()
    tracing.install(exporter, service_name="meeple-test", sample_ratio=0.0, batch=False)
    try:
        sampled = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
        with tracing.span("meeple.test", "continued", parent=sampled) as span:
            assert span is not None and span.is_recording()
            ids = tracing.current_ids()
            assert ids is not None and ids[0] == "a" * 32
        with tracing.span("meeple.test", "new") as span:  # ratio 0: a new trace is dropped
            assert span is not None and not span.is_recording()
            assert tracing.current_ids() is None  # nothing to correlate a log line with
            assert tracing.traceparent(span) is None  # and nothing to carry
        with tracing.span("meeple.test", "orphan", root=False) as span:
            assert span is None
    finally:
        tracing.shutdown()
    assert [s.name for s in exporter.get_finished_spans()] == ["continued"]


def _finished_spans() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    with provider.get_tracer("t").start_as_current_span("one"):
        pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def test_a_collector_that_is_down_is_logged_once_and_never_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there yet
    endpoint = f"http://127.0.0.1:{port}/v1/traces"
    exporter = ReportedExporter(OTLPSpanExporter(endpoint=endpoint, timeout=0.5), "meeple-test")
    spans = _finished_spans()
    caplog.set_level(logging.INFO)
    try:
        for _ in range(3):
            assert exporter.export(spans) is SpanExportResult.FAILURE
        assert exporter.down
        down = [r for r in caplog.records if "trace collector unreachable" in r.getMessage()]
        assert len(down) == 1, [r.getMessage() for r in caplog.records]
        assert down[0].levelno == logging.WARNING and "meeple-test" in down[0].getMessage()
        # The OTLP exporter's own lines (one or more per attempt) were held back.
        assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]

        collector = Collector(port)
        try:
            assert exporter.export(spans) is SpanExportResult.SUCCESS
            assert [s.name for s in collector.received()] == ["one"]
        finally:
            collector.stop()
        again = [r for r in caplog.records if "trace collector reachable again" in r.getMessage()]
        assert len(again) == 1 and not exporter.down
    finally:
        exporter.shutdown()


class _CommandBefore(msgspec.Struct, frozen=True, array_like=True):
    """The internal Command as a peer without tracing knows it."""

    game_id: str
    player_id: int
    command_id: str
    kind: str
    arg: str | None
    reply_to: str
    sent_ms: int


def test_the_trace_field_is_read_by_an_older_peer_and_defaults_from_one() -> None:
    traced = Command(
        "g", 7, "c1", "move", "e2e4", "gw-1", 123, "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    )
    older = msgspec.msgpack.decode(encode_internal(traced), type=_CommandBefore)
    assert older == _CommandBefore("g", 7, "c1", "move", "e2e4", "gw-1", 123)
    from_older = decode_command(msgspec.msgpack.encode(older))
    assert from_older.trace is None and from_older.command_id == "c1"
