"""How every SQLite connection of the store is set up (one place for both paths:
SQLAlchemy's pool and the batch writer's own sqlite3 connection).

Durability: WAL with ``synchronous=FULL`` (a commit is on disk before it returns).
Switching a new database file to WAL needs the file to itself; SQLite answers
"database is locked" at once to a connection that asks while another is opening
the same new file (its busy handler does not wait for this), so the switch is
retried for a bounded time.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

BUSY_TIMEOUT_MS = 30_000
_WAL_RETRY_S = 10.0


def apply_pragmas(execute: Callable[[str], Any]) -> None:
    """Run the store's pragmas through ``execute`` (a cursor's or connection's)."""
    execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    deadline = time.monotonic() + _WAL_RETRY_S
    delay = 0.005
    while True:
        try:
            execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)  # runs on the connection's own thread, never the event loop
        delay = min(delay * 2, 0.2)
    execute("PRAGMA synchronous=FULL")
    execute("PRAGMA foreign_keys=ON")
