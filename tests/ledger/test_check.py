"""`meeple ledger check` and Ledger.check: healthy books pass, each broken rule is named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import insert, text, update

from meeple.ledger import Ledger
from meeple.store.database import Store
from meeple.store.schema import ledger_accounts, ledger_entries
from tests.ledger.conftest import MakePlayers


def meeple_ledger_check(url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meeple.cli", "ledger", "check", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def books(ledger: Ledger, make_players: MakePlayers) -> list[int]:
    ids = await make_players(2)
    for p in ids:
        await ledger.deposit(p, 500, key=f"d{p}")
    await ledger.escrow("g1", [(0, ids[0], 100), (1, ids[1], 100)])
    await ledger.settle("g1", [1, 2], payout_percent=[100, 0], rake_bps=500)
    return ids


async def test_healthy_books(ledger: Ledger, make_players: MakePlayers, store_url: str) -> None:
    await books(ledger, make_players)
    assert await ledger.check() == []
    done = meeple_ledger_check(store_url)
    # Accounts: deposits, 2 players, escrow:g1, house; transfers: 2 deposits, escrow, settle.
    assert (done.returncode, done.stdout) == (0, "ledger ok: 5 accounts, 4 transfers, sum 0\n")


async def test_a_tampered_balance_is_named(
    store: Store, ledger: Ledger, make_players: MakePlayers
) -> None:
    ids = await books(ledger, make_players)
    async with store.begin() as conn:
        await conn.execute(
            update(ledger_accounts)
            .where(ledger_accounts.c.id == f"player:{ids[0]}")
            .values(balance=ledger_accounts.c.balance + 1)
        )
    problems = await ledger.check()
    assert "account balances sum to 1, not 0" in problems
    assert f"account player:{ids[0]}: balance 591 != sum of its entries 590" in problems


async def test_an_unbalanced_transfer_and_a_broken_chain_are_named(
    store: Store, ledger: Ledger, make_players: MakePlayers, store_url: str
) -> None:
    ids = await books(ledger, make_players)
    transfer = await ledger.transfer(f"d{ids[1]}")
    assert transfer is not None
    async with store.begin() as conn:
        # A leg out of nowhere: money created, and the balance_after chain no longer adds up.
        await conn.execute(
            insert(ledger_entries).values(
                transfer_id=transfer.id, account_id=f"player:{ids[1]}", amount=7, balance_after=0
            )
        )
    problems = await ledger.check()
    assert f"transfer {transfer.id}: legs sum to 7, not 0" in problems
    assert any("balance_after 0 != running sum" in p for p in problems)
    assert any(f"player:{ids[1]}: balance" in p for p in problems)
    done = meeple_ledger_check(store_url)
    assert done.returncode == 1
    assert f"transfer {transfer.id}: legs sum to 7" in done.stdout


async def test_a_closed_game_with_money_in_escrow_is_named(
    store: Store, ledger: Ledger, make_players: MakePlayers
) -> None:
    await books(ledger, make_players)
    async with store.begin() as conn:
        # Move money back into the settled game's escrow behind the ledger's back.
        for account, delta in (("escrow:g1", 5), ("house", -5)):
            await conn.execute(
                update(ledger_accounts)
                .where(ledger_accounts.c.id == account)
                .values(balance=ledger_accounts.c.balance + delta)
            )
    problems = await ledger.check()
    assert "account escrow:g1: game is closed but its escrow holds 5" in problems


async def test_a_negative_wallet_is_named(
    store: Store, ledger: Ledger, make_players: MakePlayers
) -> None:
    ids = await books(ledger, make_players)
    async with store.begin() as conn:
        if store.dialect == "postgresql":  # the CHECK constraint forbids it: lift it
            await conn.execute(
                text("ALTER TABLE ledger_accounts DROP CONSTRAINT ck_ledger_accounts_not_negative")
            )
        else:
            await conn.execute(text("PRAGMA ignore_check_constraints = ON"))
        await conn.execute(
            update(ledger_accounts)
            .where(ledger_accounts.c.id == f"player:{ids[1]}")
            .values(balance=-1)
        )
    problems = await ledger.check()
    assert f"account player:{ids[1]}: negative balance -1" in problems


def test_a_store_without_books_is_an_error_not_a_pass(tmp_path: Path) -> None:
    done = meeple_ledger_check(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    assert done.returncode == 2
    assert "cannot read the books" in done.stderr and done.stdout == ""
