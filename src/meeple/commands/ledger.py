"""``meeple ledger check``: audit the books.

::

    meeple ledger check [--database-url URL]

Prints ``ledger ok: N accounts, M transfers, sum 0`` and exits 0 when every rule
holds (see :func:`meeple.ledger.check.check_books`); otherwise prints each problem
on its own line and exits 1; exits 2 if the store cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.exc import DBAPIError

from meeple import settings
from meeple.ledger.check import check_books, summary
from meeple.store.database import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define ``meeple ledger``'s arguments."""
    parser.add_argument("action", choices=["check"], help="check: verify the books")
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy async URL of the store (default: MEEPLE_DATABASE_URL or the SQLite file)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the ledger action; the exit status."""
    url = settings.load(database_url=args.database_url).effective_database_url
    try:
        problems, (accounts, transfers, total) = asyncio.run(_check(url))
    except (OSError, DBAPIError) as exc:
        # Unreachable, or not a meeple store (not migrated): say so, no traceback.
        sys.stderr.write(f"meeple ledger check: cannot read the books: {exc}\n")
        return 2
    if problems:
        for problem in problems:
            sys.stdout.write(f"ledger problem: {problem}\n")
        sys.stdout.write(f"ledger broken: {len(problems)} problem(s)\n")
        return 1
    sys.stdout.write(f"ledger ok: {accounts} accounts, {transfers} transfers, sum {total}\n")
    return 0


async def _check(url: str) -> tuple[list[str], tuple[int, int, int]]:
    # No migration: an audit must not change the database it audits.
    store = await Store.open(url, migrate=False)
    try:
        async with store.connect() as conn:
            return await check_books(conn), await summary(conn)
    finally:
        await store.close()
