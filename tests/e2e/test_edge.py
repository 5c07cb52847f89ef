"""The WebSocket edge of a real ``meeple serve``: auth, bad frames, limits, metrics, drain."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import jwt

from meeple.auth.keys import key_id
from meeple.client.http import Api
from tests.e2e.conftest import Platform, make_server

TOKEN_TTL_S = 3
SERVER_ENV = {"MEEPLE_ACCESS_TOKEN_TTL_S": str(TOKEN_TTL_S)}


async def test_tokens_are_checked_at_connect(platform: Platform) -> None:
    player = await platform.player()
    client = await platform.connect(player.token)
    assert (await client.type("welcome"))["player_id"] == player.player_id

    # The same token, once its short life is over: refused, and the socket closed.
    deadline = time.monotonic() + 3 * TOKEN_TTL_S
    while True:
        late = await platform.connect(player.token)
        first = await late.wait_for(lambda f: f["type"] in ("welcome", "error"))
        if first["type"] == "error":
            break
        await late.close()
        assert time.monotonic() < deadline, "the token never expired"
        await asyncio.sleep(0.2)  # poll the expiry (a clock, not another task)
    assert first["code"] == "token_expired"
    assert await late.wait_closed() == 4401
    # A connection outlives its token.
    await client.send({"type": "ping", "id": "still"})
    assert (await client.type("pong"))["id"] == "still"

    forged = jwt.encode({"sub": str(player.player_id)}, "not-the-key-" * 4, algorithm="HS256")
    for token in (forged, None):
        refused = await platform.connect(token)
        assert (await refused.type("error"))["code"] == "unauthorized"
        assert await refused.wait_closed() == 4401


OLD_KEY = "e2e-rotation-old-signing-key-0123456789abcdef"
NEW_KEY = "e2e-rotation-new-signing-key-0123456789abcdef"


async def test_a_signing_key_rotation_logs_nobody_out(data_root: Path) -> None:
    """`meeple serve` restarted through a rotation: OLD; NEW with OLD previous; NEW."""
    server = make_server(data_root, MEEPLE_SIGNING_KEY=OLD_KEY)
    platform = Platform(server)

    def restart(current: str, previous: str = "") -> None:
        server.stop()
        server.env |= {"MEEPLE_SIGNING_KEY": current, "MEEPLE_SIGNING_KEYS_PREVIOUS": previous}
        server.start()

    async def admitted(token: str) -> bool:
        client = await platform.connect(token)
        first = await client.wait_for(lambda f: f["type"] in ("welcome", "error"))
        if first["type"] == "error":
            assert first["code"] == "unauthorized" and await client.wait_closed() == 4401
        return first["type"] == "welcome"

    try:
        server.start()
        player = await platform.player()
        old = player.token
        assert jwt.get_unverified_header(old)["kid"] == key_id(OLD_KEY)

        restart(NEW_KEY, OLD_KEY)
        assert await admitted(old)
        async with Api(server.base_url) as api:
            fresh = await api.refresh(player.tokens.refresh_token)  # a stored session
            assert (await api.wallet(old))["balance"] == 0  # the api accepts OLD too
        assert jwt.get_unverified_header(fresh.access_token)["kid"] == key_id(NEW_KEY)
        assert await admitted(fresh.access_token)

        restart(NEW_KEY)
        assert not await admitted(old)
        assert await admitted(fresh.access_token)
    finally:
        await platform.close()
        server.stop()


async def test_bad_frames_get_their_codes(platform: Platform) -> None:
    player = await platform.player()
    client = await platform.welcome(player)
    for frame, code in [
        ("{oops", "bad_frame"),
        ('{"type": "fly", "id": "x1"}', "unknown_type"),
        ('{"type": "move", "id": "x2", "game_id": "g"}', "bad_message"),
    ]:
        await client.send(frame)
        assert (await client.type("error"))["code"] == code
    await client.send({"type": "ping", "id": "alive"})
    assert (await client.type("pong"))["id"] == "alive"


async def test_an_oversized_frame_is_refused_and_closes(platform: Platform) -> None:
    player = await platform.player()
    client = await platform.welcome(player)
    await client.send('{"type": "ping", "id": "' + "x" * 20_000 + '"}')
    assert (await client.type("error"))["code"] == "frame_too_large"
    assert await client.wait_closed() == 1009


async def test_flooding_is_limited_then_closed(platform: Platform) -> None:
    player = await platform.player()
    client = await platform.welcome(player)
    for n in range(200):
        await client.send({"type": "ping", "id": f"f{n}"})
    limited = await client.type("error")
    assert limited["code"] == "rate_limited" and limited["retry_after_ms"] > 0
    assert await client.wait_closed() == 1008
    pongs = [f for f in client.frames if f["type"] == "pong"]
    assert 20 <= len(pongs) < 40  # the burst (20) and what the rate (10/s) refilled meanwhile
    refusals = [f for f in client.frames if f.get("code") == "rate_limited"]
    assert len(refusals) == len(client.frames) - 1 - len(pongs) <= 50  # each answered
    assert {f["id"] for f in refusals} <= {f"f{n}" for n in range(200)}
    # Others are unaffected.
    other = await platform.welcome(await platform.player())
    await other.send({"type": "ping", "id": "ok"})
    await other.type("pong")


async def test_metrics_are_served(platform: Platform) -> None:
    player = await platform.player()
    await platform.welcome(player)
    async with httpx.AsyncClient(base_url=platform.server.base_url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert "meeple_connections" in response.text
    assert "meeple_owned_shards 64.0" in response.text


async def test_sigterm_drains_clients_and_exits_cleanly(data_root: Path) -> None:
    server = make_server(data_root)
    server.start()
    platform = Platform(server)
    try:
        client = await platform.welcome(await platform.player())
        server.signal(signal.SIGTERM)
        notice = await client.type("notice")
        assert notice["code"] == "draining"
        assert await client.wait_closed() == 1012
        assert server.wait() == 0
    finally:
        await platform.close()
        server.stop()
