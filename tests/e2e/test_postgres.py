"""``meeple serve`` on PostgreSQL (``MEEPLE_DATABASE_URL``): a staked game end to end."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Platform, make_server
from tests.e2e.helpers import eventually, queue_and_match, subscribe, until_event


async def test_a_staked_game_on_postgresql(data_root: Path, pg_url: str) -> None:
    server = make_server(data_root, MEEPLE_DATABASE_URL=pg_url)
    server.start()
    platform = Platform(server)
    try:
        alice, bob = await platform.player(funds=500), await platform.player(funds=500)
        a, b = await platform.welcome(alice), await platform.welcome(bob)
        game_id, seats = await queue_and_match([a, b], "chess", "3+2", 100)
        for client in (a, b):
            await subscribe(client, game_id)
        for seat, move in [(0, "f2f3"), (1, "e7e5"), (0, "g2g4"), (1, "d8h4")]:
            ack = await seats[seat].call({"type": "move", "game_id": game_id, "move": move})
            assert ack["type"] == "ack", ack
        over = await until_event(a, game_id, "game_over")
        assert over["data"]["payouts"] == [0, 190]
        black = alice if seats[1] is a else bob

        async def paid() -> bool:
            return await platform.balance(black) == 590

        await eventually(paid, "settlement")
        assert not (server.data_dir / "meeple.sqlite3").exists()  # it really used PostgreSQL
        check = server.meeple("ledger", "check")
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        await platform.close()
        server.stop()
