"""One timer for many games: a heap of deadlines behind a single loop callback.

The engine keeps at most one deadline per game (its next flag, first-move or
disconnect deadline, from :func:`meeple.engine.table.next_deadline`). Rather than a
task or a ``call_at`` handle per game, deadlines sit in a heap and one
``loop.call_at`` is armed for the earliest; re-scheduling a game just pushes a new
entry (stale ones are skipped when they come up). Deadlines are wall-clock
milliseconds, because they come from clocks stored in the event log.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable


def now_ms() -> int:
    """Wall-clock milliseconds since the epoch (the engine's only clock)."""
    return time.time_ns() // 1_000_000


class TimerWheel:
    """Deadlines by key; ``fire(key)`` is called (in the loop) once each is due."""

    def __init__(self, fire: Callable[[str], None], clock: Callable[[], int] = now_ms) -> None:
        self._fire = fire
        self._clock = clock
        self._due: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: int | None = None

    def __len__(self) -> int:
        return len(self._due)

    def schedule(self, key: str, at_ms: int | None) -> None:
        """Set (or with ``None`` clear) the deadline of ``key``."""
        if at_ms is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == at_ms:
            return
        self._due[key] = at_ms
        heapq.heappush(self._heap, (at_ms, key))
        if self._armed_at is None or at_ms < self._armed_at:
            self._arm()

    def cancel_all(self) -> None:
        """Forget every deadline (the engine is stopping)."""
        self._due.clear()
        self._heap.clear()
        if self._handle is not None:
            self._handle.cancel()
        self._handle, self._armed_at = None, None

    def _arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle, self._armed_at = None, None
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # stale: re-scheduled or cleared since
        if not self._heap:
            return
        at_ms = self._heap[0][0]
        loop = asyncio.get_running_loop()
        delay = max(0.0, (at_ms - self._clock()) / 1000)
        self._handle = loop.call_at(loop.time() + delay, self._run)
        self._armed_at = at_ms

    def _run(self) -> None:
        self._handle, self._armed_at = None, None
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            at_ms, key = heapq.heappop(self._heap)
            if self._due.get(key) == at_ms:
                del self._due[key]
                self._fire(key)
        self._arm()
