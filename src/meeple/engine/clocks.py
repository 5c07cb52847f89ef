"""Chess clocks as values: integer milliseconds, no reading of any real clock.

A :class:`Clock` holds every seat's remaining time as of ``since_ms`` and the
seats whose time is running. Every method takes the current time from the caller
(the engine's commit time), so replaying the same calls gives the same clocks.

Charging: a running seat is charged ``now - since_ms`` when the clock is
stopped (at every event of its game); its increment is added after its move.
A seat whose clock is not running is never charged, which is how a reload after
a crash is made fair: the loader restarts the running clocks at load time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Clock:
    """Remaining milliseconds per seat at ``since_ms``; ``running`` seats lose time."""

    remaining: tuple[int, ...]
    running: tuple[int, ...] = ()
    since_ms: int = 0

    @classmethod
    def new(cls, seats: int, base_ms: int, now_ms: int) -> Clock:
        """Every seat at ``base_ms``, nothing running."""
        return cls(remaining=(base_ms,) * seats, running=(), since_ms=now_ms)

    def read(self, now_ms: int) -> tuple[int, ...]:
        """Each seat's remaining time at ``now_ms`` (never below zero)."""
        elapsed = max(0, now_ms - self.since_ms)
        return tuple(
            max(0, left - elapsed) if seat in self.running else left
            for seat, left in enumerate(self.remaining)
        )

    def stop(self, now_ms: int) -> Clock:
        """Charge the running seats up to ``now_ms`` and stop every clock."""
        return Clock(remaining=self.read(now_ms), running=(), since_ms=now_ms)

    def run(self, seats: tuple[int, ...], now_ms: int) -> Clock:
        """Charge up to ``now_ms``, then run exactly ``seats`` from ``now_ms``."""
        stopped = self.stop(now_ms)
        return replace(stopped, running=tuple(sorted(seats)))

    def add(self, seat: int, ms: int) -> Clock:
        """Give ``seat`` ``ms`` more (the increment after a move)."""
        remaining = list(self.remaining)
        remaining[seat] += ms
        return replace(self, remaining=tuple(remaining))

    def flag(self) -> tuple[int, int] | None:
        """``(time, seat)`` of the first running seat to run out, or ``None``."""
        flags = [(self.since_ms + self.remaining[seat], seat) for seat in self.running]
        return min(flags) if flags else None
