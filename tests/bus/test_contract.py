"""The Bus contract: the same tests on every adapter (memory and Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from meeple.bus.base import GAP_TOPIC, Bus
from tests.bus.conftest import Collector

Collect = Callable[..., Collector]

# -------------------------------------------------------------------------- pub/sub


async def test_publish_reaches_subscriber_in_order_per_topic(bus: Bus, collect: Collect) -> None:
    col = collect()
    await col.sub.subscribe("a", "b")
    for i in range(50):
        await bus.publish("a", b"a%d" % i)
        await bus.publish("b", b"b%d" % i)
    await col.count(100)
    assert col.of("a") == [b"a%d" % i for i in range(50)]
    assert col.of("b") == [b"b%d" % i for i in range(50)]


async def test_publish_many_keeps_order(bus: Bus, collect: Collect) -> None:
    col = collect()
    await col.sub.subscribe("x", "y")
    batch = [("x" if i % 3 else "y", b"%d" % i) for i in range(1200)]  # > one pipeline chunk
    await bus.publish_many(batch)
    await col.count(len(batch))
    assert col.of("x") == [d for t, d in batch if t == "x"]
    assert col.of("y") == [d for t, d in batch if t == "y"]


async def test_fan_out_to_every_subscriber(bus: Bus, collect: Collect) -> None:
    cols = [collect() for _ in range(3)]
    for col in cols:
        await col.sub.subscribe("game.1")
    await bus.publish_many([("game.1", b"one"), ("game.1", b"two")])
    for col in cols:
        assert await col.count(2) == [("game.1", b"one"), ("game.1", b"two")]


async def test_topics_are_separate(bus: Bus, collect: Collect) -> None:
    a, b = collect(), collect()
    await a.sub.subscribe("t.a")
    await b.sub.subscribe("t.b")
    await bus.publish("t.a", b"for a")
    await bus.publish("t.b", b"for b")
    assert await a.count(1) == [("t.a", b"for a")]
    assert await b.count(1) == [("t.b", b"for b")]
    await bus.publish("t.a", b"again")
    await a.count(2)
    assert b.frames == [("t.b", b"for b")]


async def test_unsubscribe_stops_delivery(bus: Bus, collect: Collect) -> None:
    col = collect()
    await col.sub.subscribe("gone", "kept")
    await bus.publish("gone", b"before")
    await col.count(1)
    await col.sub.unsubscribe("gone")
    await bus.publish("gone", b"after")
    await bus.publish("kept", b"marker")  # delivered after "after" would have been
    await col.until(lambda c: ("kept", b"marker") in c.frames)
    assert col.of("gone") == [b"before"]


async def test_subscribe_while_iterating(bus: Bus, collect: Collect) -> None:
    col = collect()
    await col.sub.subscribe("first")
    await bus.publish("first", b"1")
    await col.count(1)
    await col.sub.subscribe("second")
    await bus.publish("second", b"2")
    await col.sub.unsubscribe("first")
    await col.sub.subscribe("first")  # again: live from now on
    await bus.publish("first", b"3")
    await col.count(3)
    assert col.frames == [("first", b"1"), ("second", b"2"), ("first", b"3")]


async def test_subscribing_twice_delivers_once(bus: Bus, collect: Collect) -> None:
    col = collect()
    await col.sub.subscribe("dup", "dup")
    await col.sub.subscribe("dup")
    await bus.publish("dup", b"x")
    await bus.publish("dup", b"y")
    await col.count(2)
    assert col.frames == [("dup", b"x"), ("dup", b"y")]


async def test_overflow_marks_and_ends_the_subscriber(bus: Bus) -> None:
    slow = bus.subscriber(limit=3)
    await slow.subscribe("busy")
    await bus.publish_many([("busy", b"%d" % i) for i in range(10)])
    received: list[bytes] = []
    async with asyncio.timeout(5):
        async for _topic, data in slow:  # ends once the overflow has happened
            received.append(data)
    assert slow.overflowed
    assert received == [b"0", b"1", b"2"]
    await bus.publish("busy", b"later")  # a dropped subscriber gets nothing more
    assert [d async for _t, d in slow] == []


async def test_subscriber_within_its_limit_does_not_overflow(bus: Bus, collect: Collect) -> None:
    col = collect(limit=5)
    await col.sub.subscribe("t")
    await bus.publish_many([("t", b"%d" % i) for i in range(5)])
    await col.count(5)
    assert not col.sub.overflowed and not col.ended


async def test_close_ends_iteration(bus: Bus, collect: Collect) -> None:
    col = collect()
    await col.sub.subscribe("t")
    await bus.publish("t", b"x")
    await col.count(1)
    await col.sub.close()
    await col.until(lambda c: c.ended)
    assert not col.sub.overflowed
    await bus.publish("t", b"after close")  # nobody is listening: no error


async def test_no_gap_marker_in_normal_operation(bus: Bus, collect: Collect) -> None:
    col = collect()
    await col.sub.subscribe("t")
    await bus.publish_many([("t", b"1"), ("t", b"2")])
    await col.count(2)
    assert col.sub.gaps == 0
    assert all(topic != GAP_TOPIC for topic, _ in col.frames)


async def test_publish_without_subscribers(bus: Bus) -> None:
    await bus.publish("nobody", b"x")
    await bus.publish_many([("nobody", b"y")])
    await bus.publish_many([])


# ---------------------------------------------------------------------- work queues


async def test_queue_is_fifo_across_batches(bus: Bus) -> None:
    for i in range(10):
        await bus.push("q", b"%d" % i)
    first = await bus.pop(["q"], max_items=4, wait_s=0)
    second = await bus.pop(["q"], max_items=4, wait_s=0)
    await bus.push("q", b"10")
    third = await bus.pop(["q"], max_items=100, wait_s=0)
    assert first == [("q", b"%d" % i) for i in range(4)]
    assert second == [("q", b"%d" % i) for i in range(4, 8)]
    assert third == [("q", b"8"), ("q", b"9"), ("q", b"10")]
    assert await bus.pop(["q"], max_items=4, wait_s=0) == []


async def test_pop_waits_at_most_wait_s(bus: Bus) -> None:
    started = time.monotonic()
    assert await bus.pop(["empty"], max_items=5, wait_s=0.3) == []
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 2.0


async def test_pop_wakes_on_push_and_takes_the_batch(bus: Bus) -> None:
    waiting = asyncio.create_task(bus.pop(["late"], max_items=10, wait_s=10))
    await asyncio.sleep(0.05)  # let it block (the outcome is the same if it did not yet)
    started = time.monotonic()
    await bus.push("late", b"x")
    async with asyncio.timeout(5):
        got = await waiting
    assert got[0] == ("late", b"x")
    assert time.monotonic() - started < 2.0


async def test_each_item_to_one_consumer(bus: Bus) -> None:
    for i in range(20):
        await bus.push("shared", b"%d" % i)
    batches = await asyncio.gather(
        *(bus.pop(["shared"], max_items=3, wait_s=0.2) for _ in range(10))
    )
    items = [data for batch in batches for _q, data in batch]
    assert sorted(items) == sorted(b"%d" % i for i in range(20))


async def test_pop_from_several_queues(bus: Bus) -> None:
    await bus.push("q1", b"a")
    await bus.push("q2", b"b")
    await bus.push("q2", b"c")
    await bus.push("q3", b"d")
    got = await bus.pop(["q2", "q1", "q3"], max_items=3, wait_s=0)
    assert got == [("q2", b"b"), ("q2", b"c"), ("q1", b"a")]
    assert await bus.pop(["q1", "q2", "q3"], max_items=3, wait_s=0) == [("q3", b"d")]


async def test_blocking_pop_from_several_queues(bus: Bus) -> None:
    waiting = asyncio.create_task(bus.pop(["w1", "w2"], max_items=5, wait_s=10))
    await asyncio.sleep(0.05)
    await bus.push("w2", b"second queue")
    async with asyncio.timeout(5):
        got = await waiting
    assert got == [("w2", b"second queue")]


async def test_queues_are_separate(bus: Bus) -> None:
    await bus.push("mine", b"1")
    assert await bus.pop(["other"], max_items=5, wait_s=0) == []
    assert await bus.pop(["mine"], max_items=5, wait_s=0) == [("mine", b"1")]


# --------------------------------------------------------------------------- leases


async def test_lease_is_exclusive(bus: Bus) -> None:
    assert await bus.acquire("lease.x", "e1", 5000)
    assert not await bus.acquire("lease.x", "e2", 5000)
    assert await bus.holder("lease.x") == "e1"
    assert await bus.holder("lease.free") is None


async def test_owner_renews_its_lease(bus: Bus) -> None:
    assert await bus.acquire("lease.r", "e1", 300)
    deadline = time.monotonic() + 0.9  # three times the ttl: only renewals keep it
    while time.monotonic() < deadline:
        assert await bus.acquire("lease.r", "e1", 300)
        assert not await bus.acquire("lease.r", "e2", 300)
        await asyncio.sleep(0.05)
    assert await bus.holder("lease.r") == "e1"


async def test_expired_lease_can_be_taken(bus: Bus) -> None:
    assert await bus.acquire("lease.e", "e1", 100)
    deadline = time.monotonic() + 5
    while await bus.holder("lease.e") is not None:
        assert time.monotonic() < deadline, "the lease never expired"
        await asyncio.sleep(0.02)
    assert await bus.acquire("lease.e", "e2", 5000)
    assert await bus.holder("lease.e") == "e2"
    assert not await bus.acquire("lease.e", "e1", 5000)


async def test_release_only_by_owner(bus: Bus) -> None:
    assert await bus.acquire("lease.o", "e1", 5000)
    await bus.release("lease.o", "e2")
    assert await bus.holder("lease.o") == "e1"
    await bus.release("lease.o", "e1")
    assert await bus.holder("lease.o") is None
    assert await bus.acquire("lease.o", "e2", 5000)
    await bus.release("lease.nobody", "e1")  # releasing a free lease is a no-op


async def test_many_leases_at_once(bus: Bus) -> None:
    names = [f"lease.shard.{s}" for s in range(64)]
    held = await asyncio.gather(*(bus.acquire(n, "e1", 5000) for n in names))
    assert all(held)
    other = await asyncio.gather(*(bus.acquire(n, "e2", 5000) for n in names))
    assert not any(other)
    await asyncio.gather(*(bus.release(n, "e1") for n in names))
    assert await asyncio.gather(*(bus.holder(n) for n in names)) == [None] * 64


# ------------------------------------------------------------------------ life cycle


async def test_ping(bus: Bus) -> None:
    assert await bus.ping()


async def test_concurrent_subscribes_are_all_live_when_they_return(
    bus: Bus, collect: Collect
) -> None:
    col = collect()
    topics = [f"many.{i}" for i in range(100)]
    await asyncio.gather(*(col.sub.subscribe(t) for t in topics))
    await bus.publish_many([(t, t.encode()) for t in topics])
    await col.count(len(topics))
    assert sorted(col.frames) == sorted((t, t.encode()) for t in topics)
    assert col.sub.gaps == 0
