"""The SQLite batch statements find their rows by primary key (never a table scan,
which would grow with the log)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from meeple.store import batch
from meeple.store.database import Store


async def test_sqlite_batch_statements_search_by_primary_key(tmp_path: Path) -> None:
    path = tmp_path / "plan.sqlite3"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    await store.close()
    conn = sqlite3.connect(path)
    try:
        lookup = batch._SQLITE_OUTCOMES.format(rows="(?, ?, ?), (?, ?, ?)")
        claim = batch._SQLITE_CLAIM.format(rows="(?, ?, ?, ?, ?), (?, ?, ?, ?, ?)")
        plans = {
            "game_commands": conn.execute(
                f"EXPLAIN QUERY PLAN {lookup}", ["a", 1, "x", "b", 2, "y"]
            ).fetchall(),
            "games": conn.execute(
                f"EXPLAIN QUERY PLAN {claim}",
                [None, None, "a", 0, 1, None, None, "b", 0, 1, None, None],
            ).fetchall(),
        }
    finally:
        conn.close()
    for table, plan in plans.items():
        steps = [row[3] for row in plan]
        assert any(s.startswith("SEARCH") and "INDEX" in s for s in steps), (table, steps)
        assert not any(s.startswith("SCAN") and table in s for s in steps), (table, steps)
        assert not any(s in ("SCAN c", "SCAN games") for s in steps), (table, steps)
