"""The test session's real servers behave as fault tests need them to."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, insert, select

from meeple.ledger import Ledger
from meeple.store.database import Store
from meeple.store.schema import ledger_transfers, throttle
from tests.services import PostgresServer, RedisServer
from tests.store.factories import add_players


async def test_acknowledged_money_survives_a_postgres_crash(
    postgres: PostgresServer, pg_url: str
) -> None:
    store = await Store.open(pg_url, migrate=False)
    try:
        (alice,) = await add_players(store, 1)
        await Ledger(store, "USD").deposit(alice, 1_234, key="before-crash")
    finally:
        await store.close()
    postgres.kill()
    assert not postgres.running
    with pytest.raises((OSError, asyncpg.PostgresError)):
        await asyncpg.connect(postgres.dsn(), timeout=5)
    postgres.start()  # crash recovery replays the WAL
    store = await Store.open(pg_url, migrate=False)
    try:
        ledger = Ledger(store, "USD")
        assert await ledger.balance(alice) == 1_234
        assert await ledger.check() == []
    finally:
        await store.close()


async def test_restart_keeps_data(postgres: PostgresServer, pg_url: str) -> None:
    store = await Store.open(pg_url, migrate=False)
    async with store.begin() as conn:
        await conn.execute(insert(throttle).values(key="k", count=3, window_start_ms=0))
    await store.close()
    postgres.restart()
    store = await Store.open(pg_url, migrate=False)
    try:
        async with store.connect() as conn:
            assert await conn.scalar(select(throttle.c.count)) == 3
    finally:
        await store.close()


async def test_reused_databases_come_back_empty(postgres: PostgresServer) -> None:
    name = await postgres.acquire_database()
    store = await Store.open(postgres.url(name), migrate=False)
    (first,) = await add_players(store, 1)
    await Ledger(store, "USD").deposit(first, 5, key="k")
    await store.close()
    await postgres.release_database(name)
    again = await postgres.acquire_database()
    assert again == name
    store = await Store.open(postgres.url(again), migrate=False)
    try:
        async with store.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(ledger_transfers)) == 0
        assert await add_players(store, 1) == [first]  # identities restart too
    finally:
        await store.close()
        await postgres.release_database(again)


async def test_redis_restart_and_kill(redis: RedisServer) -> None:
    async def call(*args: str) -> object:
        client = aioredis.from_url(redis.url)  # a new connection each time
        try:
            return await client.execute_command(*args)
        finally:
            await client.aclose()

    await call("SET", "k", "v")
    assert await call("GET", "k") == b"v"
    redis.restart()
    assert await call("GET", "k") is None  # no persistence: a restart forgets
    redis.kill()
    assert not redis.running
    with pytest.raises(RedisConnectionError):
        await call("PING")
    redis.start()
    async with asyncio.timeout(10):
        assert await call("PING")
