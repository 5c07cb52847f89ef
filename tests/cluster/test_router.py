"""nginx in front of the cluster: routing by path, static files, health, limits, failover."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
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


def _self_signed(where: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 (P-256, one day) and its key."""
    cert, key = where / "cert.pem", where / "key.pem"
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    argv += ["-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1"]
    argv += ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"]
    made = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return cert, key


async def test_tls_serves_https_and_wss_and_redirects_plain_http(cluster: Cluster) -> None:
    """A third nginx from the template with a certificate: the API over HTTPS with HSTS,
    a game connection over wss:// (HTTP/2 offered, /ws upgraded over HTTP/1.1), plain
    HTTP redirected to HTTPS with its method kept, and /healthz still plain."""
    prefix = cluster.root / f"nginx-tls-{uuid.uuid4().hex[:6]}"
    prefix.mkdir()
    cert, key = _self_signed(prefix)
    plain_port, tls_port = free_port(), free_port()
    secure = Nginx(
        prefix,
        {
            **cluster.nginx.values,
            "MEEPLE_NGINX_LISTEN": f"127.0.0.1:{plain_port}",
            "MEEPLE_NGINX_TLS_LISTEN": f"127.0.0.1:{tls_port}",
            "MEEPLE_NGINX_TLS_CERT": str(cert),
            "MEEPLE_NGINX_TLS_KEY": str(key),
            "MEEPLE_NGINX_TLS_REDIRECT": f"https://$host:{tls_port}",
        },
    )
    checked = secure.check()
    assert checked.returncode == 0, checked.stderr
    secure.start()  # waits for plain /healthz: 200, not redirected
    trust = ssl.create_default_context(cafile=str(cert))
    (account,) = await register(cluster, 1)
    origin = f"https://localhost:{tls_port}"
    try:
        async with httpx.AsyncClient(verify=trust) as https:
            me = await https.get(
                f"{origin}/api/v1/me", headers={"Authorization": f"Bearer {account.token}"}
            )
            assert me.status_code == 200, me.text
            assert me.json()["id"] == account.player_id
            assert me.headers["strict-transport-security"] == "max-age=63072000"

        async with httpx.AsyncClient() as http:
            plain = f"http://localhost:{plain_port}"
            moved = await http.get(f"{plain}/api/v1/games?status=active")
            assert moved.status_code == 308
            assert moved.headers["location"] == f"{origin}/api/v1/games?status=active"
            assert "strict-transport-security" not in moved.headers
            posted = await http.post(f"{plain}/api/v1/auth/login", json={})
            assert posted.status_code == 308  # not 301: the client re-sends the POST
            health = await http.get(f"{plain}/healthz")
            assert health.status_code == 200 and health.json() == {"status": "ok"}

        offer = ssl.create_default_context(cafile=str(cert))
        offer.set_alpn_protocols(["h2", "http/1.1"])
        _, writer = await asyncio.open_connection(
            "127.0.0.1", tls_port, ssl=offer, server_hostname="localhost"
        )
        try:
            assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
            assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        finally:
            writer.close()
            await writer.wait_closed()

        client = await Client.connect(
            f"wss://localhost:{tls_port}/ws",
            account.token,
            reconnect=False,
            connect_kwargs={"ssl": trust},
        )
        try:
            assert client.player_id == account.player_id
            pong = await client.ping()
            assert pong.server_time_ms > 0
        finally:
            await client.close()
    finally:
        secure.stop()
