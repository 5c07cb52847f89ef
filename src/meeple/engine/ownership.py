"""Which engine owns which shards: membership, a fair share, handover and takeover.

Games are hashed into :data:`~meeple.protocol.internal.SHARDS` shards; the holder of
a shard's lease (``lease.shard.<n>``) alone runs its games. Engines coordinate
through leases only (no leader, no messages):

- **Membership.** Every live engine holds one member lease ``lease.engine.<slot>``
  (the lowest free slot of :data:`MEMBER_SLOTS`), renewed with its shards. The
  number of held slots is the number of live engines ``n``.
- **Fair share.** Each engine aims at ``ceil(SHARDS / n)`` shards. Every poll
  (``lease_poll_ms``) it reads every lease holder at once, takes free shards up to
  its share and gives up the shards above it, so that a joining engine gets some
  within two polls. Engines prefer different free shards (an order hashed from
  their id), so racing engines rarely ask for the same one.
- **Handover.** A shard given up (rebalance, or every shard on :meth:`stop`) is
  first removed from the owned set under the engine's batch lock, so the batch in
  flight finishes and no new one takes its commands; then its lease is released
  and the next engine takes it at its next poll.
- **Takeover.** A dead engine's leases expire after ``lease_ttl_ms``; its member
  slot is renewed just before its shards, so it expires first and the survivors
  already count one engine less when the shards come free.
- **Trust.** A lease is trusted locally until ``sent + ttl - margin`` (monotonic
  clock, from *before* the renewal was sent, so that it ends before the bus's
  own expiry). The engine checks it before every commit; a paused engine whose
  lease ran out does not write. The store's expected-sequence append is the real
  fence for the remaining race (paused between the check and the commit).

:func:`plan` is the pure decision; :class:`Ownership` does the bus calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from meeple.bus.base import Bus
from meeple.protocol.internal import SHARDS, shard_lease

MEMBER_SLOTS = SHARDS
"""At most this many engines count as members (more could own nothing anyway)."""


def member_lease(slot: int) -> str:
    """Lease name of a member slot; its holder is a live engine."""
    return f"lease.engine.{slot}"


def handover_mark(shard: int) -> str:
    """Name under which a releasing engine leaves the time (ms) it handed a shard over."""
    return f"lease.handover.{shard}"


def fair_share(members: int) -> int:
    """Shards each of ``members`` engines should own (rounded up: all are covered)."""
    return math.ceil(SHARDS / max(1, members))


class LeaseExpired(Exception):
    """A write for a shard whose lease this engine can no longer trust (refused)."""

    code = "games_unavailable"

    def __init__(self, game_id: str) -> None:
        super().__init__(f"the shard lease of {game_id} is no longer trusted here")
        self.game_id = game_id


@dataclass(frozen=True, slots=True)
class Plan:
    """What one poll decided: shards to try to take, shards to give up."""

    take: tuple[int, ...] = ()
    give: tuple[int, ...] = ()


def preference(owner: str, shard: int) -> int:
    """How much ``owner`` wants ``shard`` (lower first): a stable per-engine order."""
    # Not crc32: it is linear, so ids differing by a character would rank alike.
    digest = hashlib.blake2b(f"{owner}/{shard}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def plan(owner: str, owned: frozenset[int], holders: Sequence[str | None], members: int) -> Plan:
    """Take free shards up to the fair share, or give up the ones above it.

    ``holders`` are the shard leases' holders (index = shard), ``members`` the live
    engines (this one included).
    """
    share = fair_share(members)
    ranked = sorted(owned, key=lambda s: preference(owner, s))
    if len(ranked) > share:
        return Plan(give=tuple(ranked[share:]))
    free = [s for s, h in enumerate(holders) if s not in owned and h in (None, owner)]
    free.sort(key=lambda s: preference(owner, s))
    return Plan(take=tuple(free[: share - len(owned)]))


class Ownership:
    """This engine's member slot and shard leases, with their local trust deadlines."""

    def __init__(self, bus: Bus, owner: str, *, ttl_ms: int, margin_ms: int | None = None):
        self.bus = bus
        self.owner = owner
        self.ttl_ms = ttl_ms
        self.margin_s = (margin_ms if margin_ms is not None else max(100, ttl_ms // 10)) / 1000
        self.trusted: dict[int, float] = {}  # shard -> monotonic time its lease ends for us
        self.slot: int | None = None
        self.members = 1

    @property
    def shards(self) -> frozenset[int]:
        """Shards owned now (their games run here): held, and trusted still."""
        now = time.monotonic()
        return frozenset(s for s, until in self.trusted.items() if until > now)

    def holds(self, shard: int, now: float | None = None) -> bool:
        """Whether the shard's lease may still be trusted (check before writing)."""
        until = self.trusted.get(shard)
        return until is not None and until > (time.monotonic() if now is None else now)

    def expired(self) -> set[int]:
        """Owned shards whose trust ran out (renewals failed or came too late)."""
        now = time.monotonic()
        return {s for s, until in self.trusted.items() if until <= now}

    def forget(self, shards: set[int] | Sequence[int]) -> None:
        """Stop counting ``shards`` as owned (without telling the bus)."""
        for shard in shards:
            self.trusted.pop(shard, None)

    async def renew(self) -> set[int]:
        """Renew the member slot, then every owned shard; the shards lost."""
        sent = time.monotonic()
        until = sent + self.ttl_ms / 1000 - self.margin_s
        if self.slot is not None and not await self._acquire(member_lease(self.slot)):
            self.slot = None  # someone took it while we were away; find another
        owned = sorted(self.trusted)
        held = await asyncio.gather(*(self._acquire(shard_lease(s)) for s in owned))
        lost = set()
        for shard, ok in zip(owned, held, strict=True):
            if ok:
                self.trusted[shard] = until
            else:
                lost.add(shard)
                del self.trusted[shard]
        return lost

    async def poll(self, holders: Sequence[str | None]) -> Plan:
        """From every lease holder (shards, then member slots): join if needed, plan."""
        shard_holders, slot_holders = holders[:SHARDS], holders[SHARDS:]
        if self.slot is None or slot_holders[self.slot] != self.owner:
            self.slot = None
            for slot, holder in enumerate(slot_holders):
                if holder is None and await self._acquire(member_lease(slot)):
                    self.slot = slot
                    break
        others = sum(1 for h in slot_holders if h is not None and h != self.owner)
        self.members = others + 1
        return plan(self.owner, frozenset(self.trusted), shard_holders, self.members)

    def lease_names(self) -> list[str]:
        """Every lease :meth:`poll` wants the holder of, in its order."""
        return [shard_lease(s) for s in range(SHARDS)] + [
            member_lease(s) for s in range(MEMBER_SLOTS)
        ]

    async def take(self, shards: Sequence[int]) -> set[int]:
        """Try to take ``shards``; the ones now owned."""
        sent = time.monotonic()
        until = sent + self.ttl_ms / 1000 - self.margin_s
        held = await asyncio.gather(*(self._acquire(shard_lease(s)) for s in shards))
        gained = {s for s, ok in zip(shards, held, strict=True) if ok}
        for shard in gained:
            self.trusted[shard] = until
        return gained

    async def release(self, shards: Sequence[int]) -> None:
        """Give ``shards`` up now (forget them first: nothing may be written after)."""
        self.forget(shards)
        await asyncio.gather(*(self.bus.release(shard_lease(s), self.owner) for s in shards))

    async def mark_handover(self, shards: Sequence[int], at_ms: int) -> None:
        """Leave the handover time of ``shards`` for the next owner (a lease whose holder
        is the time: the port's only shared value; lost with Redis, then the next owner
        refunds the running clock since the last event, as after a crash)."""

        async def mark(shard: int) -> None:
            name = handover_mark(shard)
            old = await self.bus.holder(name)
            if old is not None:
                await self.bus.release(name, old)
            await self.bus.acquire(name, str(at_ms), max(60_000, 10 * self.ttl_ms))

        await asyncio.gather(*(mark(s) for s in shards))

    async def handover_marks(self, shards: Sequence[int]) -> dict[int, int]:
        """The handover times left for ``shards`` (none: taken over after a crash)."""
        names = [handover_mark(s) for s in shards]
        marks = await self.bus.holders(names) if names else []
        return {s: int(m) for s, m in zip(shards, marks, strict=True) if m and m.isdigit()}

    async def leave(self) -> None:
        """Give everything up at once: the member slot first, so that the others
        count one engine less by the time they see the shards free."""
        if self.slot is not None:
            await self.bus.release(member_lease(self.slot), self.owner)
            self.slot = None
        await self.release(sorted(self.trusted))

    async def _acquire(self, name: str) -> bool:
        return await self.bus.acquire(name, self.owner, self.ttl_ms)
