"""A store outage is an outage, not our bug: ``games_unavailable``, nothing acknowledged.

The store is the session's real PostgreSQL server, stopped under a running engine
and started again (no mock of the driver).
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import IntegrityError, InterfaceError

from meeple.store.database import Store
from meeple.store.outage import unreachable
from tests.engine.harness import Harness, fast_settings
from tests.services import PostgresServer


def _count(outcome: str) -> float:
    value = REGISTRY.get_sample_value("meeple_commands_total", {"outcome": outcome})
    return value or 0.0


async def test_commands_while_postgres_is_down_are_unavailable_then_apply_once(
    postgres: PostgresServer, pg_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await Store.open(pg_url, migrate=False)
    harness = Harness(store, fast_settings(tmp_path))
    await harness.start()
    try:
        white, black = await harness.players(2)
        game_id = await harness.game([white, black])
        assert (await harness.send(game_id, white, "move", "e2e4")).ok
        unavailable, internal = _count("games_unavailable"), _count("internal_error")
        caplog.set_level(logging.INFO, logger="meeple.engine")
        postgres.stop()
        try:
            for _ in range(2):  # the same command retried during the outage
                down = await harness.send(game_id, black, "move", "e7e5", cid="black-1")
                assert (down.ok, down.code) == (False, "games_unavailable"), down
                assert down.message is not None and "store is unreachable" in down.message
        finally:
            postgres.start()
        assert _count("games_unavailable") == unavailable + 2
        assert _count("internal_error") == internal
        up = await harness.send(game_id, black, "move", "e7e5", cid="black-1")
        assert up.ok and up.seq == 3, up
        again = await harness.send(game_id, black, "move", "e7e5", cid="black-1")
        assert again.ok and again.seq == 3  # the first outcome, nothing applied twice
        assert [e.data.get("move") for e in await harness.events(game_id)] == [
            None,
            "e2e4",
            "e7e5",
        ]
    finally:
        await harness.close()
        await store.close()
    engine_logs = [r for r in caplog.records if r.name == "meeple.engine.engine"]
    assert not [r for r in engine_logs if r.levelno >= logging.ERROR]
    warnings = [r for r in engine_logs if "store unreachable" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert any("store reachable again" in r.getMessage() for r in engine_logs)


def test_only_connection_failures_count_as_unreachable() -> None:
    cut = asyncpg.exceptions.AdminShutdownError("terminating connection")
    wrapped = InterfaceError("SELECT 1", None, asyncpg.InterfaceError("connection is closed"))
    assert unreachable(ConnectionRefusedError(111, "Connect call failed"))
    assert unreachable(cut)
    assert unreachable(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert unreachable(asyncpg.exceptions.ConnectionDoesNotExistError("closed mid-query"))
    assert unreachable(wrapped)
    bug = IntegrityError("INSERT", None, asyncpg.exceptions.UniqueViolationError("dup"))
    assert not unreachable(bug)
    assert not unreachable(asyncpg.InterfaceError("another operation is in progress"))
    assert not unreachable(KeyError("seat"))
    try:
        try:
            raise ConnectionResetError("peer reset")
        except OSError:
            raise ValueError("a bug in the handler") from None
    except ValueError as handled:
        assert not unreachable(handled)
