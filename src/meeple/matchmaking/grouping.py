"""Who plays whom: grouping a queue's waiting players by rating (pure).

Each waiting player accepts opponents within a rating *window* that starts at
``window`` and widens by ``growth_per_s`` for every second waited, so a quiet
queue still matches people eventually. A group is acceptable when its rating
spread (highest minus lowest) fits the window of every member. The longest-waiting
player is served first, with the opponents nearest to their rating; ties go to the
longest-waiting. Players with nobody acceptable keep waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Waiting:
    """One queue entry: who, at what rating, since when (ms)."""

    player_id: int
    rating: int
    enqueued_ms: int


@dataclass(frozen=True, slots=True)
class Window:
    """How far apart matched ratings may be: ``base + growth_per_s * waited seconds``."""

    base: int = 100
    growth_per_s: float = 20.0

    def of(self, entry: Waiting, now_ms: int) -> float:
        """The window of ``entry`` at ``now_ms``."""
        waited_s = max(0, now_ms - entry.enqueued_ms) / 1000
        return self.base + self.growth_per_s * waited_s


def group(
    entries: Sequence[Waiting], seats: int, window: Window, now_ms: int
) -> list[tuple[Waiting, ...]]:
    """Groups of ``seats`` players to start games with, oldest waiters first."""
    waiting = sorted(entries, key=lambda e: (e.enqueued_ms, e.player_id))
    taken: set[int] = set()
    groups: list[tuple[Waiting, ...]] = []
    for anchor in waiting:
        if anchor.player_id in taken:
            continue
        members = [anchor]
        candidates = sorted(
            (e for e in waiting if e.player_id not in taken and e is not anchor),
            key=lambda e: (abs(e.rating - anchor.rating), e.enqueued_ms, e.player_id),
        )
        for candidate in candidates:
            if len(members) == seats:
                break
            trial = [*members, candidate]
            spread = max(m.rating for m in trial) - min(m.rating for m in trial)
            if all(spread <= window.of(m, now_ms) for m in trial):
                members = trial
        if len(members) == seats:
            groups.append(tuple(members))
            taken.update(m.player_id for m in members)
    return groups


def parse_time_control(text: str) -> tuple[int, int]:
    """``"3+2"`` -> ``(180_000, 2_000)``: base and increment in ms. ValueError if malformed."""
    minutes, sep, increment = text.strip().partition("+")
    if not sep or not minutes.isdigit() or not increment.isdigit():
        raise ValueError(f"time control must look like '3+2', not {text!r}")
    return int(minutes) * 60_000, int(increment) * 1000


def format_time_control(base_ms: int, increment_ms: int) -> str:
    """The inverse of :func:`parse_time_control` (fractions where not whole)."""
    return f"{base_ms / 60_000:g}+{increment_ms / 1000:g}"
