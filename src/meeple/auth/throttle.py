"""Login throttling on fixed-window counters kept in the store's ``throttle`` table.

Two counters per failed login: one for the account (``login:user:<username>``) and one
for the client address (``login:ip:<address>``, allowed ten times as many, since one
address may hide many honest players behind a NAT). Once either reaches its limit,
logins are refused until its window ends, right password or not; a successful login
clears the account's counter. The counters live in the store, so every api replica
counts the same attempts; each update is one atomic upsert.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import case, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from meeple.auth.errors import LoginThrottled
from meeple.auth.policy import username_key
from meeple.store.database import Store
from meeple.store.schema import throttle

ADDRESS_FACTOR = 10


class LoginThrottle:
    """Failed-login counters per account and per client address."""

    def __init__(self, store: Store, *, max_failures: int, window_s: int) -> None:
        self._store = store
        self.max_failures = max_failures
        self.window_ms = window_s * 1000

    def _keys(self, username: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"login:user:{username_key(username)}"[:128], self.max_failures)]
        if address:
            keys.append((f"login:ip:{address}"[:128], self.max_failures * ADDRESS_FACTOR))
        return keys

    async def check(self, username: str, address: str | None) -> None:
        """Raise :class:`LoginThrottled` if this account or address is over its limit."""
        now = _now_ms()
        keys = self._keys(username, address)
        async with self._store.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        throttle.c.key,
                        throttle.c.count.label("failures"),
                        throttle.c.window_start_ms,
                    ).where(throttle.c.key.in_([k for k, _ in keys]))
                )
            ).all()
        limits = dict(keys)
        wait_ms = 0
        for row in rows:
            window_end = row.window_start_ms + self.window_ms
            if window_end > now and row.failures >= limits[row.key]:
                wait_ms = max(wait_ms, window_end - now)
        if wait_ms:
            raise LoginThrottled(
                "too many failed logins; try again later", retry_after=math.ceil(wait_ms / 1000)
            )

    async def record_failure(self, username: str, address: str | None) -> None:
        """Count one failed login against the account and the address."""
        now = _now_ms()
        insert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
        async with self._store.begin() as conn:
            for key, _limit in self._keys(username, address):
                stmt = insert(throttle).values(key=key, count=1, window_start_ms=now)
                expired = stmt.excluded.window_start_ms - throttle.c.window_start_ms >= (
                    self.window_ms
                )
                await conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[throttle.c.key],
                        set_={
                            "count": case((expired, 1), else_=throttle.c.count + 1),
                            "window_start_ms": case(
                                (expired, stmt.excluded.window_start_ms),
                                else_=throttle.c.window_start_ms,
                            ),
                        },
                    )
                )

    async def reset(self, username: str) -> None:
        """Forget the account's failures (after a successful login)."""
        async with self._store.begin() as conn:
            await conn.execute(
                throttle.delete().where(throttle.c.key == self._keys(username, None)[0][0])
            )


def _now_ms() -> int:
    return int(time.time() * 1000)
