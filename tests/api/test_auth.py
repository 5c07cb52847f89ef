"""Registration, login, tokens, refresh rotation, reuse detection, logout, throttling."""

from __future__ import annotations

import jwt

from meeple.auth.keys import key_id
from tests.api.conftest import (
    PASSWORD,
    ApiServer,
    assert_problem,
    login,
    register,
    unique_address,
    unique_name,
)


def test_register_then_login_then_me(api: ApiServer) -> None:
    name = unique_name("Alice")
    with api.client() as client:
        created = client.post(
            "/api/v1/auth/register",
            json={"username": name, "password": PASSWORD, "email": "alice@example.org"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["username"] == name
        assert created.json()["role"] == "player"
        assert "password" not in created.text and "hash" not in created.text

        # Usernames are case-insensitive for login.
        token = client.post(
            "/api/v1/auth/login", json={"username": name.upper(), "password": PASSWORD}
        )
        assert token.status_code == 200
        body = token.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 900
        me = client.get("/api/v1/me", headers={"authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert me.json() == {**created.json()}


def test_access_token_claims(api: ApiServer) -> None:
    with api.client() as client:
        account = register(client)
    key = (api.data_dir / "signing.key").read_text()
    assert (api.data_dir / "signing.key").stat().st_mode & 0o777 == 0o600
    claims = jwt.decode(account.access_token, key, algorithms=["HS256"])
    assert jwt.get_unverified_header(account.access_token)["kid"] == key_id(key)
    assert set(claims) >= {"sub", "role", "exp", "iat", "jti", "sid", "name"}
    assert claims["role"] == "player"
    assert claims["name"] == account.username
    assert claims["exp"] - claims["iat"] == 900


def test_duplicate_username_any_case_is_409(api: ApiServer) -> None:
    name = unique_name("Bob")
    with api.client() as client:
        register(client, name)
        again = client.post(
            "/api/v1/auth/register", json={"username": name.lower(), "password": PASSWORD}
        )
        assert_problem(again, 409, "username_taken")


def test_bad_usernames_and_passwords_are_422(api: ApiServer) -> None:
    name = unique_name()
    with api.client() as client:
        for username, password, code in [
            ("ab", PASSWORD, "validation_error"),  # too short
            ("x" * 33, PASSWORD, "validation_error"),  # too long
            ("bad name!", PASSWORD, "validation_error"),  # characters
            (name, "short1A", "validation_error"),  # < 10
            (name, "a" * 129, "validation_error"),  # > 128
            (name, "alllowercaseletters", "weak_password"),  # one class
            (name, "1111111111", "weak_password"),  # one class, one character
            (name.upper() + "x", name.upper() + "x", "weak_password"),  # equals the username
        ]:
            response = client.post(
                "/api/v1/auth/register", json={"username": username, "password": password}
            )
            body = assert_problem(response, 422, code)
            assert password not in response.text, "the password must never be echoed"
            if code == "validation_error":
                assert body["errors"]
        missing = client.post("/api/v1/auth/register", json={"username": name})
        assert_problem(missing, 422, "validation_error")
        not_json = client.post(
            "/api/v1/auth/register",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert_problem(not_json, 422, "validation_error")


def test_wrong_credentials_same_answer_whether_user_exists(api: ApiServer) -> None:
    address = unique_address()
    with api.client(address) as client:
        account = register(client)
        wrong_password = client.post(
            "/api/v1/auth/login", json={"username": account.username, "password": "Wrong-pass-1"}
        )
        no_user = client.post(
            "/api/v1/auth/login", json={"username": unique_name(), "password": "Wrong-pass-1"}
        )
    assert_problem(wrong_password, 401, "invalid_credentials")
    assert_problem(no_user, 401, "invalid_credentials")
    assert wrong_password.json() == no_user.json()


def test_me_requires_a_valid_token(api: ApiServer) -> None:
    with api.client() as client:
        assert_problem(client.get("/api/v1/me"), 401, "not_authenticated")
        bad = client.get("/api/v1/me", headers={"authorization": "Bearer not.a.jwt"})
        assert_problem(bad, 401, "invalid_token")
        assert bad.headers["www-authenticate"] == "Bearer"
        basic = client.get("/api/v1/me", headers={"authorization": "Basic dXNlcjpwYXNz"})
        assert_problem(basic, 401, "not_authenticated")
        forged = jwt.encode(
            {"sub": "1", "role": "operator", "iat": 0, "exp": 2**31, "jti": "x"},
            "a-key-that-is-not-the-servers-key-at-all",
            algorithm="HS256",
        )
        wrong_key = client.get("/api/v1/me", headers={"authorization": f"Bearer {forged}"})
        assert_problem(wrong_key, 401, "invalid_token")


def test_expired_token_is_401_token_expired(api: ApiServer) -> None:
    with api.client() as client:
        account = register(client)
        key = (api.data_dir / "signing.key").read_text()
        claims = jwt.decode(account.access_token, key, algorithms=["HS256"])
        expired = jwt.encode(
            {**claims, "iat": claims["iat"] - 1000, "exp": claims["iat"] - 100},
            key,
            algorithm="HS256",
        )
        response = client.get("/api/v1/me", headers={"authorization": f"Bearer {expired}"})
        assert_problem(response, 401, "token_expired")


def test_refresh_rotates_and_reuse_revokes_the_family(api: ApiServer) -> None:
    with api.client() as client:
        account = register(client)
        first = client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert first.status_code == 200, first.text
        pair = first.json()
        assert pair["refresh_token"] != account.refresh_token
        assert pair["access_token"] != account.access_token
        me = client.get("/api/v1/me", headers={"authorization": f"Bearer {pair['access_token']}"})
        assert me.status_code == 200

        second = client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert second.status_code == 200
        newest = second.json()

        # The first token was retired: presenting it again is theft or a bug.
        reused = client.post("/api/v1/auth/refresh", json={"refresh_token": account.refresh_token})
        assert_problem(reused, 401, "refresh_token_reused")
        # ...and the whole family is gone, including the newest token and its access token.
        after = client.post("/api/v1/auth/refresh", json={"refresh_token": newest["refresh_token"]})
        assert_problem(after, 401, "session_revoked")
        me = client.get("/api/v1/me", headers={"authorization": f"Bearer {newest['access_token']}"})
        assert_problem(me, 401, "session_revoked")

        # Other sessions of the same player are untouched.
        other = login(client, account.username)
        assert client.get("/api/v1/me", headers=other.auth).status_code == 200

        unknown = client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
        assert_problem(unknown, 401, "invalid_refresh_token")


def test_logout_with_refresh_token_or_access_token(api: ApiServer) -> None:
    with api.client() as client:
        account = register(client)
        out = client.post("/api/v1/auth/logout", json={"refresh_token": account.refresh_token})
        assert out.status_code == 204
        refreshed = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": account.refresh_token}
        )
        assert_problem(refreshed, 401, "session_revoked")
        assert_problem(client.get("/api/v1/me", headers=account.auth), 401, "session_revoked")

        second = login(client, account.username)
        out = client.post("/api/v1/auth/logout", headers=second.auth)
        assert out.status_code == 204
        refreshed = client.post(
            "/api/v1/auth/refresh", json={"refresh_token": second.refresh_token}
        )
        assert_problem(refreshed, 401, "session_revoked")
        assert_problem(client.post("/api/v1/auth/logout"), 401, "not_authenticated")
        unknown = client.post("/api/v1/auth/logout", json={"refresh_token": "made-up"})
        assert_problem(unknown, 401, "invalid_refresh_token")


def test_login_throttled_per_account(api: ApiServer) -> None:
    with api.client(unique_address()) as client:
        account = register(client)
        for _ in range(3):
            wrong = client.post(
                "/api/v1/auth/login",
                json={"username": account.username, "password": "Wrong-pass-1"},
            )
            assert_problem(wrong, 401, "invalid_credentials")
    # Throttled from any address, even with the right password.
    with api.client(unique_address()) as client:
        right = client.post(
            "/api/v1/auth/login", json={"username": account.username, "password": PASSWORD}
        )
        assert_problem(right, 429, "too_many_attempts")
        assert 1 <= int(right.headers["retry-after"]) <= 60
        # Another account is not affected.
        register(client)


def test_login_throttled_per_address(api: ApiServer) -> None:
    address = unique_address()
    with api.client(address) as client:
        honest = register(client)
        for _ in range(30):  # 10 x the per-account limit, spread over unknown accounts
            wrong = client.post(
                "/api/v1/auth/login", json={"username": unique_name(), "password": "Wrong-pass-1"}
            )
            assert_problem(wrong, 401, "invalid_credentials")
        blocked = client.post(
            "/api/v1/auth/login", json={"username": honest.username, "password": PASSWORD}
        )
        assert_problem(blocked, 429, "too_many_attempts")
        assert int(blocked.headers["retry-after"]) >= 1
    with api.client(unique_address()) as client:
        assert login(client, honest.username).access_token


def test_successful_login_clears_account_failures(api: ApiServer) -> None:
    with api.client(unique_address()) as client:
        account = register(client)
        for _round in range(2):
            for _ in range(2):
                client.post(
                    "/api/v1/auth/login",
                    json={"username": account.username, "password": "Wrong-pass-1"},
                )
            login(client, account.username)  # 2 failures < 3: allowed, and resets
