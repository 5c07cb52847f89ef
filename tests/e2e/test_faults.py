"""Clocks and failures on a real ``meeple serve``: a flag, an abort, a SIGKILL mid-game.

A time control's minute lasts one second here (``MEEPLE_CLOCK_MINUTE_MS``), so
``1+0`` is a one-second game and ``10+0`` a ten-second one.
"""

from __future__ import annotations

import asyncio
import time

from meeple.client import Client
from meeple.protocol import messages as m
from tests.e2e.conftest import Platform, Player
from tests.e2e.helpers import eventually, queue_and_match, stored_events, subscribe, until_event
from tests.gateway.wsclient import WsClient

STAKE = 100
OUTAGE_S = 1.5
SERVER_ENV = {
    "MEEPLE_CLOCK_MINUTE_MS": "1000",
    "MEEPLE_TIME_CONTROLS": "1+0,10+0",
    "MEEPLE_FIRST_MOVE_TIMEOUT_S": "2",
}


async def _game(
    platform: Platform, time_control: str
) -> tuple[str, list[Player], dict[int, WsClient]]:
    people = [await platform.player(funds=1000), await platform.player(funds=1000)]
    clients = [await platform.welcome(p) for p in people]
    game_id, by_seat = await queue_and_match(clients, "chess", time_control, STAKE)
    for client in clients:
        await subscribe(client, game_id)
    seated = [people[clients.index(by_seat[s])] for s in (0, 1)]
    return game_id, seated, by_seat


async def _move(client: WsClient, game_id: str, move: str) -> int:
    ack = await client.call({"type": "move", "game_id": game_id, "move": move})
    assert ack["type"] == "ack", ack
    return int(ack["seq"])


async def _balances_become(platform: Platform, expected: dict[str, int]) -> None:
    players = {p.username: p for p in platform.players}

    async def settled() -> bool:
        for name, amount in expected.items():
            if await platform.balance(players[name]) != amount:
                return False
        return True

    await eventually(settled, f"balances {expected}")


async def test_a_flag_falls_with_nobody_asking(platform: Platform) -> None:
    game_id, (white, black), seats = await _game(platform, "1+0")
    await _move(seats[0], game_id, "e2e4")
    await _move(seats[1], game_id, "e7e5")
    # White's second second runs out; no client message is needed for the flag to fall.
    flag = await until_event(seats[1], game_id, "timeout", within=10)
    assert flag["seat"] == 0
    over = await until_event(seats[1], game_id, "game_over")
    assert over["data"]["placings"] == [2, 1]
    late = await seats[0].call({"type": "move", "game_id": game_id, "move": "d2d4"})
    assert late["code"] == "game_over"
    await _balances_become(platform, {white.username: 900, black.username: 1090})


async def test_no_first_move_aborts_and_refunds(platform: Platform) -> None:
    game_id, (white, black), seats = await _game(platform, "10+0")
    assert await platform.balance(white) == 1000 - STAKE  # escrowed
    aborted = await until_event(seats[1], game_id, "aborted", within=10)
    assert aborted["data"]["reason"] == "first_move_timeout"
    await _balances_become(platform, {white.username: 1000, black.username: 1000})


async def test_sigkill_mid_game_loses_nothing_and_charges_no_downtime(
    platform: Platform,
) -> None:
    server = platform.server
    game_id, (white, black), seats = await _game(platform, "10+0")
    await _move(seats[0], game_id, "f2f3")
    await _move(seats[1], game_id, "e7e5")
    assert await _move(seats[0], game_id, "g2g4") == 4
    before = await seats[1].wait_for(lambda f: f.get("type") == "event" and f["seq"] == 4)
    # A spectator on the Python SDK, which reconnects and resumes by itself.
    fan = await platform.player()
    sdk = await Client.connect(server.ws_url, fan.token)
    seen: list[m.ServerMessage] = []
    sdk.on_frame(seen.append)
    await sdk.subscribe(game_id)
    killed_ms = time.time() * 1000
    server.kill()
    await platform.close()
    await asyncio.sleep(OUTAGE_S)  # the platform stays down a while: not a synchronization

    restarted_ms = time.time() * 1000
    server.start()  # same data dir, same port
    ws_white = await platform.welcome(white)
    ws_black = await platform.welcome(black)
    assert game_id in ws_black.frames[0]["games"]
    for client in (ws_white, ws_black):
        assert (await subscribe(client, game_id, after_seq=4))["seq"] == 4
        assert client.events(game_id) == []  # nothing lost, nothing invented
    sent_ms = time.time() * 1000
    assert await _move(ws_black, game_id, "d8h4") == 6  # the move and game_over
    mate = await until_event(ws_white, game_id, "move")
    over = await until_event(ws_white, game_id, "game_over")

    # Black's clock ran from the reload (during the restart), not through the outage.
    charged = before["clocks"][1] - mate["clocks"][1]
    since_restart, since_kill = sent_ms - restarted_ms, sent_ms - killed_ms
    assert 0 <= charged <= since_restart + 300, (charged, since_restart)
    assert charged < since_kill - OUTAGE_S * 1000 + 300, (charged, since_kill)

    try:
        await sdk.wait_until(lambda: sdk.last_seq(game_id) == over["seq"], within=15)
        assert sdk.reconnects >= 1
        states = [f for f in seen if isinstance(f, m.State)]
        events = [f.seq for f in seen if isinstance(f, m.Event)]
        assert [s.seq for s in states] == [4]
        assert events == [5, 6]  # after the state, once each, across the crash
    finally:
        await sdk.close()

    stored = await stored_events(server.data_dir, game_id)
    assert [b["kind"] for _, b in stored] == ["start", "move", "move", "move", "move", "game_over"]
    assert [b["data"].get("move") for _, b in stored[1:5]] == ["f2f3", "e7e5", "g2g4", "d8h4"]
    assert over["data"]["placings"] == [2, 1]
    await _balances_become(platform, {white.username: 900, black.username: 1090})
    check = server.meeple("ledger", "check")
    assert check.returncode == 0, check.stdout + check.stderr
