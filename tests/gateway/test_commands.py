"""The command router's failover: a command lost with a dead engine reaches the new owner."""

from __future__ import annotations

import asyncio
import time

import pytest

from meeple.bus.memory import MemoryBus
from meeple.gateway.commands import CommandRouter
from meeple.protocol.errors import ProtocolError
from meeple.protocol.internal import (
    CommandReply,
    command_queue,
    decode_command,
    encode_internal,
    reply_topic,
    shard_lease,
    shard_of,
)

GAME = "g-failover"
SHARD = shard_of(GAME)


async def pop_one(bus: MemoryBus, within: float) -> bytes | None:
    popped = await bus.pop([command_queue(SHARD)], max_items=1, wait_s=within)
    return popped[0][1] if popped else None


async def answer_replies(bus: MemoryBus, router: CommandRouter) -> None:
    sub = bus.subscriber()
    await sub.subscribe(reply_topic(router.gateway_id))
    async for _topic, data in sub:
        router.resolve(data)


async def test_a_command_popped_by_a_dead_engine_is_resent_to_the_new_owner() -> None:
    bus = MemoryBus()
    assert await bus.acquire(shard_lease(SHARD), "engine-a", 60_000)
    router = CommandRouter(bus, "gw1", timeout_s=5, holder_ttl_s=0.2, resend_after_s=0.3)
    router.start()
    replies = asyncio.create_task(answer_replies(bus, router))
    try:
        await router.any_available()
        command = router.command(
            game_id=GAME, player_id=7, command_id="c1", kind="move", arg="e2e4"
        )
        future = router.submit(command_queue(SHARD), command, shard=SHARD)
        lost = await pop_one(bus, 2)  # engine-a pops it and dies
        assert lost is not None and decode_command(lost).command_id == "c1"
        started = time.monotonic()
        await bus.release(shard_lease(SHARD), "engine-a")
        assert await bus.acquire(shard_lease(SHARD), "engine-b", 60_000)
        again = await pop_one(bus, 3)  # the new owner gets the same command
        assert again is not None and decode_command(again).command_id == "c1"
        reply = CommandReply(command_id="c1", player_id=7, game_id=GAME, ok=True, seq=5)
        await bus.publish(reply_topic("gw1"), encode_internal(reply))
        assert (await asyncio.wait_for(future, 2)).seq == 5
        assert time.monotonic() - started < 2  # well inside the 5 s command timeout
        assert await pop_one(bus, 0.5) is None  # resent once, not again and again
    finally:
        replies.cancel()
        await router.stop()


async def test_a_command_whose_owner_lives_is_not_resent() -> None:
    bus = MemoryBus()
    assert await bus.acquire(shard_lease(SHARD), "engine-a", 60_000)
    router = CommandRouter(bus, "gw2", timeout_s=1.0, holder_ttl_s=0.1, resend_after_s=0.2)
    router.start()
    try:
        await router.any_available()
        command = router.command(
            game_id=GAME, player_id=7, command_id="c2", kind="move", arg="e2e4"
        )
        future = router.submit(command_queue(SHARD), command, shard=SHARD)
        assert await pop_one(bus, 2) is not None  # a slow engine holds on to it
        with pytest.raises(ProtocolError) as raised:
            await asyncio.wait_for(future, 3)
        assert raised.value.code == "timeout"
        assert await pop_one(bus, 0) is None  # same owner: never pushed twice
    finally:
        await router.stop()
