"""The command line: `meeple serve` announces itself and stops cleanly; `meeple accounts`."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.api.conftest import (
    PASSWORD,
    ApiServer,
    assert_problem,
    login,
    meeple_accounts,
    register,
    start_server,
    unique_name,
)
from tests.services import wait_for


def test_serve_announces_where_it_listens_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    # A one-second access token: this server also shows expiry under a short TTL.
    env = {"MEEPLE_LOG_LEVEL": "INFO", "MEEPLE_ACCESS_TOKEN_TTL_S": "1"}
    server = start_server(tmp_path, env, command="serve")
    with server.client() as client:
        assert client.get("/readyz").status_code == 200
        account = register(client)
        wait_for(
            lambda: client.get("/api/v1/me", headers=account.auth).status_code == 401,
            "the access token to expire",
            timeout=10,
        )
        assert_problem(client.get("/api/v1/me", headers=account.auth), 401, "token_expired")
        renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert renewed.status_code == 200 and renewed.json()["expires_in"] == 1
        echoed = client.get("/healthz", headers={"x-request-id": "trace-me-42"})
        assert echoed.headers["x-request-id"] == "trace-me-42"
    assert server.stop(signal.SIGINT) == 0
    out = server.stdout.read_text()
    assert f"meeple serving on {server.base_url}" in out
    assert "Traceback" not in server.logs()
    lines = [json.loads(line) for line in server.logs().splitlines()]  # JSON lines only
    requests = [line for line in lines if line["logger"] == "meeple.api.access"]
    assert {"path": "/readyz", "status": 200} in [
        {"path": r["path"], "status": r["status"]} for r in requests
    ]


def test_accounts_create_operator_and_promote(api: ApiServer) -> None:
    boss_name, carol_name = unique_name("Boss"), unique_name("Carol")
    status, out, _ = meeple_accounts(
        api.data_dir, "create-operator", boss_name, stdin=PASSWORD + "\n"
    )
    assert status == 0 and f"created operator {boss_name}" in out
    weak = meeple_accounts(api.data_dir, "create-operator", unique_name(), stdin="weakweakweak\n")
    assert weak[0] == 1 and "weak_password" in weak[2]
    taken = meeple_accounts(
        api.data_dir, "create-operator", boss_name.lower(), stdin=PASSWORD + "\n"
    )
    assert taken[0] == 1 and "username_taken" in taken[2]
    missing = meeple_accounts(api.data_dir, "promote", unique_name())
    assert missing[0] == 1 and "player_not_found" in missing[2]

    with api.client() as client:
        boss = login(client, boss_name)
        assert client.get("/api/v1/me", headers=boss.auth).json()["role"] == "operator"
        carol = register(client, carol_name)
        assert client.get("/api/v1/me", headers=carol.auth).json()["role"] == "player"
        status, _, err = meeple_accounts(api.data_dir, "promote", carol_name.upper())
        assert status == 0, err
        # The store is the authority: the old token now carries the operator role.
        assert client.get("/api/v1/me", headers=carol.auth).json()["role"] == "operator"
        wallet = client.get(f"/api/v1/operator/players/{boss_name}/wallet", headers=carol.auth)
        assert wallet.status_code == 200
