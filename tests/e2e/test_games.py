"""Whole games on a real ``meeple serve``: scripted, with bots, with money."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from meeple.bots import BotAccounts, BotPlan, run_fleet
from meeple.client.http import Api
from tests.e2e.conftest import Platform
from tests.e2e.helpers import (
    eventually,
    queue_and_match,
    seqs,
    stored_events,
    subscribe,
    until_event,
)
from tests.gateway.wsclient import WsClient

STAKE = 100
# Bots move as fast as the round trip allows: let them (the limit is tested elsewhere).
SERVER_ENV = {"MEEPLE_WS_RATE_PER_S": "1000", "MEEPLE_WS_RATE_BURST": "100"}


async def test_a_scripted_chess_game_with_every_refusal(platform: Platform) -> None:
    alice, bob = await platform.player(funds=1000), await platform.player(funds=1000)
    watcher_player, outsider_player = await platform.player(), await platform.player()
    a, b = await platform.welcome(alice), await platform.welcome(bob)
    game_id, by_seat = await queue_and_match([a, b], "chess", "1+0", STAKE)
    white, black = by_seat[0], by_seat[1]
    watcher = await platform.welcome(watcher_player)
    outsider = await platform.welcome(outsider_player)
    states = {}
    for client in (white, black, watcher):
        ack = await subscribe(client, game_id)
        states[client] = await client.type("state")
        assert ack["seq"] == states[client]["seq"] == 1
        assert states[client]["status"] == "active"
    assert "f2f3" in states[white]["view"]["legal_moves"]
    assert states[white]["you"] == 0 and "you" not in states[watcher]

    async def refused(client: WsClient, code: str, move: str) -> None:
        reply = await client.call({"type": "move", "game_id": game_id, "move": move})
        assert reply["type"] == "error" and reply["code"] == code, reply

    await refused(outsider, "not_a_player", "e2e4")  # someone else's game
    await refused(watcher, "not_a_player", "e2e4")  # spectators only watch
    await refused(black, "not_your_turn", "e7e5")
    await refused(white, "illegal_move", "e2e5")
    resign = await watcher.call({"type": "resign", "game_id": game_id})
    assert resign["code"] == "not_a_player"

    # The same command id twice (in flight together, then again later): applied once.
    move = {"type": "move", "game_id": game_id, "move": "f2f3", "id": "w-1"}
    await white.send(move)
    await white.send(move)
    first, second = await white.reply("w-1"), await white.reply("w-1")
    assert first == second == {"type": "ack", "id": "w-1", "seq": 2}
    assert (await white.call(move)) == first

    # White drops; black moves meanwhile; white comes back and resumes from seq 2.
    await until_event(white, game_id, "move")
    await white.close()
    assert (await black.call({"type": "move", "game_id": game_id, "move": "e7e5"}))["seq"] == 3
    white = await platform.welcome(alice if by_seat[0] is a else bob)
    assert game_id in white.frames[0]["games"]
    ack = await subscribe(white, game_id, after_seq=2)
    assert ack["seq"] == 3
    assert seqs(white.events(game_id)) == [3]
    assert not [f for f in white.frames if f["type"] == "state"]

    assert (await white.call({"type": "move", "game_id": game_id, "move": "g2g4"}))["seq"] == 4
    mate = await black.call({"type": "move", "game_id": game_id, "move": "d8h4"})
    assert mate["seq"] >= 5
    over = await until_event(watcher, game_id, "game_over")
    assert over["data"]["placings"] == [2, 1]
    assert over["data"]["payouts"] == [0, 190]  # pot 200, 5% rake

    # Everyone saw every event once, in order, exactly as stored.
    stored = await stored_events(platform.server.data_dir, game_id)
    assert [s for s, _ in stored] == list(range(1, over["seq"] + 1))
    for client in (watcher, black):
        assert client.events(game_id) == [body for seq, body in stored if seq > 1]
    assert white.events(game_id) == [body for seq, body in stored if seq > 2]

    # Money: escrowed at the start, settled once at the end.
    winner, loser = (bob, alice) if by_seat[1] is b else (alice, bob)

    async def settled() -> bool:
        return await platform.balance(winner) == 1090

    await eventually(settled, "settlement")
    assert await platform.balance(loser) == 900


async def test_insufficient_funds_at_match_time(platform: Platform) -> None:
    poor, rich, third = (
        await platform.player(funds=STAKE),
        await platform.player(funds=1000),
        await platform.player(funds=1000),
    )
    p = await platform.welcome(poor)
    await p.call({"type": "queue.join", "game": "chess", "time_control": "3+2", "stake": STAKE})
    # The money leaves after the join check and before the match.
    token = await platform.operator_token()
    async with httpx.AsyncClient(base_url=platform.server.base_url) as http:
        taken = await http.post(
            f"/api/v1/operator/players/{poor.username}/withdraw",
            json={"amount": STAKE, "memo": "e2e"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "w-poor"},
        )
        assert taken.status_code == 201, taken.text
    r = await platform.welcome(rich)
    await r.call({"type": "queue.join", "game": "chess", "time_control": "3+2", "stake": STAKE})
    dropped = await p.wait_for(
        lambda f: f.get("type") == "queue.status" and f["state"] == "dropped", 10
    )
    assert "insufficient funds" in dropped["reason"]
    assert not [f for f in r.frames if f["type"] == "matched"]
    # The other player is still queued and gets the next opponent.
    t = await platform.welcome(third)
    game_id, _ = await queue_and_match([t], "chess", "3+2", STAKE)
    assert (await r.type("matched"))["game_id"] == game_id
    assert await platform.balance(poor) == 0
    assert await platform.balance(rich) == 1000 - STAKE


async def _bots(platform: Platform, tmp_path: Path, count: int, first: int, game: str) -> None:
    base = platform.server.base_url
    accounts = BotAccounts(tmp_path / "bots.json")
    matched: asyncio.Queue[str] = asyncio.Queue()

    def progress(line: str) -> None:
        if ": matched in " in line:
            matched.put_nowait(line.rsplit(" ", 1)[1])

    plan = BotPlan(game=game, time_control="3+2", stake=0, games=1, think_ms=0)
    fleet = asyncio.create_task(
        run_fleet(base, count, plan, accounts=accounts, first=first, seed=7, progress=progress)
    )
    game_id = await asyncio.wait_for(matched.get(), 30)
    async with Api(base) as api:
        tokens = await api.register_or_login(f"watch{first}", "correct horse battery 1")
    watcher = await platform.connect(tokens.access_token)
    await watcher.type("welcome")
    await subscribe(watcher, game_id)
    start = next(f["seq"] for f in watcher.frames if f["type"] == "state")
    over = await until_event(watcher, game_id, "game_over", within=60)
    stats = await asyncio.wait_for(fleet, 30)
    assert all(s.games == 1 for s in stats), stats
    # The spectator saw every event after its state, once, in order, as stored.
    stored = await stored_events(platform.server.data_dir, game_id)
    assert [s for s, _ in stored] == list(range(1, over["seq"] + 1))
    assert watcher.events(game_id) == [body for seq, body in stored if seq > start]


async def test_four_bots_play_fourchess_to_the_end(platform: Platform, tmp_path: Path) -> None:
    await _bots(platform, tmp_path, 4, 1, "fourchess")


async def test_two_bots_play_chess_to_the_end(platform: Platform, tmp_path: Path) -> None:
    await _bots(platform, tmp_path, 2, 11, "chess")
