"""One plain ``sqlite3`` connection on one thread, for the hot write path.

Through SQLAlchemy and aiosqlite every statement is a hop to aiosqlite's thread
and back (plus greenlet switches): a batch of 32 appends cost ~20 statements'
worth of hops, ~0.6 ms of CPU per item. The engine's batch commit instead runs as
ONE function on this thread: ``BEGIN IMMEDIATE``, the compare-and-sets, one
``executemany`` per table, ``COMMIT`` -- one hop per batch, the SQL in C.

Durability is the store's (DESIGN.md inv. 1): WAL with ``synchronous=FULL``, so
``COMMIT`` returns only once the batch is on disk. The connection shares the
database file with the SQLAlchemy pool; SQLite's write lock (``BEGIN IMMEDIATE``
with a busy timeout) orders them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from meeple.store.sqlite_setup import BUSY_TIMEOUT_MS, apply_pragmas

T = TypeVar("T")


class SqliteWriter:
    """Runs functions of a private ``sqlite3.Connection`` on its own thread, in order."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._used = False  # the thread starts with the first call
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="meeple-sqlite")

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` on the writer thread; its result or its exception."""
        self._used = True
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            self._conn = _open(self._path)
        return fn(self._conn)

    async def close(self) -> None:
        """Close the connection (on its thread) and stop the thread."""
        if self._used:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _open(path: str) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
    conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    apply_pragmas(conn.execute)
    return conn
