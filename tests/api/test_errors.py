"""Every error is an RFC 9457 problem: 404, 405, 413, 422, 500, 429 from the rate limit."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from meeple.api.app import create_app
from meeple.settings import Settings
from meeple.store.database import Store
from tests.api.conftest import ApiServer, assert_problem, register, unique_name


def test_unknown_path_and_method(api: ApiServer) -> None:
    with api.client() as client:
        assert_problem(client.get("/api/v1/nothing-here"), 404, "not_found")
        assert_problem(client.get("/api/v1/players/nobody_at_all"), 404, "player_not_found")
        assert_problem(client.get("/api/v1/games/nogame"), 404, "game_not_found")
        wrong_method = client.delete("/api/v1/me")
        assert_problem(wrong_method, 405, "method_not_allowed")
        assert "GET" in wrong_method.headers["allow"]


def test_body_over_64_kib_is_413(api: ApiServer) -> None:
    big = b'{"username": "' + b"a" * (64 * 1024) + b'", "password": "x"}'
    with api.client() as client:
        declared = client.post(
            "/api/v1/auth/register", content=big, headers={"content-type": "application/json"}
        )
        assert_problem(declared, 413, "body_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    with api.client() as client:
        streamed = client.post(
            "/api/v1/auth/register",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
        assert_problem(streamed, 413, "body_too_large")
    with api.client() as client:  # the server is unharmed
        assert client.get("/healthz").json() == {"status": "ok"}


def test_health_and_readiness(api: ApiServer) -> None:
    with api.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ok"}
        assert client.get("/api/docs").status_code == 200
        document = client.get("/api/openapi.json").json()
    assert "/api/v1/auth/login" in document["paths"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_request_rate_limit(sqlite_url: str, tmp_path: Path) -> None:
    """In process (a server of its own for this would cost seconds of startup)."""
    store = await Store.open(sqlite_url, migrate=False)
    settings = Settings(data_dir=tmp_path, api_rate_limit_per_s=0.5, api_rate_limit_burst=5)
    app = create_app(settings, store)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 1234))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                statuses = [
                    (await client.get("/api/v1/players/nobody_here")).status_code for _ in range(5)
                ]
                assert statuses == [404] * 5
                limited = await client.get("/api/v1/players/nobody_here")
                assert_problem(limited, 429, "rate_limited")
                assert int(limited.headers["retry-after"]) >= 1
                assert (await client.get("/healthz")).status_code == 200  # probes: never
            other = httpx.ASGITransport(app=app, client=("10.9.9.10", 1234))
            async with httpx.AsyncClient(transport=other, base_url="http://t") as client:
                assert (await client.get("/api/v1/players/nobody_here")).status_code == 404
    finally:
        await store.close()


async def test_unexpected_error_is_a_500_problem_without_internals(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(sqlite_url, migrate=False)
    app = create_app(Settings(data_dir=tmp_path), store)

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                with caplog.at_level(logging.ERROR, logger="meeple.api.middleware"):
                    response = await client.get("/api/v1/boom")
    finally:
        await store.close()
    assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text and "RuntimeError" not in response.text
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)


def test_an_unknown_query_parameter_is_refused_with_its_name(api: ApiServer) -> None:
    with api.client() as client:
        player = register(client, unique_name("typo"))
        fine = client.get("/api/v1/wallet/statement?limit=5", headers=player.auth)
        assert fine.status_code == 200
        typo = client.get("/api/v1/wallet/statement?limt=5", headers=player.auth)
        assert typo.status_code == 400
        assert typo.headers["content-type"].startswith("application/problem+json")
        body = typo.json()
        assert body["code"] == "unknown_parameter" and "'limt'" in body["detail"]
        assert "limit" in body["detail"]  # what it expected
        none = client.get("/api/v1/wallet?x=1", headers=player.auth)
        assert none.status_code == 400 and none.json()["code"] == "unknown_parameter"
