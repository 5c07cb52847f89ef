"""Limits of the WebSocket edge, as plain synchronous objects (no I/O, no clock reads).

Callers pass the time in, so tests drive them with numbers and the gateway with
``time.monotonic()``. DESIGN.md invariant 7: every frame is size-limited and
rate-limited before anything else looks at it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; one token per frame.

    A refused frame does not consume a token. :attr:`strikes` counts refusals and
    forgets ``strike_decay_per_s`` of them per second, so that a client that hits
    the limit now and then (and backs off) stays well below any threshold, while a
    sustained flood, even one interleaved with accepted frames, piles them up.
    """

    rate: float
    burst: int
    strike_decay_per_s: float = 1.0
    tokens: float = field(init=False)
    stamp: float | None = field(default=None, init=False)
    strikes: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> bool:
        """Spend a token at time ``now`` (seconds); False if none is left."""
        if self.stamp is not None:
            elapsed = now - self.stamp
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
            self.strikes = max(0.0, self.strikes - elapsed * self.strike_decay_per_s)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.strikes += 1.0
        return False

    def retry_after_ms(self) -> int:
        """How long until the next token, in whole milliseconds (at least 1)."""
        if self.rate <= 0:
            return 60_000
        return max(1, int((1.0 - self.tokens) / self.rate * 1000) + 1)


class AddressLimiter:
    """Open connections per client address (per gateway process)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def acquire(self, address: str) -> bool:
        """Count a new connection from ``address``; False (and not counted) if at the limit."""
        if self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        """Forget one connection from ``address``."""
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]

    def count(self, address: str) -> int:
        """Connections open from ``address`` now."""
        return self._open.get(address, 0)


def frame_too_large(frame: str | bytes, limit: int) -> bool:
    """Whether a frame is over ``limit`` bytes (text counted as UTF-8)."""
    if isinstance(frame, bytes):
        return len(frame) > limit
    # A str has at most 4 bytes per character: skip encoding the common small frame.
    if len(frame) * 4 <= limit:
        return False
    return len(frame.encode()) > limit
