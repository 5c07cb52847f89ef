"""Escrow, settlement and refund of a game's stakes (exactly once each)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from meeple.ledger import (
    AlreadySettled,
    Entry,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    Ledger,
    NotEscrowed,
)
from meeple.store.database import Store
from meeple.store.games import Games
from meeple.store.schema import games as games_table
from tests.ledger.conftest import MakePlayers

PAYOUT = [70, 30, 0, 0]


async def funded(
    ledger: Ledger, make_players: MakePlayers, n: int = 4, amount: int = 1_000
) -> list[int]:
    ids = await make_players(n)
    for p in ids:
        await ledger.deposit(p, amount, key=f"fund-{p}")
    return ids


def stakes(ids: list[int], amount: int = 100) -> list[tuple[int, int, int]]:
    return [(seat, p, amount) for seat, p in enumerate(ids)]


async def balances(ledger: Ledger, ids: list[int]) -> list[int]:
    return [await ledger.balance(p) for p in ids]


async def test_escrow_moves_every_stake_atomically(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    ids = await funded(ledger, make_players)
    transfer = await ledger.escrow("g1", stakes(ids))
    assert transfer.kind == "escrow" and transfer.key == "escrow:g1" and transfer.game_id == "g1"
    assert transfer.entries[-1] == Entry("escrow:g1", 400, 400)
    assert [(e.seat, e.amount) for e in transfer.entries[:-1]] == [
        (0, -100),
        (1, -100),
        (2, -100),
        (3, -100),
    ]
    assert await balances(ledger, ids) == [900] * 4
    assert await ledger.escrow("g1", stakes(ids)) == transfer  # retry
    with pytest.raises(IdempotencyConflict):
        await ledger.escrow("g1", stakes(ids, 50))
    assert await ledger.check() == []


async def test_escrow_names_the_short_seat_and_moves_nothing(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    ids = await funded(ledger, make_players, 3)
    (poor,) = await make_players(1)
    await ledger.deposit(poor, 60, key="poor")
    with pytest.raises(InsufficientFunds) as caught:
        await ledger.escrow("g1", [*stakes(ids), (3, poor, 100)])
    assert (caught.value.player_id, caught.value.seat) == (poor, 3)
    assert (caught.value.needed, caught.value.available) == (100, 60)
    assert await balances(ledger, [*ids, poor]) == [1000, 1000, 1000, 60]
    assert await ledger.transfer("escrow:g1") is None
    assert await ledger.check() == []


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ([], InvalidRequest),
        ([(0, "p0", 100), (0, "p1", 100)], InvalidRequest),  # seat twice
        ([(0, "p0", 100), (1, "p0", 100)], InvalidRequest),  # player twice
        ([(0, "p0", 0), (1, "p1", 100)], InvalidAmount),
        ([(0, "p0", -1), (1, "p1", 100)], InvalidAmount),
    ],
)
async def test_escrow_rejects_malformed_stakes(
    ledger: Ledger,
    make_players: MakePlayers,
    bad: list[tuple[int, str, int]],
    error: type[Exception],
) -> None:
    ids = await funded(ledger, make_players, 2)
    named = {"p0": ids[0], "p1": ids[1]}
    with pytest.raises(error):
        await ledger.escrow("g1", [(s, named[p], a) for s, p, a in bad])
    assert await balances(ledger, ids) == [1000, 1000]


async def test_settle_pays_by_placing_with_rake(ledger: Ledger, make_players: MakePlayers) -> None:
    ids = await funded(ledger, make_players)
    await ledger.escrow("g1", stakes(ids))
    transfer = await ledger.settle("g1", [2, 1, 3, 4], payout_percent=PAYOUT, rake_bps=500)
    assert transfer.kind == "settlement" and transfer.key == "settle:g1"
    assert await balances(ledger, ids) == [900 + 114, 900 + 266, 900, 900]
    legs = {e.account_id: e for e in transfer.entries}
    assert legs["escrow:g1"] == Entry("escrow:g1", -400, 0)
    assert legs["house"].amount == 20
    assert legs[f"player:{ids[0]}"].seat == 0
    assert await ledger.check() == []
    # Exactly once: a retry returns it, another result conflicts, a refund is refused.
    assert await ledger.settle("g1", [2, 1, 3, 4], payout_percent=PAYOUT, rake_bps=500) == transfer
    with pytest.raises(IdempotencyConflict):
        await ledger.settle("g1", [1, 2, 3, 4], payout_percent=PAYOUT, rake_bps=500)
    with pytest.raises(AlreadySettled) as caught:
        await ledger.refund("g1")
    assert caught.value.code == "already_settled"
    assert await balances(ledger, ids) == [1014, 1166, 900, 900]


async def test_settle_ties_and_remainders(ledger: Ledger, make_players: MakePlayers) -> None:
    ids = await funded(ledger, make_players, 3)
    await ledger.escrow("g1", stakes(ids, 101))  # pot 303
    await ledger.settle("g1", [1, 1, 3], payout_percent=[70, 30, 0], rake_bps=500)
    # rake 15 (floor 15.15); net 288 shared by two tied first: 144 each; house 15.
    assert await balances(ledger, ids) == [899 + 144, 899 + 144, 899]
    house = (await ledger.transfer("settle:g1")).entries[-1]  # type: ignore[union-attr]
    assert house == Entry("house", 15, 15)
    assert await ledger.check() == []


async def test_settle_validates_placings(ledger: Ledger, make_players: MakePlayers) -> None:
    ids = await funded(ledger, make_players)
    await ledger.escrow("g1", stakes(ids))
    for placings in ([1, 2, 3], [1, 2, 2, 3], [1, 2, 3, 4, 5]):
        with pytest.raises(InvalidRequest):
            await ledger.settle("g1", placings, payout_percent=PAYOUT, rake_bps=500)
    with pytest.raises(InvalidRequest):
        await ledger.settle("g1", [1, 2, 3, 4], payout_percent=[70, 20], rake_bps=500)
    assert await ledger.transfer("settle:g1") is None
    assert await balances(ledger, ids) == [900] * 4


async def test_refund_returns_every_stake_once(ledger: Ledger, make_players: MakePlayers) -> None:
    ids = await funded(ledger, make_players)
    await ledger.escrow("g1", [(0, ids[0], 100), (1, ids[1], 250), (2, ids[2], 1)])
    transfer = await ledger.refund("g1")
    assert transfer.kind == "refund"
    assert await balances(ledger, ids) == [1000] * 4
    assert await ledger.refund("g1") == transfer
    with pytest.raises(AlreadySettled):
        await ledger.settle("g1", [1, 2, 3], payout_percent=[100], rake_bps=0)
    assert await ledger.check() == []


async def test_settle_or_refund_without_escrow(ledger: Ledger) -> None:
    with pytest.raises(NotEscrowed) as caught:
        await ledger.refund("nope")
    assert caught.value.code == "not_escrowed"
    with pytest.raises(NotEscrowed):
        await ledger.settle("nope", [1], payout_percent=[100], rake_bps=0)


async def test_settle_and_refund_racing_close_the_escrow_once(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    for round_ in range(3):
        ids = await funded(ledger, make_players, 2)
        gid = f"race{round_}"
        await ledger.escrow(gid, stakes(ids))
        results = await asyncio.gather(
            ledger.settle(gid, [1, 2], payout_percent=[100], rake_bps=0),
            ledger.refund(gid),
            ledger.settle(gid, [1, 2], payout_percent=[100], rake_bps=0),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, AlreadySettled)]
        assert len(refused) in (1, 2), results
        assert sum(await balances(ledger, ids)) == 2000
    assert await ledger.check() == []


async def test_the_game_row_is_marked_settled(
    store: Store, ledger: Ledger, make_players: MakePlayers
) -> None:
    ids = await funded(ledger, make_players, 2)
    await Games(store).create("g1", game="chess", players=ids, currency="USD", stake=100)
    await ledger.escrow("g1", stakes(ids))
    await ledger.settle("g1", [1, 2], payout_percent=[100, 0], rake_bps=500)
    async with store.connect() as conn:
        assert await conn.scalar(select(games_table.c.settled).where(games_table.c.id == "g1"))
