"""Opening the store: one SQLAlchemy async engine, configured per backend.

Both adapters share the schema (:mod:`meeple.store.schema`) and the SQL; what
differs is durability and locking, set up here:

- SQLite (embedded default): WAL journal with ``synchronous=FULL`` (a commit is on
  disk before it returns), foreign keys on, and every transaction starts with
  ``BEGIN IMMEDIATE`` so that concurrent writers queue instead of failing.
- PostgreSQL (asyncpg): every connection sets ``synchronous_commit=on``; a pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from meeple.store.sqlite_setup import apply_pragmas
from meeple.store.sqlite_writer import SqliteWriter

_READ_ONLY = "meeple_read_only"
MIGRATIONS = Path(__file__).parent / "migrations"
# Any fixed 64-bit number, the same in every process: the lock of `Store.migrate`.
MIGRATION_LOCK_KEY = 0x6D65_6570_6C65  # "meeple"


class Store:
    """A connection pool to the store, with transactions that fit its backend."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name  # "sqlite" or "postgresql"
        # The hot write path's own connection (a SQLite file only; see sqlite_writer).
        self.sqlite_writer: SqliteWriter | None = None
        database = engine.url.database
        if self.dialect == "sqlite" and database and database != ":memory:":
            self.sqlite_writer = SqliteWriter(database)

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Open the store at ``url``; with ``migrate``, create or upgrade its schema."""
        store = cls(_create_engine(url))
        if migrate:
            await store.migrate()
        return store

    async def migrate(self) -> None:
        """Bring the schema to the current version (Alembic ``upgrade head``).

        It runs in one transaction; on PostgreSQL under an advisory lock, so that
        several processes starting at once migrate one after the other (the later
        ones find the schema at head and do nothing). SQLite's ``BEGIN IMMEDIATE``
        serializes them already.
        """
        async with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await conn.run_sync(_upgrade_to_head)

    async def schema_revision(self) -> str | None:
        """The Alembic revision the schema is at (None: not migrated)."""
        async with self.engine.connect() as conn:
            return await conn.run_sync(_current_revision)

    async def close(self) -> None:
        """Close every pooled connection (and the SQLite writer's)."""
        writer, self.sqlite_writer = self.sqlite_writer, None
        if writer is not None:
            await writer.close()
        await self.engine.dispose()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction: committed on success, rolled back on error."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (each statement sees committed data).

        On SQLite its transaction is a plain (deferred) ``BEGIN``: readers do not
        take the write lock, so they never queue behind writers (WAL).
        """
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_READ_ONLY: True})
            yield conn


def alembic_config() -> Config:
    """Alembic configuration pointing at the migrations inside the package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade_to_head(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    # Durable before acknowledged (DESIGN.md inv. 1): a commit returns only once its WAL
    # is flushed, whatever the server's or the database's default says.
    durable = {"server_settings": {"synchronous_commit": "on"}}
    return create_async_engine(
        url, pool_size=10, max_overflow=10, pool_pre_ping=True, connect_args=durable
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        apply_pragmas(cursor.execute)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
