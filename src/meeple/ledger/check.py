"""The audit behind ``meeple ledger check``: every invariant of the books, in SQL.

Each query returns the rows that break one rule, so a healthy ledger costs a few
scans and a broken one names exactly what is wrong.
"""

from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from meeple.store.schema import games, ledger_accounts, ledger_entries, ledger_transfers

a, e, t = ledger_accounts, ledger_entries, ledger_transfers


async def check_books(conn: AsyncConnection) -> list[str]:
    """Problems with the books (human-readable); an empty list means they are right."""
    problems: list[str] = []

    total = await conn.scalar(select(func.coalesce(func.sum(a.c.balance), 0)))
    if total != 0:
        problems.append(f"account balances sum to {total}, not 0")

    sums = (
        select(e.c.account_id, func.sum(e.c.amount).label("total"))
        .group_by(e.c.account_id)
        .subquery()
    )
    drift = select(a.c.id, a.c.balance, func.coalesce(sums.c.total, 0).label("total")).outerjoin(
        sums, sums.c.account_id == a.c.id
    )
    for drifted in await conn.execute(
        drift.where(a.c.balance != func.coalesce(sums.c.total, 0)).order_by(a.c.id)
    ):
        problems.append(
            f"account {drifted.id}: balance {drifted.balance} != sum of its entries {drifted.total}"
        )

    running = select(
        e.c.id,
        e.c.account_id,
        e.c.balance_after,
        func.sum(e.c.amount).over(partition_by=e.c.account_id, order_by=e.c.id).label("running"),
    ).subquery()
    for entry in await conn.execute(
        select(running).where(running.c.balance_after != running.c.running).order_by(running.c.id)
    ):
        problems.append(
            f"entry {entry.id} of {entry.account_id}: balance_after {entry.balance_after} "
            f"!= running sum {entry.running}"
        )

    for leg in await conn.execute(
        select(e.c.transfer_id, func.sum(e.c.amount).label("total"))
        .group_by(e.c.transfer_id)
        .having(func.sum(e.c.amount) != 0)
        .order_by(e.c.transfer_id)
    ):
        problems.append(f"transfer {leg.transfer_id}: legs sum to {leg.total}, not 0")

    for acct in await conn.execute(
        select(a.c.id, a.c.balance)
        .where(a.c.kind.in_(("player", "escrow")), a.c.balance < 0)
        .order_by(a.c.id)
    ):
        problems.append(f"account {acct.id}: negative balance {acct.balance}")

    # A game closed by settlement or refund (or marked settled) must hold nothing in escacct.
    closed = select(t.c.game_id).where(t.c.kind.in_(("settlement", "refund")))
    settled_games = select(games.c.id).where(
        games.c.settled.is_(True), games.c.status.in_(("finished", "aborted"))
    )
    for esc in await conn.execute(
        select(a.c.id, a.c.balance)
        .where(
            and_(
                a.c.kind == "escrow",
                a.c.balance != 0,
                or_(a.c.game_id.in_(closed), a.c.game_id.in_(settled_games)),
            )
        )
        .order_by(a.c.id)
    ):
        problems.append(f"account {esc.id}: game is closed but its escrow holds {esc.balance}")
    return problems


async def summary(conn: AsyncConnection) -> tuple[int, int, int]:
    """(number of accounts, number of transfers, sum of balances)."""
    accounts = await conn.scalar(select(func.count()).select_from(a))
    transfers = await conn.scalar(select(func.count()).select_from(t))
    total = await conn.scalar(select(func.coalesce(func.sum(a.c.balance), 0)))
    return int(accounts or 0), int(transfers or 0), int(total or 0)
