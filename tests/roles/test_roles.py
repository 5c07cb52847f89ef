"""``meeple api``, ``meeple gateway`` and ``meeple engine`` as separate processes on
real PostgreSQL and Redis: a game played across two gateways and two engines, an
engine handing its games over on SIGTERM, a client resuming on the other gateway;
traces that cross the processes (to a test OTLP collector) and the api's metrics.

(The heavy fault tests, behind nginx, are in tests/cluster.)
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from meeple.client.http import Api
from meeple.protocol.internal import shard_lease, shard_of
from tests.gateway.wsclient import WsClient
from tests.obs.collector import Collector, Received
from tests.services import RedisServer, free_port

MEEPLE = [sys.executable, "-m", "meeple.cli"]
PASSWORD = "correct horse battery 1"
REDIS_DB = 9  # the roles use unprefixed keys: their own Redis database, flushed first

ENV = {
    "MEEPLE_LOG_LEVEL": "WARNING",
    "MEEPLE_SIGNING_KEY": "roles-test-signing-key-0123456789abcdef",
    "MEEPLE_PASSWORD_HASH_TIME_COST": "1",
    "MEEPLE_PASSWORD_HASH_MEMORY_KIB": "8192",
    "MEEPLE_API_RATE_LIMIT_PER_S": "0",
    "MEEPLE_MATCH_TICK_MS": "50",
    "MEEPLE_LEASE_TTL_MS": "2000",
    "MEEPLE_TIME_CONTROLS": "3+2",
    "MEEPLE_DRAIN_TIMEOUT_S": "2",
}


class Role:
    """One ``meeple <role>`` process on a free port."""

    def __init__(self, role: str, root: Path, env: dict[str, str]) -> None:
        self.role = role
        self.port = free_port()
        self.log = root / f"{role}-{self.port}.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [*MEEPLE, role, "--port", str(self.port)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def announced(self) -> str:
        """The one line the role prints when it serves."""
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        assert f"127.0.0.1:{self.port}" in line, f"{self.role}: {line!r}\n{self.tail()}"
        return line

    def ready(self) -> dict[str, object]:
        response = httpx.get(f"{self.url}/readyz", timeout=2)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])


@pytest.fixture
def env(pg_url: str, redis: RedisServer, tmp_path: Path) -> Iterator[dict[str, str]]:
    redis.start()
    url = redis.url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    Redis.from_url(url).flushdb()
    yield {
        **os.environ,
        **ENV,
        "MEEPLE_DATABASE_URL": pg_url,
        "MEEPLE_REDIS_URL": url,
        "MEEPLE_DATA_DIR": str(tmp_path),
    }


async def test_a_game_across_gateways_and_engines(env: dict[str, str], tmp_path: Path) -> None:
    api = Role("api", tmp_path, env)
    assert "meeple api listening" in api.announced()
    # One at a time: each migrates the store under a lock, the first one does it.
    engines = [Role("engine", tmp_path, env)]
    engines.append(Role("engine", tmp_path, env))
    gateways = [Role("gateway", tmp_path, env), Role("gateway", tmp_path, env)]
    roles = [api, *engines, *gateways]
    try:
        for role in [*engines, *gateways]:
            line = role.announced()
            assert f"meeple {role.role}" in line and "redis" in line
        await _until(lambda: sorted(e.ready()["shards"] for e in engines) == [32, 32], "split")
        # A gateway sees the engines at its next housekeeping tick (1 s).
        await _until(lambda: all(g.ready()["games_available"] for g in gateways), "engines")

        names = [f"r{uuid.uuid4().hex[:10]}" for _ in range(2)]
        async with Api(api.url) as client:
            tokens = [await client.register_or_login(n, PASSWORD) for n in names]
        ws = [
            await WsClient.open(f"ws://127.0.0.1:{g.port}/ws", t.access_token)
            for g, t in zip(gateways, tokens, strict=True)
        ]
        for c in ws:
            assert (await c.type("welcome")).get("games_available", True) is True
            join = {"type": "queue.join", "game": "chess", "time_control": "3+2", "stake": 0}
            assert (await c.call(join))["type"] == "ack"
        matched = [await c.type("matched", within=10) for c in ws]
        game_id = matched[0]["game_id"]
        by_seat = {f["seat"]: c for f, c in zip(matched, ws, strict=True)}
        for c in ws:
            assert (await c.call({"type": "subscribe", "game_id": game_id}))["type"] == "ack"
        white, black = by_seat[0], by_seat[1]
        await _move(white, game_id, "e2e4", seq=2)
        await _move(black, game_id, "e7e5", seq=3)

        # SIGTERM to the engine that owns the game: it hands over, the other goes on.
        holder = Redis.from_url(env["MEEPLE_REDIS_URL"]).get(shard_lease(shard_of(game_id)))
        assert holder is not None
        owner, other = sorted(engines, key=lambda e: e.ready()["engine"] != holder.decode())
        stopped = time.monotonic()
        assert owner.stop() == 0, owner.tail()
        await _move(white, game_id, "g1f3", seq=4)
        handover_s = time.monotonic() - stopped
        assert other.ready()["shards"] == 64

        # White's gateway goes (drained: Notice, 1012); white resumes on the other one.
        assert gateways[0].stop() == 0, gateways[0].tail()
        seen = max(e["seq"] for e in white.events(game_id))
        await _move(black, game_id, "b8c6", seq=5)
        again = await WsClient.open(f"ws://127.0.0.1:{gateways[1].port}/ws", tokens[0].access_token)
        ws.append(again)
        welcome = await again.type("welcome")
        assert welcome["games"] == [game_id]
        sub = {"type": "subscribe", "game_id": game_id, "after_seq": seen}
        assert (await again.call(sub))["type"] == "ack"
        resumed = await again.wait_for(lambda f: f.get("type") == "event", what="resumed")
        assert resumed["seq"] == seen + 1 == 5
        assert (await again.call({"type": "resign", "game_id": game_id}))["type"] == "ack"
        over = await black.wait_for(
            lambda f: f.get("type") == "event" and f.get("kind") == "game_over", what="game over"
        )
        assert over["data"]["placings"] == [2, 1]
        assert handover_s < 3.0, handover_s  # SIGTERM, exit, takeover, reload, move
        for c in ws:
            await c.close()
        for role in roles[1:]:
            assert role.stop() == 0, role.tail()
        assert api.stop() == 0
    finally:
        for role in roles:
            if role.proc.poll() is None:
                role.stop(signal.SIGKILL)


async def _move(client: WsClient, game_id: str, move: str, *, seq: int) -> None:
    """A move, retried with the same id while its shard is between two engines (a
    gateway that looks at that moment answers ``games_unavailable``)."""
    message = {"type": "move", "game_id": game_id, "move": move, "id": client.next_id()}
    deadline = time.monotonic() + 10
    while True:
        ack = await client.call(message, within=10)
        if ack.get("code") != "games_unavailable" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert ack["type"] == "ack" and ack["seq"] == seq, ack


async def _until(check: object, what: str, within: float = 20) -> None:
    assert callable(check)
    deadline = time.monotonic() + within
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, AssertionError):
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_moves_trace_crosses_the_processes_and_the_api_counts_by_route(
    env: dict[str, str], tmp_path: Path
) -> None:
    collector = Collector()
    traced = {
        **env,
        "MEEPLE_OTEL_ENDPOINT": collector.url,
        "MEEPLE_OTEL_SAMPLE_RATIO": "1",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # the SDK's batch interval (5 s by default)
    }
    api = Role("api", tmp_path, traced)
    api.announced()
    engine = Role("engine", tmp_path, traced)
    engine.announced()
    gateway = Role("gateway", tmp_path, traced)
    gateway.announced()
    roles = [api, engine, gateway]
    try:
        await _until(lambda: engine.ready()["shards"] == 64, "the engine's shards")
        await _until(lambda: gateway.ready()["games_available"], "the engine, seen by the gateway")
        names = [f"o{uuid.uuid4().hex[:10]}" for _ in range(2)]
        async with Api(api.url) as client:
            tokens = [await client.register_or_login(n, PASSWORD) for n in names]
        trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        async with httpx.AsyncClient(base_url=api.url) as http:
            found = await http.get(
                f"/api/v1/players/{names[0]}",
                headers={"traceparent": f"00-{trace_id}-{parent_id}-01"},
            )
            assert found.status_code == 200
            assert (await http.get("/api/v1/no/such/thing")).status_code == 404
        ws = [
            await WsClient.open(f"ws://127.0.0.1:{gateway.port}/ws", t.access_token) for t in tokens
        ]
        try:
            for c in ws:
                await c.type("welcome")
                join = {"type": "queue.join", "game": "chess", "time_control": "3+2", "stake": 0}
                assert (await c.call(join))["type"] == "ack"
            matched = [await c.type("matched", within=10) for c in ws]
            game_id = matched[0]["game_id"]
            white = next(c for f, c in zip(matched, ws, strict=True) if f["seat"] == 0)
            await _move(white, game_id, "e2e4", seq=2)
        finally:
            for c in ws:
                await c.close()

        def move_traced(spans: list[Received]) -> bool:
            gw = [s for s in spans if s.name == "gateway move"]
            return bool(gw) and any(
                s.name == "store commit" and s.trace_id == gw[0].trace_id for s in spans
            )

        spans = await collector.wait_for(move_traced, "gateway -> engine -> commit trace")
        sent = next(s for s in spans if s.name == "gateway move")
        in_trace = {s.name: s for s in spans if s.trace_id == sent.trace_id}
        assert sent.service == "meeple-gateway"
        assert sent.resource["service.instance.id"] == gateway.ready()["gateway"]
        assert sent.attributes["meeple.game_id"] == game_id
        assert sent.attributes["meeple.outcome"] == "ok"
        handled = in_trace["engine move"]
        assert handled.service == "meeple-engine"  # another process, reached over Redis
        assert handled.resource["service.instance.id"] == engine.ready()["engine"]
        assert handled.parent_id == sent.span_id
        commit = in_trace["store commit"]
        assert commit.service == "meeple-engine" and commit.parent_id == handled.span_id
        assert commit.attributes["db.system.name"] == "postgresql"

        continued = await collector.wait_for(
            lambda s: any(x.trace_id == trace_id for x in s), "the api request's span"
        )
        request = next(s for s in continued if s.trace_id == trace_id)
        assert request.service == "meeple-api"
        assert request.name == "GET /api/v1/players/{username}"
        assert request.parent_id == parent_id

        # The api's /metrics: by route template and status class, never the raw path.
        async with httpx.AsyncClient(base_url=api.url) as http:
            text = (await http.get("/metrics")).text
        route = 'method="GET",route="/api/v1/players/{username}",status="2xx"'
        assert f"meeple_api_requests_total{{{route}}} 1.0" in text
        assert f'meeple_api_request_duration_seconds_bucket{{le="+Inf",{route}}} 1.0' in text
        assert 'meeple_api_requests_total{method="GET",route="unmatched",status="4xx"} 1.0' in text
        assert 'route="/api/v1/auth/register",status="2xx"' in text
        assert names[0] not in text and "no/such" not in text
        for role in roles:
            assert role.stop() == 0, role.tail()
    finally:
        for role in roles:
            if role.proc.poll() is None:
                role.stop(signal.SIGKILL)
        collector.stop()
