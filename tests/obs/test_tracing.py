"""Traces in one process: ``meeple serve``'s app (every tier, the lean WebSocket
transport, SQLite) under uvicorn in this process, with the SDK's in-memory exporter.

A move sent over a real WebSocket becomes one trace: the gateway's span, the
engine's (its child, through the traceparent carried in the internal Command),
and the engine's decide and commit phases. An api request that brings a W3C
``traceparent`` continues its caller's trace, and its access log line names it.
"""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from meeple.app import create_serve_app
from meeple.client.http import Api
from meeple.gateway.server import uvicorn_options
from meeple.ledger import Ledger
from meeple.obs import tracing
from meeple.obs.logging import JsonFormatter
from meeple.settings import Settings
from meeple.store.database import Store
from tests.e2e.helpers import queue_and_match, subscribe
from tests.gateway.wsclient import WsClient
from tests.services import free_port, serve_in_task

PASSWORD = "correct horse battery 1"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on in this process, every span kept in memory as it ends."""
    exporter = InMemorySpanExporter()
    tracing.install(exporter, service_name="meeple-serve", instance_id="test", batch=False)
    try:
        yield exporter
    finally:
        tracing.shutdown()
    assert not tracing.ENABLED


@dataclass
class Serve:
    url: str
    store: Store

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    async def player(self, funds: int = 0) -> tuple[int, str]:
        """A registered player's id and access token (and a deposit of ``funds``)."""
        name = f"t{uuid.uuid4().hex[:10]}"
        async with Api(self.url) as api:
            tokens = await api.register_or_login(name, PASSWORD)
        async with httpx.AsyncClient(base_url=self.url) as http:
            me = await http.get("/api/v1/me", headers=_bearer(tokens.access_token))
        player_id = int(me.json()["id"])
        if funds:
            await Ledger(self.store, "USD").deposit(player_id, funds, key=uuid.uuid4().hex)
        return player_id, tokens.access_token


