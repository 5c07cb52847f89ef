"""A signing-key rotation on real ``meeple api`` processes sharing one store: old key
only; new key with the old one as previous (the overlap); new key only."""

from __future__ import annotations

from pathlib import Path

import jwt

from meeple.auth.keys import key_id
from meeple.auth.tokens import ALGORITHM, TokenSigner
from tests.api.conftest import ApiServer, register, start_server
from tests.auth.forge import legacy_token

OLD = "api-rotation-test-old-signing-key-0123456789abcdef"
NEW = "api-rotation-test-new-signing-key-0123456789abcdef"
STRANGER = "api-rotation-test-key-nobody-configured-0123456789"


def me(server: ApiServer, token: str) -> tuple[int, dict[str, object]]:
    with server.client() as client:
        response = client.get("/api/v1/me", headers={"authorization": f"Bearer {token}"})
    return response.status_code, response.json()


def serve(data_dir: Path, current: str, previous: str = "") -> ApiServer:
    env = {"MEEPLE_SIGNING_KEY": current, "MEEPLE_API_RATE_LIMIT_PER_S": "0"}
    return start_server(data_dir, env | {"MEEPLE_SIGNING_KEYS_PREVIOUS": previous})


def test_rotation_keeps_players_logged_in_through_the_overlap(tmp_path: Path) -> None:
    before = serve(tmp_path, OLD)
    try:
        with before.client() as client:
            account = register(client)
    finally:
        assert before.stop() == 0, before.logs()
    old_access = account.access_token
    claims = jwt.decode(old_access, OLD, algorithms=[ALGORITHM])
    player_id, family = int(claims["sub"]), str(claims["sid"])
    assert jwt.get_unverified_header(old_access)["kid"] == key_id(OLD)
    legacy_old = legacy_token(OLD, player_id, family)
    unknown, _ = TokenSigner(STRANGER, 900).issue(player_id, "p", "player", family)

    overlap = serve(tmp_path, NEW, f"{OLD}")
    try:
        # Tokens of the old key still work, with or without a kid...
        for token in (old_access, legacy_old):
            status, body = me(overlap, token)
            assert (status, body["username"]) == (200, account.username)
        # ...a refresh token from before the rotation too (it is a stored session)...
        with overlap.client() as client:
            refreshed = client.post(
                "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
            )
            assert refreshed.status_code == 200, refreshed.text
            new_access = refreshed.json()["access_token"]
            new_refresh = refreshed.json()["refresh_token"]
            # ...and nothing is signed with the old key any more.
            relogin = client.post(
                "/api/v1/auth/login",
                json={"username": account.username, "password": account.password},
            ).json()["access_token"]
        for token in (new_access, relogin):
            assert jwt.get_unverified_header(token)["kid"] == key_id(NEW)
            assert jwt.decode(token, NEW, algorithms=[ALGORITHM])["sub"] == str(player_id)
            assert me(overlap, token)[0] == 200
        status, body = me(overlap, unknown)
        assert (status, body["code"]) == (401, "invalid_token")
        assert key_id(STRANGER) in str(body["detail"])
    finally:
        assert overlap.stop() == 0, overlap.logs()

    after = serve(tmp_path, NEW)
    try:
        for token in (old_access, legacy_old, unknown):
            status, body = me(after, token)
            assert (status, body["code"]) == (401, "invalid_token"), body
        assert me(after, relogin)[0] == 200
        assert me(after, legacy_token(NEW, player_id, family))[0] == 200
        # A client refused for its old access token refreshes and carries on.
        with after.client() as client:
            refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": new_refresh})
        assert refreshed.status_code == 200, refreshed.text
        assert me(after, refreshed.json()["access_token"])[0] == 200
    finally:
        assert after.stop() == 0, after.logs()
