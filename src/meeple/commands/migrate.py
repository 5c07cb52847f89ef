"""``meeple migrate``: create the store's schema or upgrade it to the current version.

::

    meeple migrate                                         # the configured store
    meeple migrate --database-url postgresql+asyncpg://u@h/meeple
    meeple migrate --new-revision "add ratings history"    # for developers, see below

Safe to run from several processes at once (see :meth:`Store.migrate`). Prints the
revision the schema is at; exits 1 with a message when the store cannot be reached.

After changing :mod:`meeple.store.schema`, ``--new-revision MESSAGE`` upgrades the
given (scratch) database to head and writes a new Alembic revision into
``src/meeple/store/migrations/versions`` with the difference (autogenerate): read
it, trim it, and commit it with the schema change.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from meeple import settings
from meeple.store.database import Store, alembic_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Define ``meeple migrate``'s arguments."""
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy async URL of the store (default: MEEPLE_DATABASE_URL or the SQLite file)",
    )
    parser.add_argument(
        "--new-revision",
        metavar="MESSAGE",
        help="write a new revision with the schema's changes (developers; use a scratch store)",
    )


def run(args: argparse.Namespace) -> int:
    """Migrate; the exit status."""
    url = settings.load(database_url=args.database_url).effective_database_url
    try:
        revision = asyncio.run(_migrate(url, args.new_revision))
    except (OSError, DBAPIError) as exc:
        sys.stderr.write(f"meeple migrate: cannot reach the store: {exc}\n")
        return 1
    sys.stdout.write(f"schema at revision {revision}\n")
    return 0


async def _migrate(url: str, new_revision: str | None) -> str | None:
    store = await Store.open(url, migrate=True)
    try:
        if new_revision:

            def generate(connection: Connection) -> None:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.revision(config, message=new_revision, autogenerate=True)

            async with store.engine.begin() as conn:
                await conn.run_sync(generate)
        return await store.schema_revision()
    finally:
        await store.close()