@pytest.fixture
async def serve(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Serve]:
    """The one-process platform on a free port, in this process."""
    settings = Settings(
        data_dir=tmp_path,
        signing_key="tracing-test-signing-key-0123456789abcdef",
        password_hash_time_cost=1,
        password_hash_memory_kib=8192,
        api_rate_limit_per_s=0,
        match_tick_ms=50,
    )
    store = await Store.open(sqlite_url, migrate=False)
    app = create_serve_app(settings, store=store)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="on",
        log_level="warning",
        **uvicorn_options(lambda: app.state.runtime.gateway),
    )
    stop = await serve_in_task(config)
    try:
        yield Serve(f"http://127.0.0.1:{port}", store)
    finally:
        await stop()
        await store.close()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def until_spans(
    exporter: InMemorySpanExporter, want: Callable[[list[ReadableSpan]], bool], what: str
) -> list[ReadableSpan]:
    """The finished spans once ``want`` holds of them (spans end after the reply is sent)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        finished = list(exporter.get_finished_spans())
        if want(finished):
            return finished
        assert asyncio.get_running_loop().time() < deadline, f"no {what} in {_names(finished)}"
        await asyncio.sleep(0.02)


def _names(spans: list[ReadableSpan]) -> list[str]:
    return [s.name for s in spans]


def _one(spans: list[ReadableSpan], name: str, **attributes: object) -> ReadableSpan:
    found = [
        s
        for s in spans
        if s.name == name and all((s.attributes or {}).get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, f"{name} {attributes}: {len(found)} of {_names(spans)}"
    return found[0]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_move_is_one_trace_from_the_gateway_through_the_engine_to_the_commit(
    spans: InMemorySpanExporter, serve: Serve
) -> None:
    (_, token_a), (_, token_b) = await serve.player(funds=500), await serve.player(funds=500)
    a, b = await WsClient.open(serve.ws_url, token_a), await WsClient.open(serve.ws_url, token_b)
    try:
        for client in (a, b):
            await client.type("welcome")
        game_id, by_seat = await queue_and_match([a, b], "chess", "3+2", 100)
        await subscribe(by_seat[0], game_id)
        reply = await by_seat[0].call(
            {"type": "move", "game_id": game_id, "move": "e2e4", "id": "m1"}
        )
        assert reply["type"] == "ack", reply
        # A refused command is traced as well, with its code as the outcome.
        bad = {"type": "move", "game_id": game_id, "move": "e2e4", "id": "m2"}
        assert (await by_seat[0].call(bad))["code"] == "not_your_turn"
    finally:
        await a.close()
        await b.close()

    finished = await until_spans(
        spans,
        lambda s: (
            {"gateway move", "engine move"} <= set(_names(s))
            and sum(n == "engine move" for n in _names(s)) == 2
        ),
        "spans of both moves",
    )
    gateway = _one(finished, "gateway move", **{"meeple.command.id": "m1"})
    assert gateway.kind is SpanKind.SERVER
    assert gateway.parent is None  # a client command begins its trace at the gateway
    assert gateway.attributes is not None
    assert gateway.attributes["meeple.outcome"] == "ok"
    assert gateway.attributes["meeple.seq"] == reply["seq"]
    trace_id = gateway.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]

    engine = _one(in_trace, "engine move")
    assert engine.kind is SpanKind.CONSUMER
    assert _parent_id(engine) == gateway.context.span_id
    assert engine.parent is not None and engine.parent.is_remote  # crossed the bus
    assert engine.attributes is not None
    assert engine.attributes["meeple.game_id"] == game_id
    assert engine.attributes["meeple.outcome"] == "ok"
    decide = _one(in_trace, "engine decide")
    commit = _one(in_trace, "store commit")
    assert _parent_id(decide) == _parent_id(commit) == engine.context.span_id
    assert commit.attributes is not None
    assert commit.attributes["db.system.name"] == "sqlite"
    assert commit.attributes["meeple.commit.events"] >= 1  # type: ignore[operator]
    assert commit.start_time is not None and decide.end_time is not None
    assert engine.start_time <= decide.start_time <= decide.end_time <= commit.start_time  # type: ignore[operator]
    assert commit.end_time <= engine.end_time <= gateway.end_time  # type: ignore[operator]
    assert {s.resource.attributes["service.name"] for s in in_trace} == {"meeple-serve"}

    refused = _one(finished, "gateway move", **{"meeple.command.id": "m2"})
    assert refused.attributes is not None
    assert refused.attributes["meeple.outcome"] == "not_your_turn"
    assert refused.status.status_code is not StatusCode.ERROR  # a player's mistake
    refused_engine = _one(finished, "engine move", **{"meeple.outcome": "not_your_turn"})
    assert refused_engine.context.trace_id == refused.context.trace_id
    assert not [
        s
        for s in finished
        if s.context.trace_id == refused.context.trace_id and s.name == "store commit"
    ]  # it wrote nothing

    # The match: the matchmaker's span, the stakes' escrow and the engine's start, one trace.
    match = _one(finished, "matchmaking match", **{"meeple.game_id": game_id})
    in_match = [s for s in finished if s.context.trace_id == match.context.trace_id]
    escrow = _one(in_match, "ledger escrow")
    assert _parent_id(escrow) == match.context.span_id
    start = _one(in_match, "engine start")
    assert _parent_id(start) == match.context.span_id
    # The players' queue.join commands reached the matchmaker in their gateway traces.
    joins = [s for s in finished if s.name == "matchmaker queue.join"]
    gateway_joins = {s.context.span_id for s in finished if s.name == "gateway queue.join"}
    assert len(joins) == 2 and {_parent_id(s) for s in joins} == gateway_joins


async def test_an_api_request_continues_the_callers_trace_and_logs_its_ids(
    spans: InMemorySpanExporter, serve: Serve
) -> None:
    _, token = await serve.player()
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("meeple.api.access")
    access.addHandler(handler)
    old_level = access.level
    access.setLevel(logging.INFO)
    try:
        async with httpx.AsyncClient(base_url=serve.url) as http:
            me = await http.get(
                "/api/v1/me",
                headers={**_bearer(token), "traceparent": f"00-{trace_id}-{parent_id}-01"},
            )
            missing = await http.get("/api/v1/players/nobody-at-all")
            assert (await http.get("/healthz")).status_code == 200  # probes are not traced
    finally:
        access.removeHandler(handler)
        access.setLevel(old_level)
    assert me.status_code == 200 and missing.status_code == 404

    finished = await until_spans(
        spans, lambda s: "GET /api/v1/me" in _names(s), "the api request's span"
    )
    continued = [s for s in finished if s.context.trace_id == int(trace_id, 16)]
    span = _one(continued, "GET /api/v1/me")
    assert span.kind is SpanKind.SERVER
    assert span.context.trace_id == int(trace_id, 16)
    assert _parent_id(span) == int(parent_id, 16)
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/v1/me"
    assert span.attributes["http.response.status_code"] == 200
    logged = [orjson.loads(line) for line in lines.getvalue().splitlines()]
    mine = [line for line in logged if line["path"] == "/api/v1/me"]
    assert mine and mine[0]["trace_id"] == trace_id
    assert mine[0]["span_id"] == f"{span.context.span_id:016x}"

    # Without a traceparent a request begins a trace of its own; the route is the template.
    other = _one(finished, "GET /api/v1/players/{username}")
    assert other.parent is None and other.context.trace_id != int(trace_id, 16)
    assert not [s for s in finished if (s.attributes or {}).get("url.path") == "/healthz"]
