"""Migrations: an empty database upgraded to head is exactly the schema, on both backends."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.engine import Connection

from meeple.store.database import Store, alembic_config
from meeple.store.schema import games, metadata
from tests.services import PostgresServer

HEAD = "0002"


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    postgres: PostgresServer = request.getfixturevalue("postgres")
    name = f"empty_{id(request)}"
    conn = await asyncpg.connect(postgres.dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    yield postgres.url(name)
    await postgres.drop_database(name)


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, metadata))


def _alembic(connection: Connection, verb: str, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    getattr(command, verb)(config, revision)


def _games_indexes(connection: Connection) -> dict[str, list[str | None]]:
    # Only the plain indexes: PostgreSQL also lists the one behind the unique invite code.
    indexes = inspect(connection).get_indexes("games")
    return {ix["name"]: ix["column_names"] for ix in indexes if not ix.get("unique")}


async def test_upgrade_to_head_matches_the_schema(empty_url: str) -> None:
    store = await Store.open(empty_url, migrate=False)
    try:
        assert await store.schema_revision() is None
        await store.migrate()
        assert await store.schema_revision() == HEAD
        async with store.connect() as conn:
            assert await conn.run_sync(_diff) == []
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables == set(metadata.tables) | {"alembic_version"}
        await store.migrate()  # again: nothing to do
        assert await store.schema_revision() == HEAD
    finally:
        await store.close()


async def test_downgrade_to_base_and_back(empty_url: str) -> None:
    store = await Store.open(empty_url)
    try:
        async with store.begin() as conn:
            await conn.run_sync(_alembic, "downgrade", "base")
        async with store.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables <= {"alembic_version"}
        await store.migrate()
        async with store.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await store.close()


async def test_0002_games_status_started_index_up_and_down(empty_url: str) -> None:
    store = await Store.open(empty_url, migrate=False)
    game = {
        "id": "g1",
        "game": "chess",
        "options": {},
        "seats": 2,
        "base_ms": 1,
        "increment_ms": 0,
        "currency": "USD",
        "status": "active",
        "created_at": datetime(2031, 1, 1, tzinfo=UTC),
    }
    try:
        async with store.begin() as conn:
            await conn.run_sync(_alembic, "upgrade", "0001")
            # A game written at 0001 survives the round trip.
            await conn.execute(insert(games).values(game))
        async with store.connect() as conn:
            before = await conn.run_sync(_games_indexes)
        assert before == {"ix_games_status": ["status"]}

        async with store.begin() as conn:
            await conn.run_sync(_alembic, "upgrade", "0002")
        assert await store.schema_revision() == "0002"
        async with store.connect() as conn:
            after = await conn.run_sync(_games_indexes)
            assert await conn.scalar(text("SELECT count(*) FROM games")) == 1
        assert after == {"ix_games_status_started": ["status", "started_at", "id"]}

        async with store.begin() as conn:
            await conn.run_sync(_alembic, "downgrade", "0001")
        assert await store.schema_revision() == "0001"
        async with store.connect() as conn:
            assert await conn.run_sync(_games_indexes) == before
            assert await conn.scalar(text("SELECT count(*) FROM games")) == 1
    finally:
        await store.close()


async def test_concurrent_migrations_do_not_race(postgres: PostgresServer, empty_url: str) -> None:
    # Six processes' worth of stores (separate pools) migrating one empty database at once.
    stores = [await Store.open(empty_url, migrate=False) for _ in range(6)]
    try:
        await asyncio.gather(*(s.migrate() for s in stores))
        assert {await s.schema_revision() for s in stores} == {HEAD}
    finally:
        for s in stores:
            await s.close()


async def test_postgresql_commits_synchronously(postgres: PostgresServer, pg_url: str) -> None:
    name = pg_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(postgres.dsn())
    try:
        # Even where an operator turned it off for the database, the store turns it on.
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()
    store = await Store.open(pg_url, migrate=False)
    try:
        async with store.connect() as conn:
            assert await conn.scalar(text("SHOW synchronous_commit")) == "on"
            assert await conn.scalar(text("SHOW fsync")) == "on"
    finally:
        await store.close()
        admin = await asyncpg.connect(postgres.dsn())
        try:
            await admin.execute(f'ALTER DATABASE "{name}" RESET synchronous_commit')
        finally:
            await admin.close()


async def test_sqlite_is_wal_with_full_sync(sqlite_url: str) -> None:
    store = await Store.open(sqlite_url, migrate=False)
    try:
        # Several pooled connections: each must carry the settings.
        for _ in range(3):
            async with store.begin() as conn:
                assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
                assert await conn.scalar(text("PRAGMA synchronous")) == 2  # FULL
                assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
    finally:
        await store.close()


def test_meeple_migrate_command(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "meeple.cli", "migrate", "--database-url", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"schema at revision {HEAD}"
