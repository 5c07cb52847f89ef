"""A refusal is fenced like a write: an engine whose table of a game is stale (another
engine wrote since) never refuses a command on it.

The case the cluster's Redis-restart test met: Redis restarts and loses every lease,
so another engine takes a shard at once while its old owner still trusts its lease
until the next renewal. In that window both decide the shard's commands. A stale
owner's *write* is fenced by the store's expected seq; a *refusal* writes nothing,
so it went out unfenced: a legal move was refused with ``illegal_move`` in an old
position, and the player's (correct) view looked diverged.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from meeple.engine import Engine
from meeple.protocol.internal import Command, CommandReply, shard_lease, shard_of
from meeple.store.database import Store
from tests.engine.harness import Harness, fast_settings, wait_until


@pytest.fixture
async def harness2(sqlite_store: Store, tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness with long leases (nothing here expires) and room for a second engine."""
    settings = fast_settings(tmp_path, lease_ttl_ms=10_000, lease_poll_ms=50)
    harness = Harness(sqlite_store, settings)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()


async def _frozen_leases(engine: Engine) -> None:
    """Stop the engine's lease upkeep: it is between two renewals for as long as we like."""

    async def between_renewals(*_args: object) -> Any:
        await asyncio.Event().wait()

    engine.ownership.renew = between_renewals  # type: ignore[method-assign]
    engine._rebalance = between_renewals  # type: ignore[method-assign]


async def _decide_on(harness: Harness, engine: Engine, command: Command) -> CommandReply:
    """Hand ``command`` to ``engine`` directly (not through the shared queue)."""
    future: asyncio.Future[CommandReply] = asyncio.get_running_loop().create_future()
    harness._replies[(command.player_id, command.command_id)] = future
    await engine._handle_batch([command])
    return await asyncio.wait_for(future, 5)


async def _two_owners(harness: Harness) -> tuple[Engine, Engine, str, int, int]:
    """A game whose shard both engines think they own (A stale-to-be, B the new owner),
    after 1. e4 e5 played on A."""
    a = harness.engine
    white, black = await harness.players(2)
    game_id = await harness.game([white, black])
    for player, move in [(white, "e2e4"), (black, "e7e5")]:
        assert (await _decide_on(harness, a, harness.command(game_id, player, "move", move))).ok
    await _frozen_leases(a)
    # Redis restarts: the lease is gone, A does not know before its next renewal.
    shard = shard_of(game_id)
    await harness.bus.release(shard_lease(shard), a.engine_id)
    b = await harness.add_engine("engine-b")

    async def taken() -> bool:
        return shard in b.owned

    await wait_until(taken, "engine B to take the freed shard")
    assert shard in a.owned  # the window: both decide this shard's commands
    return a, b, game_id, white, black


async def test_a_stale_owner_does_not_refuse_a_move_legal_in_the_true_position(
    harness2: Harness,
) -> None:
    a, b, game_id, white, black = await _two_owners(harness2)
    # B plays on: 2. Nf3 Nc6 (A's table still says 1. e4 e5, white to move).
    for player, move in [(white, "g1f3"), (black, "b8c6")]:
        reply = await _decide_on(harness2, b, harness2.command(game_id, player, "move", move))
        assert reply.ok, reply
    # 3. Nxe5 reaches A: illegal in A's stale position (no knight on f3), legal in truth.
    reply = await _decide_on(harness2, a, harness2.command(game_id, white, "move", "f3e5"))
    assert reply.ok, reply
    assert reply.seq == 6
    moves = [e.data.get("move") for e in await harness2.events(game_id)]
    assert moves == [None, "e2e4", "e7e5", "g1f3", "b8c6", "f3e5"]


async def test_a_stale_owner_does_not_answer_not_your_turn(harness2: Harness) -> None:
    a, b, game_id, white, black = await _two_owners(harness2)
    reply = await _decide_on(harness2, b, harness2.command(game_id, white, "move", "g1f3"))
    assert reply.ok, reply
    # Black's move reaches A, whose table says white is to move.
    reply = await _decide_on(harness2, a, harness2.command(game_id, black, "move", "b8c6"))
    assert reply.ok, reply
    assert reply.seq == 5


async def test_a_refusal_on_a_current_table_stands_and_is_remembered(
    harness2: Harness,
) -> None:
    a, b, game_id, white, _black = await _two_owners(harness2)
    # Nothing was written since A's table: its refusal is the truth.
    wrong = harness2.command(game_id, white, "move", "e4e5")
    reply = await _decide_on(harness2, a, wrong)
    assert (reply.ok, reply.code) == (False, "illegal_move")
    # The same id again gets the same first outcome, even once the move is legal.
    assert (await _decide_on(harness2, b, harness2.command(game_id, white, "move", "g1f3"))).ok
    again = await _decide_on(harness2, a, wrong)
    assert (again.ok, again.code) == (False, "illegal_move")
