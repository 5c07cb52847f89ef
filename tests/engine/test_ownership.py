"""Shard ownership: the fair-share plan, and the ``holders`` read on both bus adapters."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from meeple.bus.base import Bus
from meeple.bus.memory import MemoryBus
from meeple.bus.redis import RedisBus
from meeple.engine.ownership import MEMBER_SLOTS, Ownership, fair_share, member_lease, plan
from meeple.protocol.internal import SHARDS, shard_lease
from tests.services import RedisServer


def test_fair_share_covers_every_shard() -> None:
    for members in range(1, SHARDS + 3):
        assert fair_share(members) * members >= SHARDS
        assert (fair_share(members) - 1) * members < SHARDS or fair_share(members) == 1
    assert [fair_share(n) for n in (1, 2, 3, 4, 64)] == [64, 32, 22, 16, 1]


def test_plan_takes_free_shards_up_to_the_share() -> None:
    holders: list[str | None] = [None] * SHARDS
    first = plan("a", frozenset(), holders, members=1)
    assert sorted(first.take) == list(range(SHARDS)) and first.give == ()
    holders = ["b"] * 40 + [None] * 24
    second = plan("a", frozenset(), holders, members=2)
    assert len(second.take) == 24 and set(second.take) == set(range(40, 64))


def test_plan_gives_up_the_shards_above_the_share() -> None:
    owned = frozenset(range(SHARDS))
    decided = plan("a", owned, ["a"] * SHARDS, members=3)
    assert len(decided.give) == SHARDS - 22 and decided.take == ()
    # The same engine keeps the same shards whenever it has to choose (stable order).
    assert plan("a", owned, ["a"] * SHARDS, members=3) == decided


def test_plan_counts_a_lease_it_still_holds_as_its_own() -> None:
    # Its trust ran out but the bus still names it: it may take the shard back.
    decided = plan("a", frozenset(), ["a"] + ["b"] * (SHARDS - 1), members=2)
    assert decided.take == (0,)


def test_engines_prefer_different_free_shards() -> None:
    free: list[str | None] = [None] * SHARDS
    a = plan("engine-a", frozenset(), free, members=2).take
    b = plan("engine-b", frozenset(), free, members=2).take
    assert len(set(a) & set(b)) < 24  # two random halves overlap by ~16


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    the_bus: Bus
    if request.param == "memory":
        the_bus = MemoryBus()
    else:
        server: RedisServer = request.getfixturevalue("redis")
        server.start()
        the_bus = RedisBus(server.url, prefix=f"t{uuid.uuid4().hex[:12]}:")
    try:
        yield the_bus
    finally:
        await the_bus.close()


async def test_holders_reads_every_lease_at_once(bus: Bus) -> None:
    assert await bus.acquire("lease.x", "a", 5_000)
    assert await bus.acquire("lease.z", "b", 5_000)
    assert await bus.holders(["lease.x", "lease.y", "lease.z"]) == ["a", None, "b"]
    await bus.release("lease.x", "a")
    assert await bus.holders(["lease.x", "lease.z"]) == [None, "b"]
    assert await bus.holders([]) == []


async def test_members_join_and_leave(bus: Bus) -> None:
    a = Ownership(bus, "a", ttl_ms=5_000)
    b = Ownership(bus, "b", ttl_ms=5_000)
    plan_a = await a.poll(await bus.holders(a.lease_names()))
    assert a.members == 1 and len(plan_a.take) == SHARDS
    assert await a.take(plan_a.take) == set(range(SHARDS))
    plan_b = await b.poll(await bus.holders(b.lease_names()))
    assert b.members == 2 and plan_b == type(plan_b)()  # nothing free yet
    plan_a = await a.poll(await bus.holders(a.lease_names()))
    assert a.members == 2 and len(plan_a.give) == SHARDS // 2
    await a.release(plan_a.give)
    plan_b = await b.poll(await bus.holders(b.lease_names()))
    assert await b.take(plan_b.take) == set(plan_a.give)
    assert a.shards.isdisjoint(b.shards) and len(a.shards | b.shards) == SHARDS
    await a.leave()
    slots = await bus.holders([member_lease(s) for s in range(MEMBER_SLOTS)])
    assert [h for h in slots if h is not None] == ["b"]
    shards = await bus.holders([shard_lease(s) for s in range(SHARDS)])
    assert {s for s, h in enumerate(shards) if h == "b"} == b.shards
    assert all(h in (None, "b") for h in shards)


async def test_handover_marks_are_overwritten_and_read_back(bus: Bus) -> None:
    a = Ownership(bus, "a", ttl_ms=5_000)
    b = Ownership(bus, "b", ttl_ms=5_000)
    assert await b.handover_marks([1, 2]) == {}
    await a.mark_handover([1, 2], 1_000)
    await a.mark_handover([2], 2_000)  # a later handover of the same shard
    assert await b.handover_marks([1, 2, 3]) == {1: 1_000, 2: 2_000}
