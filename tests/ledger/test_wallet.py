"""Wallets: deposits, withdrawals, adjustments, statements and idempotency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from meeple.ledger import (
    Entry,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    Ledger,
    UnknownPlayer,
)
from tests.ledger.conftest import MakePlayers


async def test_balance_of_a_wallet_that_never_moved_is_zero(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    (alice,) = await make_players(1)
    assert await ledger.balance(alice) == 0
    assert await ledger.statement(alice) == []


async def test_deposit_credits_the_wallet_and_debits_the_clearing_account(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    (alice,) = await make_players(1)
    before = datetime.now(UTC)
    transfer = await ledger.deposit(alice, 1_000, key="dep-1", memo="card")
    assert transfer.kind == "deposit"
    assert transfer.key == "dep-1"
    assert transfer.memo == "card"
    assert transfer.game_id is None
    assert transfer.created_at >= before
    assert transfer.created_at.tzinfo is not None
    assert transfer.entries == (
        Entry("deposits", -1_000, -1_000),
        Entry(f"player:{alice}", 1_000, 1_000),
    )
    assert await ledger.balance(alice) == 1_000
    assert await ledger.check() == []


async def test_withdraw_and_insufficient_funds(ledger: Ledger, make_players: MakePlayers) -> None:
    (alice,) = await make_players(1)
    await ledger.deposit(alice, 500, key="d")
    await ledger.withdraw(alice, 200, key="w1")
    assert await ledger.balance(alice) == 300
    with pytest.raises(InsufficientFunds) as caught:
        await ledger.withdraw(alice, 301, key="w2")
    assert caught.value.code == "insufficient_funds"
    assert (caught.value.player_id, caught.value.seat) == (alice, None)
    assert (caught.value.needed, caught.value.available) == (301, 300)
    assert await ledger.balance(alice) == 300
    # Nothing was recorded under the failed key: a later retry with money succeeds.
    await ledger.deposit(alice, 1, key="d2")
    assert (await ledger.withdraw(alice, 301, key="w2")).entries[0].balance_after == 0


async def test_adjust_is_signed_and_cannot_overdraw(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    (alice,) = await make_players(1)
    await ledger.adjust(alice, 50, key="a1", memo="goodwill")
    await ledger.adjust(alice, -20, key="a2", memo="correction")
    assert await ledger.balance(alice) == 30
    with pytest.raises(InsufficientFunds):
        await ledger.adjust(alice, -31, key="a3", memo="too much")
    with pytest.raises(InvalidAmount):
        await ledger.adjust(alice, 0, key="a4", memo="nothing")
    assert await ledger.check() == []


@pytest.mark.parametrize("amount", [0, -5, True, 1.5, "10"])
async def test_invalid_amounts_move_nothing(
    ledger: Ledger, make_players: MakePlayers, amount: object
) -> None:
    (alice,) = await make_players(1)
    with pytest.raises(InvalidAmount) as caught:
        await ledger.deposit(alice, amount, key="k")  # type: ignore[arg-type]
    assert caught.value.code == "invalid_amount"
    with pytest.raises(InvalidAmount):
        await ledger.withdraw(alice, amount, key="k")  # type: ignore[arg-type]
    assert await ledger.transfer("k") is None


async def test_keys_must_be_short_and_present(ledger: Ledger, make_players: MakePlayers) -> None:
    (alice,) = await make_players(1)
    for key in ("", "x" * 161):
        with pytest.raises(InvalidRequest):
            await ledger.deposit(alice, 1, key=key)


async def test_unknown_player(ledger: Ledger) -> None:
    with pytest.raises(UnknownPlayer) as caught:
        await ledger.deposit(999_999, 1, key="k")
    assert caught.value.code == "unknown_player"
    assert await ledger.check() == []


async def test_retry_returns_the_original_and_moves_nothing(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    (alice,) = await make_players(1)
    first = await ledger.deposit(alice, 700, key="dep", memo="m")
    again = await ledger.deposit(alice, 700, key="dep", memo="m")
    assert again == first
    assert await ledger.balance(alice) == 700


@pytest.mark.parametrize(
    "call",
    [
        lambda ledger, p: ledger.deposit(p, 701, key="dep", memo="m"),
        lambda ledger, p: ledger.deposit(p, 700, key="dep", memo="other"),
        lambda ledger, p: ledger.withdraw(p, 700, key="dep", memo="m"),
        lambda ledger, p: ledger.adjust(p, 700, key="dep", memo="m"),
    ],
)
async def test_same_key_different_request_conflicts(
    ledger: Ledger, make_players: MakePlayers, call: object
) -> None:
    (alice,) = await make_players(1)
    await ledger.deposit(alice, 700, key="dep", memo="m")
    with pytest.raises(IdempotencyConflict) as caught:
        await call(ledger, alice)  # type: ignore[operator]
    assert caught.value.code == "idempotency_conflict"
    assert await ledger.balance(alice) == 700


async def test_concurrent_duplicates_apply_once(ledger: Ledger, make_players: MakePlayers) -> None:
    (alice,) = await make_players(1)
    results = await asyncio.gather(
        *(ledger.deposit(alice, 10, key="same") for _ in range(8)),
        *(ledger.deposit(alice, 1, key=f"other-{i}") for i in range(4)),
    )
    assert len({r.id for r in results[:8]}) == 1
    assert await ledger.balance(alice) == 14
    assert await ledger.check() == []


async def test_statement_newest_first_with_cursor(
    ledger: Ledger, make_players: MakePlayers
) -> None:
    alice, bob = await make_players(2)
    for i in range(1, 6):
        await ledger.deposit(alice, i * 100, key=f"d{i}", memo=f"#{i}")
    await ledger.deposit(bob, 1, key="bob")
    await ledger.withdraw(alice, 50, key="w")
    lines = await ledger.statement(alice, limit=3)
    assert [(line.kind, line.amount, line.balance_after) for line in lines] == [
        ("withdrawal", -50, 1450),
        ("deposit", 500, 1500),
        ("deposit", 400, 1000),
    ]
    assert lines[1].memo == "#5"
    rest = await ledger.statement(alice, before=lines[-1].entry_id)
    assert [line.amount for line in rest] == [300, 200, 100]
    assert all(line.created_at.tzinfo is not None for line in rest)
    assert await ledger.statement(alice, limit=0) == []
