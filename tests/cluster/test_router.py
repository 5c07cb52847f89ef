"""nginx in front of the cluster: routing by path, static files, health, limits, failover."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from meeple.client import Api, Client, ConnectionFailed
from tests.cluster.harness import PASSWORD, Cluster, Nginx
from tests.cluster.players import register
from tests.services import free_port

# A cluster of seven processes and nginx, started once for the package (~30 s).
pytestmark = pytest.mark.slow


def _read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def log_lines(
    path: Path, wanted: Callable[[list[str]], bool], within: float = 10
) -> list[str]:
    """The access log once ``wanted`` holds: nginx writes a request's line in its log
    phase, which may come after the client already has the response."""
    deadline = time.monotonic() + within
    while True:
        lines = _read_lines(path)
        if wanted(lines) or time.monotonic() > deadline:
            return lines
        await asyncio.sleep(0.05)  # polling a file nginx appends to; no event to wait on


async def test_nginx_accepts_the_rendered_template(cluster: Cluster) -> None:
    checked = cluster.nginx.check()
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


async def test_static_client_health_and_unrouted_paths(cluster: Cluster) -> None:
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        index = await http.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"].startswith("text/html")
        assert "<html" in index.text.lower()
        script = await http.get("/js/app.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        # Per-process endpoints are not routed: scraped on each process, not through here.
        assert (await http.get("/metrics")).status_code == 404
        assert (await http.get("/nope.html")).status_code == 404
        assert "server" not in index.headers or "nginx/" not in index.headers["server"]


async def test_api_through_nginx_with_request_id(cluster: Cluster) -> None:
    name = f"r{uuid.uuid4().hex[:10]}"
    async with Api(cluster.url) as api:
        tokens = await api.register_or_login(name, PASSWORD)
        wallet = await api.wallet(tokens.access_token)
    assert wallet["balance"] == 0
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        echoed = await http.get(
            "/api/v1/wallet",
            headers={"Authorization": f"Bearer {tokens.access_token}", "X-Request-ID": "trace-123"},
        )
        assert echoed.headers.get("x-request-id") == "trace-123"
        made = await http.get("/healthz")
        assert made.status_code == 200


async def test_request_body_over_the_limit_is_refused_by_nginx(cluster: Cluster) -> None:
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        big = await http.post(
            "/api/v1/auth/login",
            content=b'{"username": "' + b"x" * 100_000 + b'", "password": "p"}',
            headers={"content-type": "application/json"},
        )
    assert big.status_code == 413
    # Refused at the door: no upstream was asked (``$upstream_addr`` is "-").

    def is_refused(ln: str) -> bool:
        return '"POST /api/v1/auth/login' in ln and '" 413 ' in ln

    lines = await log_lines(cluster.nginx.access_log, lambda ls: any(map(is_refused, ls)))
    refused = [ln for ln in lines if is_refused(ln)]
    assert refused, lines[-5:]
    assert all(ln.split()[-3] == "-" for ln in refused), refused


async def test_a_killed_api_process_is_passed_over(running: Cluster) -> None:
    """SIGKILL one api process: every request (GET and a non-idempotent POST login)
    still succeeds through nginx, which marks the dead server down and retries
    requests that never reached it on the other one."""
    name = f"k{uuid.uuid4().hex[:10]}"
    async with Api(running.url) as api:
        await api.register_or_login(name, PASSWORD)
    running.apis[0].kill()
    async with Api(running.url) as api:
        for _ in range(6):
            tokens = await api.login(name, PASSWORD)
            assert (await api.wallet(tokens.access_token))["balance"] == 0
    # "$upstream_addr": the dead server tried first, then the live one, same request.
    dead, alive = (f"127.0.0.1:{a.port}" for a in running.apis)
    retried = f"{dead}, {alive} 502, 200"
    lines = await log_lines(running.nginx.access_log, lambda ls: any(retried in ln for ln in ls))
    log = "\n".join(lines)
    assert retried in log, log


async def test_connections_per_address_are_limited(cluster: Cluster) -> None:
    """A second nginx from the same template, allowing 3 requests in progress per
    address: 3 WebSockets stay open, a 4th handshake is refused with 429."""
    limited = Nginx(
        cluster.root / f"nginx-limited-{uuid.uuid4().hex[:6]}",
        {
            **cluster.nginx.values,
            "MEEPLE_NGINX_LISTEN": f"127.0.0.1:{free_port()}",
            "MEEPLE_NGINX_CONN_PER_ADDRESS": "3",
        },
    )
    limited.start()
    (account,) = await register(cluster, 1)
    url = f"ws://127.0.0.1:{limited.port}/ws"
    clients: list[Client] = []
    try:
        for _ in range(3):
            clients.append(await Client.connect(url, account.token, reconnect=False))
        with pytest.raises(ConnectionFailed, match="429"):
            await Client.connect(url, account.token, reconnect=False)
        await clients.pop().close()
        # A slot is free again once a connection ends.
        clients.append(await Client.connect(url, account.token, reconnect=False))
    finally:
        for client in clients:
            await client.close()
        limited.stop()
