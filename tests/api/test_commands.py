"""The command line: `meeple serve` announces itself and stops cleanly; `meeple accounts`."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.api.conftest import PASSWORD, assert_problem, login, meeple_accounts, start_server


def test_serve_announces_where_it_listens_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    server = start_server(tmp_path, {"MEEPLE_LOG_LEVEL": "INFO"}, command="serve")
    with server.client() as client:
        assert client.get("/readyz").status_code == 200
    assert server.stop(signal.SIGINT) == 0
    out = server.stdout.read_text()
    assert f"meeple serving on {server.base_url}" in out
    assert "Traceback" not in server.logs()
    lines = [json.loads(line) for line in server.logs().splitlines()]  # JSON lines only
    requests = [line for line in lines if line["logger"] == "meeple.api.access"]
    assert {"path": "/readyz", "status": 200} in [
        {"path": r["path"], "status": r["status"]} for r in requests
    ]


def test_accounts_create_operator_and_promote(tmp_path: Path) -> None:
    status, out, _ = meeple_accounts(tmp_path, "create-operator", "Boss", stdin=PASSWORD + "\n")
    assert status == 0 and "created operator Boss" in out
    status, _, err = meeple_accounts(tmp_path, "create-operator", "Boss2", stdin="weakweakweak\n")
    assert status == 1 and "weak_password" in err
    status, _, err = meeple_accounts(tmp_path, "create-operator", "boss", stdin=PASSWORD + "\n")
    assert status == 1 and "username_taken" in err
    status, _, err = meeple_accounts(tmp_path, "promote", "nobody")
    assert status == 1 and "player_not_found" in err

    server = start_server(tmp_path)
    try:
        with server.client() as client:
            boss = login(client, "boss")
            assert client.get("/api/v1/me", headers=boss.auth).json()["role"] == "operator"
            registered = client.post(
                "/api/v1/auth/register", json={"username": "carol", "password": PASSWORD}
            )
            assert registered.status_code == 201
            carol = login(client, "carol")
            assert client.get("/api/v1/me", headers=carol.auth).json()["role"] == "player"
            status, _, err = meeple_accounts(tmp_path, "promote", "Carol")
            assert status == 0, err
            # The store is the authority: the old token now carries the operator role.
            assert client.get("/api/v1/me", headers=carol.auth).json()["role"] == "operator"
            assert_problem(client.get("/api/v1/me"), 401, "not_authenticated")
    finally:
        assert server.stop() == 0
