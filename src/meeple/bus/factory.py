"""Choose the Bus adapter from the settings: Redis when ``MEEPLE_REDIS_URL`` is set."""

from __future__ import annotations

from meeple.bus.base import Bus
from meeple.settings import Settings


def open_bus(settings: Settings) -> Bus:
    """A :class:`~meeple.bus.redis.RedisBus` on ``settings.redis_url``, else a
    :class:`~meeple.bus.memory.MemoryBus` (one process). Connects lazily: the
    first call reaches Redis (and raises ``BusUnavailable`` if it cannot)."""
    if settings.redis_url:
        from meeple.bus.redis import RedisBus

        return RedisBus(settings.redis_url)
    from meeple.bus.memory import MemoryBus

    return MemoryBus()
