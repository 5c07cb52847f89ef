"""Is this exception the store being unreachable (not our bug)?

What the engine's store paths raise while PostgreSQL is stopped or restarting,
seen in tests: ``ConnectionRefusedError`` when the pool opens a connection, and
asyncpg's connection errors (SQLSTATE class 08, ``57P01``-``57P03``: shutting
down, crashed, starting up) or "connection is closed" on a connection cut under
a query, raw on the batch path or wrapped by SQLAlchemy (``DBAPIError`` with
``connection_invalidated``) elsewhere. Constraint violations, SQL errors and
anything else stay bugs.
"""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import DBAPIError

# asyncpg's SQLSTATEs of a server that is going, gone or coming back.
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03"})


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it wraps) says the store cannot be reached."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        error = todo.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, OSError):  # refused, reset, timed out
            return True
        if isinstance(error, DBAPIError) and error.connection_invalidated:
            return True
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _OUTAGE_STATES):
            return True
        if isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error):
            return True
        orig = getattr(error, "orig", None)
        # Explicit wrapping only: a bug raised while handling a disconnect stays a bug.
        todo.append(error.__cause__)
        if isinstance(orig, BaseException):
            todo.append(orig)
    return False
