"""Faults during play on the real cluster, each its own test, players going through nginx.

Every test seats a few staked chess tables (random legal moves, both seats played by
real clients), lets them play, injects one fault, lets them play on, has the side
to move resign, and then checks every invariant against the store
(:func:`tests.cluster.checks.check_invariants`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from meeple.bus.redis import RedisBus
from meeple.client import Api
from meeple.protocol.internal import shard_lease, shard_of
from tests.cluster.checks import check_invariants, event_logs
from tests.cluster.harness import LEASE_TTL_MS, PASSWORD, Cluster
from tests.cluster.players import Table, close_all, poll, register, seat_tables

# A cluster of seven processes and nginx, started once for the package (~30 s).
pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

TABLES = 3
BEFORE = 6  # moves per table before the fault
AFTER = 6  # moves per table after it


async def _progress(tables: list[Table], tasks: list[asyncio.Task[None]], extra: int) -> None:
    """Wait until every table made ``extra`` more moves (or ended); fail if a player fails."""
    targets = [t.moves + extra for t in tables]
    waits = [asyncio.ensure_future(t.until_moves(n)) for t, n in zip(tables, targets, strict=True)]
    try:
        pending = set(waits) | set(tasks)
        while not all(w.done() for w in waits):
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a player's exception (or a timeout) surfaces here
    finally:
        for w in waits:
            w.cancel()


async def _scenario(
    cluster: Cluster, fault: Callable[[list[Table]], Awaitable[Any]], *, tables: int = TABLES
) -> tuple[list[Table], Any, dict[str, Any]]:
    seated, clients = await seat_tables(cluster, tables)
    tasks = [asyncio.create_task(t.play(), name=f"table-{t.game_id}") for t in seated]
    try:
        await _progress(seated, tasks, BEFORE)
        outcome = await fault(seated)
        await _progress(seated, tasks, AFTER)
        for table in seated:
            table.finish = True
        async with asyncio.timeout(60):
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await close_all(clients)
    figures = await check_invariants(cluster, seated)
    log.warning("figures: %s", figures)
    return seated, outcome, figures


async def test_tables_play_through_nginx_without_a_fault(running: Cluster) -> None:
    async def nothing(_tables: list[Table]) -> None:
        return None

    seated, _, figures = await _scenario(running, nothing)
    assert figures["acks"] >= TABLES * (BEFORE + AFTER)
    assert all(t.over for t in seated)


async def _holders(cluster: Cluster, game_ids: list[str]) -> dict[str, str | None]:
    """The engine id holding each game's shard lease, read from Redis."""
    bus = RedisBus(cluster.redis.url)
    try:
        return {g: await bus.holder(shard_lease(shard_of(g))) for g in game_ids}
    finally:
        await bus.close()


async def test_sigkill_an_engine_the_other_takes_over(running: Cluster) -> None:
    killed: dict[str, Any] = {}

    async def kill_the_owner(tables: list[Table]) -> list[Table]:
        holders = await _holders(running, [t.game_id for t in tables])
        ids = running.engine_ids()
        owner = holders[tables[0].game_id]
        assert owner in ids, (owner, ids)
        hit = [t for t in tables if holders[t.game_id] == owner]
        ids[owner].kill()
        killed.update(owner=owner, ms=time.time() * 1000)
        return hit

    seated, hit, _ = await _scenario(running, kill_the_owner)
    # The next accepted move of each game the dead engine owned: its commit time
    # (the event's ts_ms, from the new owner) after the kill.
    logs = await event_logs(running, [t.game_id for t in hit])
    takeover = {
        g: min(e["ts_ms"] for e in log if e["kind"] == "move" and e["ts_ms"] > killed["ms"])
        - killed["ms"]
        for g, log in logs.items()
    }
    worst = max(takeover.values())
    # Lease expiry, one poll of the survivor, the reload and a client retry.
    assert worst < LEASE_TTL_MS + 4000, takeover
    holders = await _holders(running, [t.game_id for t in seated])
    assert killed["owner"] not in holders.values()
    log.warning("engine takeover: next accepted move %.0f ms after SIGKILL", worst)


async def test_sigkill_a_gateway_its_clients_resume_on_the_other(running: Cluster) -> None:
    async def kill_a_gateway(tables: list[Table]) -> int:
        running.gateways[0].kill()
        clients = [c for t in tables for c in t.seats.values()]
        # Each of its clients reconnects through nginx (to the other gateway) and resumes.
        await poll(lambda: any(c.reconnects for c in clients), "a client to reconnect", 20)
        return sum(c.reconnects for c in clients)

    seated, reconnects, _ = await _scenario(running, kill_a_gateway)
    assert reconnects >= 1
    moved = [c for t in seated for c in t.seats.values() if c.reconnects]
    assert moved and all(len(c.wire) for c in moved)


async def test_redis_restart_loses_nothing(running: Cluster) -> None:
    async def restart_redis(_tables: list[Table]) -> None:
        await asyncio.to_thread(running.redis.restart)  # empty: queues, leases, pub/sub gone

    _, _, figures = await _scenario(running, restart_redis)
    assert figures["acks"] >= TABLES * (BEFORE + AFTER)


async def test_postgres_restart_no_ack_without_a_commit(running: Cluster) -> None:
    window: dict[str, float] = {}

    async def restart_postgres(tables: list[Table]) -> None:
        await asyncio.to_thread(running.postgres.stop)
        window["down"] = time.monotonic()
        await asyncio.sleep(1.5)  # an outage the players live through (not a synchronization)
        window["up"] = time.monotonic()
        await asyncio.to_thread(running.postgres.start)

    seated, _, figures = await _scenario(running, restart_postgres)
    # While the store was down nothing was acknowledged (acks of commits made before
    # the stop may still be on their way for a moment).
    during = [a for t in seated for a in t.acks if window["down"] + 0.3 < a.at < window["up"]]
    assert during == [], during
    assert figures["retries"], "the outage went unnoticed"
    # A stopped store is an outage, answered as one, never as our bug.
    assert figures["retries"]["games_unavailable"] >= 1, figures
    assert not figures["retries"].get("internal_error"), figures


async def test_all_engines_down_api_still_serves_and_play_resumes(running: Cluster) -> None:
    outage: dict[str, Any] = {}

    async def stop_engines(tables: list[Table]) -> None:
        clients = [c for t in tables for c in t.seats.values()]
        await asyncio.gather(*(asyncio.to_thread(e.stop) for e in running.engines))
        # Clients are told games are unavailable (notice), moves are refused with it.

        def told(code: str) -> bool:
            return all(code in c.notices for c in clients)

        await poll(lambda: told("games_unavailable"), "games_unavailable notices")
        # The api tier does not care: a new account, a login, a wallet.
        (account,) = await register(running, 1, funds=250)
        async with Api(running.url) as api:
            tokens = await api.login(account.username, PASSWORD)
            outage["wallet"] = (await api.wallet(tokens.access_token))["balance"]
        for engine in running.engines:
            engine.launch()
        await asyncio.gather(*(asyncio.to_thread(e.wait_ready) for e in running.engines))
        await poll(lambda: told("games_available"), "games_available notices")

    _, _, figures = await _scenario(running, stop_engines)
    assert outage["wallet"] == 250
    assert figures["retries"]["games_unavailable"] >= 1, figures
