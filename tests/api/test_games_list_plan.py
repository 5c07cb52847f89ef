"""The public list of games reads its page off ``ix_games_status_started`` on both
backends: an index scan in ``ORDER BY`` order that stops at the limit, never a scan of
the games table nor a sort of every game of that status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Select, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from meeple.api.history import encode_cursor, list_query
from meeple.store.database import Store
from meeple.store.schema import games

START = datetime(2031, 1, 1, tzinfo=UTC)


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` (PostgreSQL) or ``EXPLAIN QUERY PLAN`` (SQLite) of a query, with its
    parameters bound as the query itself would bind them."""

    inherit_cache = False

    def __init__(self, query: Select[Any]) -> None:
        self.query = query


@compiles(Explain)
def _explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN" if compiler.dialect.name == "sqlite" else "EXPLAIN"
    return f"{prefix} {compiler.process(element.query, **kw)}"


async def _plan(conn: AsyncConnection, query: Select[Any]) -> list[str]:
    rows = (await conn.execute(Explain(query))).all()
    # SQLite: (id, parent, notused, detail); PostgreSQL: one line of text per row.
    return [str(row[-1]) for row in rows]


async def _seed(store: Store) -> None:
    """Many finished games and a few active ones, then fresh planner statistics: the
    shape of a live deployment, where a scan of the table would cost the most."""
    rows = [
        {
            "id": f"g{n:06d}",
            "game": "chess" if n % 2 else "fourchess",
            "options": {},
            "seats": 4,
            "base_ms": 180_000,
            "increment_ms": 2_000,
            "currency": "USD",
            "status": "active" if n % 20 == 0 else "finished",
            "created_at": START,
            "started_at": START + timedelta(seconds=n // 3),  # ties: the id decides
        }
        for n in range(4000)
    ]
    async with store.begin() as conn:
        await conn.execute(insert(games), rows)
        await conn.execute(text("ANALYZE"))


@pytest.mark.parametrize("status", ["active", "finished"])
async def test_the_list_of_games_is_read_off_the_index(store: Store, status: str) -> None:
    await _seed(store)
    cursor = encode_cursor(START + timedelta(seconds=600), "g001800")
    queries = {
        "first page": list_query(status, None, 21, None),
        "next page": list_query(status, None, 21, cursor),
        "one game's page": list_query(status, "chess", 21, cursor),
    }
    async with store.connect() as conn:
        for name, query in queries.items():
            plan = await _plan(conn, query)
            where = (name, plan)
            if store.dialect == "sqlite":
                # "SEARCH games USING INDEX ix_games_status_started (status=? AND started_at>?
                # AND (started_at,id)<(?,?))"; a sort would add "USE TEMP B-TREE FOR ORDER BY".
                assert any(
                    step.startswith("SEARCH games USING INDEX ix_games_status_started (status=?")
                    for step in plan
                ), where
                assert not any("TEMP B-TREE" in step for step in plan), where
                if "next" in name or "one game" in name:
                    # The cursor bounds the index range: the scan starts at the cursor.
                    assert any("(started_at,id)<(?,?)" in step for step in plan), where
            else:
                assert "Index Scan Backward using ix_games_status_started" in plan[1], where
                assert not any("Sort" in step or "Seq Scan" in step for step in plan), where
                if "next" in name or "one game" in name:
                    conds = [step for step in plan if "Index Cond" in step]
                    assert conds and "ROW(started_at, (id)::text) <" in conds[0], where
