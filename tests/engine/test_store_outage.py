"""A store outage is an outage, not our bug: ``games_unavailable``, nothing acknowledged,
and one WARNING per outage in the log (an INFO when it ends), never a traceback.

The store is the session's real PostgreSQL server, stopped under a running engine
and started again (no mock of the driver). The settlement and snapshot tests hold
the engine's call at a gate until the server is down, so that the call meets the
outage; the call itself then goes to the real, stopped server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.exc import IntegrityError, InterfaceError

from meeple.engine import engine as engine_module
from meeple.engine import settlement, storage
from meeple.store.database import Store
from meeple.store.outage import unreachable
from tests.engine.harness import Harness, fast_settings, wait_until
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


class Gate:
    """Stands in for an engine store call: holds every call until :meth:`release`,
    then runs the real one, counting calls and failures."""

    def __init__(self, real: Callable[..., Awaitable[None]]) -> None:
        self.real = real
        self.released = asyncio.Event()
        self.calls = 0
        self.failures = 0

    @contextlib.asynccontextmanager
    async def outage(self, postgres: PostgresServer, failures: int) -> AsyncIterator[None]:
        """Once the engine made its call: stop PostgreSQL, let the call through and
        wait until ``failures`` calls failed; the body runs during the outage, and
        PostgreSQL starts again after it."""

        async def called() -> bool:
            return self.calls >= 1

        async def failed() -> bool:
            return self.failures >= failures

        await wait_until(called, "the engine's call")
        postgres.stop()
        try:
            self.released.set()
            await wait_until(failed, f"{failures} failed calls")
            yield
        finally:
            postgres.start()

    async def __call__(self, *args: Any) -> None:
        self.calls += 1
        await self.released.wait()
        try:
            await self.real(*args)
        except Exception:
            self.failures += 1
            raise


def _assert_one_outage_logged(records: list[logging.LogRecord]) -> None:
    """One WARNING for the outage, then 'reachable again'; no error, no traceback."""
    engine_logs = [r for r in records if r.name == "meeple.engine.engine"]
    assert not [r for r in engine_logs if r.levelno >= logging.ERROR or r.exc_info]
    messages = [r.getMessage() for r in engine_logs]
    down = [n for n, m in enumerate(messages) if "store unreachable" in m]
    up = [n for n, m in enumerate(messages) if "store reachable again" in m]
    assert len(down) == 1 and engine_logs[down[0]].levelno == logging.WARNING, messages
    assert len(up) == 1 and up[0] > down[0], messages


async def test_settlement_during_an_outage_warns_once_and_settles_after(
    postgres: PostgresServer,
    pg_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = Gate(settlement.close)
    monkeypatch.setattr(settlement, "close", gate)
    monkeypatch.setattr(engine_module, "SETTLE_RETRY_S", 0.05)
    store = await Store.open(pg_url, migrate=False)
    harness = Harness(store, fast_settings(tmp_path))
    await harness.start()
    try:
        white, black = await harness.players(2, deposit=1_000)
        game_id = await harness.game([white, black], stake=100)
        caplog.set_level(logging.INFO, logger="meeple.engine")
        assert (await harness.send(game_id, white, "resign")).ok
        # Several failed attempts in one outage: still one warning.
        async with gate.outage(postgres, failures=3):
            pass

        async def settled() -> bool:
            game = await harness.games.get(game_id)
            return game is not None and game.settled

        await wait_until(settled, "the game settled once the store is back")
    finally:
        await harness.close()
        await store.close()
    _assert_one_outage_logged(caplog.records)


async def test_a_snapshot_during_an_outage_warns_once(
    postgres: PostgresServer,
    pg_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = Gate(storage.save_snapshot)
    monkeypatch.setattr(storage, "save_snapshot", gate)
    store = await Store.open(pg_url, migrate=False)
    harness = Harness(store, fast_settings(tmp_path, snapshot_every=2))
    await harness.start()
    try:
        white, black = await harness.players(2)
        game_id = await harness.game([white, black])
        caplog.set_level(logging.INFO, logger="meeple.engine")
        assert (await harness.send(game_id, white, "move", "e2e4")).seq == 2
        async with gate.outage(postgres, failures=1):
            # The snapshot reported the outage; the batch that fails next adds nothing.
            assert "store unreachable" in caplog.text
            down = await harness.send(game_id, black, "move", "e7e5", cid="black-1")
            assert (down.ok, down.code) == (False, "games_unavailable"), down
        assert (await harness.send(game_id, black, "move", "e7e5", cid="black-1")).seq == 3
        assert (await harness.send(game_id, white, "move", "g1f3")).seq == 4

        async def snapshotted() -> bool:
            saved = await harness.games.latest_snapshot(game_id)
            return saved is not None and saved.seq == 4

        await wait_until(snapshotted, "the next snapshot, at seq 4, saved")
    finally:
        await harness.close()
        await store.close()
    _assert_one_outage_logged(caplog.records)


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
