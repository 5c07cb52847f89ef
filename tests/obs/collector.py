"""A small OTLP/HTTP trace collector for tests: it accepts ``POST /v1/traces`` with an
``ExportTraceServiceRequest`` (protobuf, as the OTLP exporter sends it), decodes it
with ``opentelemetry-proto`` and keeps every span with its resource's attributes."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


@dataclass(frozen=True)
class Received:
    """One span as the collector got it (ids in hex)."""

    service: str
    resource: dict[str, object]
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, object]


def _value(value: AnyValue) -> object:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind is not None else None


def _attributes(items: list[KeyValue]) -> dict[str, object]:
    return {item.key: _value(item.value) for item in items}


class Collector:
    """Listens on ``127.0.0.1:port`` (0: any free port) until :meth:`stop`."""

    def __init__(self, port: int = 0) -> None:
        self.spans: list[Received] = []
        self.requests = 0
        self._lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                collector._receive(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _receive(self, request: ExportTraceServiceRequest) -> None:
        got = []
        for resource_spans in request.resource_spans:
            resource = _attributes(list(resource_spans.resource.attributes))
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    got.append(
                        Received(
                            service=str(resource.get("service.name")),
                            resource=resource,
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            attributes=_attributes(list(span.attributes)),
                        )
                    )
        with self._lock:
            self.spans.extend(got)
            self.requests += 1

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.spans)

    async def wait_for(
        self, want: Callable[[list[Received]], bool], what: str, within: float = 20
    ) -> list[Received]:
        """The spans received once ``want`` holds of them (polled: they come by HTTP)."""
        deadline = time.monotonic() + within
        while True:
            spans = self.received()
            if want(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({(s.service, s.name) for s in spans})
                raise TimeoutError(f"no {what} among {names}")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
