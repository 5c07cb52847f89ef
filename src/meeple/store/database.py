"""Opening the store: one SQLAlchemy async engine, configured per backend.

Both adapters share the schema (:mod:`meeple.store.schema`) and the SQL; what
differs is durability and locking, set up here:

- SQLite (embedded default): WAL journal with ``synchronous=FULL`` (a commit is on
  disk before it returns), foreign keys on, and every transaction starts with
  ``BEGIN IMMEDIATE`` so that concurrent writers queue instead of failing.
- PostgreSQL (asyncpg): ``synchronous_commit=on``; a pool of connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from meeple.store.schema import metadata


class Store:
    """A connection pool to the store, with transactions that fit its backend."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect: str = engine.dialect.name  # "sqlite" or "postgresql"

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        """Open the store at ``url``; with ``migrate``, create or upgrade its schema."""
        store = cls(_create_engine(url))
        if migrate:
            await store.migrate()
        return store

    async def migrate(self) -> None:
        """Bring the schema to the current version."""
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A read-write transaction: committed on success, rolled back on error."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (each statement sees committed data)."""
        async with self.engine.connect() as conn:
            yield conn


def _create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
