"""Wallets and operator money movements: idempotency, insufficient funds, authorization."""

from __future__ import annotations

import uuid

import httpx

from tests.api.conftest import Account, ApiServer, assert_problem, register


def _move(
    client: httpx.Client,
    operator: Account,
    action: str,
    username: str,
    amount: int,
    key: str | None = None,
    memo: str | None = None,
) -> httpx.Response:
    headers = dict(operator.auth)
    if key is not None:
        headers["idempotency-key"] = key
    body: dict[str, object] = {"amount": amount}
    if memo is not None:
        body["memo"] = memo
    return client.post(f"/api/v1/operator/players/{username}/{action}", json=body, headers=headers)


def _balance(client: httpx.Client, player: Account) -> int:
    response = client.get("/api/v1/wallet", headers=player.auth)
    assert response.status_code == 200, response.text
    assert response.json()["currency"] == "USD"
    balance: int = response.json()["balance"]
    return balance


def test_new_wallet_is_empty(api: ApiServer) -> None:
    with api.client() as client:
        player = register(client)
        assert _balance(client, player) == 0
        statement = client.get("/api/v1/wallet/statement", headers=player.auth)
        assert statement.json() == {"items": [], "next_cursor": None}
        assert_problem(client.get("/api/v1/wallet"), 401, "not_authenticated")


def test_deposit_withdraw_adjust_and_statement(api: ApiServer, operator: Account) -> None:
    with api.client() as client:
        player = register(client)
        name = player.username
        deposited = _move(client, operator, "deposit", name.upper(), 10_000, "k-dep", "card")
        assert deposited.status_code == 201, deposited.text
        assert deposited.json()["balance"] == 10_000
        assert deposited.json()["amount"] == 10_000
        assert deposited.json()["kind"] == "deposit"
        withdrawn = _move(client, operator, "withdraw", name, 2_500, str(uuid.uuid4()))
        assert withdrawn.status_code == 201
        assert withdrawn.json()["amount"] == -2_500
        adjusted = _move(client, operator, "adjust", name, -500, str(uuid.uuid4()), "fee fix")
        assert adjusted.status_code == 201
        assert adjusted.json()["balance"] == 7_000
        assert _balance(client, player) == 7_000

        page1 = client.get("/api/v1/wallet/statement?limit=2", headers=player.auth).json()
        assert [line["amount"] for line in page1["items"]] == [-500, -2_500]
        assert page1["items"][0]["memo"] == "fee fix"
        page2 = client.get(
            f"/api/v1/wallet/statement?limit=2&cursor={page1['next_cursor']}",
            headers=player.auth,
        ).json()
        assert [line["amount"] for line in page2["items"]] == [10_000]
        assert page2["items"][0]["balance_after"] == 10_000
        assert page2["next_cursor"] is None
        bad = client.get("/api/v1/wallet/statement?cursor=abc", headers=player.auth)
        assert_problem(bad, 400, "invalid_cursor")

        seen = client.get(f"/api/v1/operator/players/{name}/wallet", headers=operator.auth)
        assert seen.json() == {"balance": 7_000, "currency": "USD"}


def test_same_key_same_request_returns_the_first_result(api: ApiServer, operator: Account) -> None:
    key = str(uuid.uuid4())
    with api.client() as client:
        player = register(client)
        first = _move(client, operator, "deposit", player.username, 1_234, key)
        again = _move(client, operator, "deposit", player.username, 1_234, key)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        assert _balance(client, player) == 1_234  # moved once

        different = _move(client, operator, "deposit", player.username, 999, key)
        assert_problem(different, 409, "idempotency_key_conflict")
        other_action = _move(client, operator, "withdraw", player.username, 1_234, key)
        assert_problem(other_action, 409, "idempotency_key_conflict")
        assert _balance(client, player) == 1_234


def test_insufficient_funds_is_409_and_is_kept_for_its_key(
    api: ApiServer, operator: Account
) -> None:
    key = str(uuid.uuid4())
    with api.client() as client:
        player = register(client)
        refused = _move(client, operator, "withdraw", player.username, 100, key)
        body = assert_problem(refused, 409, "insufficient_funds")
        assert body["available"] == 0 and body["needed"] == 100
        below_zero = _move(client, operator, "adjust", player.username, -1, str(uuid.uuid4()))
        assert_problem(below_zero, 409, "insufficient_funds")
        _move(client, operator, "deposit", player.username, 500, str(uuid.uuid4()))
        # The key's first outcome stands, even though the funds are there now.
        replay = _move(client, operator, "withdraw", player.username, 100, key)
        assert replay.status_code == 409 and replay.json() == refused.json()
        assert replay.headers["content-type"] == "application/problem+json"
        assert _balance(client, player) == 500


def test_money_requests_are_validated(api: ApiServer, operator: Account) -> None:
    with api.client() as client:
        player = register(client)
        name = player.username
        assert_problem(
            _move(client, operator, "deposit", name, 100), 400, "idempotency_key_required"
        )
        for action, amount in [("deposit", 0), ("deposit", -5), ("withdraw", 0)]:
            response = _move(client, operator, action, name, amount, str(uuid.uuid4()))
            assert_problem(response, 422, "validation_error")
        zero = _move(client, operator, "adjust", name, 0, str(uuid.uuid4()))
        assert_problem(zero, 422, "invalid_amount")
        floaty = client.post(
            f"/api/v1/operator/players/{name}/deposit",
            json={"amount": 1.5},
            headers={**operator.auth, "idempotency-key": str(uuid.uuid4())},
        )
        assert_problem(floaty, 422, "validation_error")
        nobody = _move(client, operator, "deposit", "nobody_xyz", 5, str(uuid.uuid4()))
        assert_problem(nobody, 404, "player_not_found")


def test_players_cannot_act_as_operators_or_read_other_wallets(
    api: ApiServer, operator: Account
) -> None:
    with api.client() as client:
        alice, mallory = register(client), register(client)
        _move(client, operator, "deposit", alice.username, 700, str(uuid.uuid4()))
        for action in ("deposit", "withdraw", "adjust"):
            response = _move(client, mallory, action, mallory.username, 100, str(uuid.uuid4()))
            assert_problem(response, 403, "forbidden")
        for path in ("wallet", "wallet/statement"):
            response = client.get(
                f"/api/v1/operator/players/{alice.username}/{path}", headers=mallory.auth
            )
            assert_problem(response, 403, "forbidden")
        # The wallet endpoints read only the bearer's own wallet: asking for another
        # player's is refused outright (unknown parameters), never answered.
        other = client.get(
            "/api/v1/wallet/statement",
            params={"username": alice.username, "player_id": 1},
            headers=mallory.auth,
        )
        assert_problem(other, 400, "unknown_parameter")
        own = client.get("/api/v1/wallet/statement", headers=mallory.auth)
        assert own.status_code == 200 and own.json()["items"] == []
        assert _balance(client, mallory) == 0
        assert _balance(client, alice) == 700
        unauthenticated = _move(client, Account("x", "x", "bad", "bad"), "deposit", "x", 1, "k")
        assert_problem(unauthenticated, 401, "invalid_token")
