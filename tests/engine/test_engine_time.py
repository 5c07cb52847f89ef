"""Time through the engine: flags and aborts fire with no message from anyone."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from meeple.store.database import Store
from meeple.store.schema import games
from tests.engine.harness import Harness, fast_settings, next_events, wait_until


async def test_a_flag_falls_with_no_message(harness: Harness) -> None:
    white, black = await harness.players(2, deposit=500)
    game_id = await harness.game([white, black], base_ms=400, stake=50)
    assert (await harness.send(game_id, white, "move", "e2e4")).ok
    assert (await harness.send(game_id, black, "move", "e7e5")).ok
    watcher = await harness.watch(game_id)
    assert (await harness.send(game_id, white, "move", "d2d4")).ok  # black's clock runs now
    moved, flagged, over = await next_events(watcher, 3, within=5)
    assert flagged.kind == "timeout" and flagged.seat == 1 and flagged.clocks[1] == 0
    assert flagged.ts_ms - moved.ts_ms >= 400
    assert over.kind == "game_over" and over.data["placings"] == [1, 2]

    async def paid() -> bool:
        return await harness.ledger.balance(white) == 500 + 45  # pot 100, 5% rake

    await wait_until(paid, "settlement")
    assert await harness.ledger.check() == []


async def test_first_move_timeout_aborts_and_refunds(sqlite_store: Store, tmp_path: Path) -> None:
    harness = Harness(sqlite_store, fast_settings(tmp_path, first_move_timeout_s=0.3))
    await harness.start()
    try:
        white, black = await harness.players(2, deposit=300)
        game_id = await harness.game([white, black], stake=200)
        assert await harness.ledger.balance(white) == 100

        async def refunded() -> bool:
            balances = [await harness.ledger.balance(p) for p in (white, black)]
            return balances == [300, 300]

        await wait_until(refunded, "refund")
        kinds = [e.kind for e in await harness.events(game_id)]
        assert kinds == ["start", "aborted"]
        async with harness.store.connect() as conn:
            status = await conn.scalar(select(games.c.status).where(games.c.id == game_id))
        assert status == "aborted"
        assert await harness.ledger.check() == []
        late = await harness.send(game_id, white, "move", "e2e4")
        assert late.code == "game_over"
    finally:
        await harness.close()


async def test_disconnected_player_forfeits_after_grace(
    sqlite_store: Store, tmp_path: Path
) -> None:
    harness = Harness(sqlite_store, fast_settings(tmp_path, disconnect_grace_s=0.3))
    await harness.start()
    try:
        white, black = await harness.players(2)
        game_id = await harness.game([white, black])
        assert (await harness.send(game_id, white, "move", "e2e4")).ok
        await harness.send(game_id, black, "presence", "offline")
        watcher = await harness.watch(game_id)
        forfeit, over = await next_events(watcher, 2, within=5)
        assert forfeit.kind == "forfeit" and forfeit.seat == 1
        assert over.data["placings"] == [1, 2] and over.data["reason"] == "forfeit"
    finally:
        await harness.close()
