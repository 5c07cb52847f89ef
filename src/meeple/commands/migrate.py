"""``meeple migrate``: create the store's schema or upgrade it to the current version.

::

    meeple migrate                                         # the configured store
    meeple migrate --database-url postgresql+asyncpg://u@h/meeple

Safe to run from several processes at once (see :meth:`Store.migrate`). Prints the
revision the schema is at; exits 1 with a message when the store cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.exc import DBAPIError

from meeple import settings
from meeple.store.database import Store


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define ``meeple migrate``'s arguments."""
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy async URL of the store (default: MEEPLE_DATABASE_URL or the SQLite file)",
    )


def run(args: argparse.Namespace) -> int:
    """Migrate; the exit status."""
    url = settings.load(database_url=args.database_url).effective_database_url
    try:
        revision = asyncio.run(_migrate(url))
    except (OSError, DBAPIError) as exc:
        sys.stderr.write(f"meeple migrate: cannot reach the store: {exc}\n")
        return 1
    sys.stdout.write(f"schema at revision {revision}\n")
    return 0


async def _migrate(url: str) -> str | None:
    store = await Store.open(url, migrate=True)
    try:
        return await store.schema_revision()
    finally:
        await store.close()
