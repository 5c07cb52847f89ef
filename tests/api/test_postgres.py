"""The core flows against PostgreSQL: a real `meeple api` with MEEPLE_DATABASE_URL set."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.api.conftest import (
    PASSWORD,
    ApiServer,
    assert_problem,
    login,
    make_operator,
    register,
    start_server,
    unique_address,
)
from tests.services import PostgresServer


@pytest.fixture
def pg_api(pg_url: str, tmp_path: Path) -> Iterator[ApiServer]:
    """A server on a fresh PostgreSQL database, 3 failed logins per account per minute."""
    server = start_server(
        tmp_path,
        {
            "MEEPLE_DATABASE_URL": pg_url,
            "MEEPLE_LOGIN_MAX_FAILURES": "3",
            "MEEPLE_API_RATE_LIMIT_PER_S": "0",
        },
    )
    try:
        yield server
    finally:
        assert server.stop() == 0, server.logs()


def test_core_flows_on_postgres(pg_api: ApiServer, postgres: PostgresServer) -> None:
    make_operator(pg_api, "pg_operator")
    with pg_api.client(unique_address()) as client:
        boss = login(client, "pg_operator")
        alice = register(client, "Alice")
        duplicate = client.post(
            "/api/v1/auth/register", json={"username": "ALICE", "password": PASSWORD}
        )
        assert_problem(duplicate, 409, "username_taken")

        # Refresh rotation and reuse detection.
        rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
        assert rotated.status_code == 200
        reused = client.post("/api/v1/auth/refresh", json={"refresh_token": alice.refresh_token})
        assert_problem(reused, 401, "refresh_token_reused")
        fresh = rotated.json()["refresh_token"]
        after = client.post("/api/v1/auth/refresh", json={"refresh_token": fresh})
        assert_problem(after, 401, "session_revoked")

        # Throttling through the PostgreSQL upsert.
        for _ in range(3):
            wrong = client.post(
                "/api/v1/auth/login", json={"username": "alice", "password": "Wrong-pass-1"}
            )
            assert_problem(wrong, 401, "invalid_credentials")
        throttled = client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}
        )
        assert_problem(throttled, 429, "too_many_attempts")

        bob = register(client, "bob")
        headers = {**boss.auth, "idempotency-key": str(uuid.uuid4())}
        url = "/api/v1/operator/players/bob/deposit"

        # Eight concurrent retries of one deposit: one transfer, one answer.
        def deposit() -> tuple[int, dict[str, object]]:
            with pg_api.client() as own:
                response = own.post(url, json={"amount": 5_000}, headers=headers)
                return response.status_code, response.json()

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: deposit(), range(8)))
        assert {status for status, _ in answers} == {201}
        assert len({str(body) for _, body in answers}) == 1
        assert client.get("/api/v1/wallet", headers=bob.auth).json()["balance"] == 5_000

        too_much = client.post(
            "/api/v1/operator/players/bob/withdraw",
            json={"amount": 5_001},
            headers={**boss.auth, "idempotency-key": str(uuid.uuid4())},
        )
        assert_problem(too_much, 409, "insufficient_funds")
        statement = client.get("/api/v1/wallet/statement", headers=bob.auth).json()
        assert [line["amount"] for line in statement["items"]] == [5_000]
        assert_problem(
            client.get("/api/v1/operator/players/bob/wallet", headers=bob.auth), 403, "forbidden"
        )

        # Readiness follows the store; liveness does not.
        postgres.stop()
        try:
            down = client.get("/readyz")
            assert_problem(down, 503, "store_unavailable")
            assert client.get("/healthz").status_code == 200
        finally:
            postgres.start()
        assert client.get("/readyz").status_code == 200
        assert client.get("/api/v1/me", headers=bob.auth).status_code == 200
