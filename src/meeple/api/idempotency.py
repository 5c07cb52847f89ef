"""HTTP idempotency for requests that move money (the ``Idempotency-Key`` header).

The first outcome of a key is kept in ``idempotency_keys`` with a hash of the request:
the same key with the same request gets that outcome again (same status, same body),
with a different request 409 ``idempotency_key_conflict``. Outcomes kept are successes
and the caller's mistakes that depend on state (unknown player, insufficient funds);
a 5xx is never kept, so a retry after our failure runs again.

Money itself is safe even without this table: the ledger call carries a key derived
from the same header, so a retry after a crash between the two commits moves nothing
twice (the ledger returns its first transfer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from meeple.api.problems import ApiError, problem_body
from meeple.store.database import Store
from meeple.store.schema import idempotency_keys

Outcome = tuple[int, dict[str, Any]]
KEPT_ERRORS = frozenset({404, 409, 422})


def request_hash(*parts: object) -> str:
    """A stable digest of a request's meaning."""
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def once(
    store: Store, scope: str, key: str, digest: str, run: Callable[[], Awaitable[Outcome]]
) -> Outcome:
    """The outcome of ``run`` for this key: the kept one if the key was seen before."""
    kept = await _find(store, scope, key, digest)
    if kept is not None:
        return kept
    try:
        outcome = await run()
    except ApiError as exc:
        if exc.status not in KEPT_ERRORS:
            raise
        outcome = (exc.status, problem_body(exc.status, exc.code, exc.detail, exc.extra))
    try:
        async with store.begin() as conn:
            await conn.execute(
                idempotency_keys.insert().values(
                    scope=scope,
                    key=key,
                    request_hash=digest,
                    status_code=outcome[0],
                    response=outcome[1],
                    created_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        # A concurrent request with this key kept its outcome first: answer with it.
        kept = await _find(store, scope, key, digest)
        if kept is None:
            raise
        return kept
    return outcome


async def _find(store: Store, scope: str, key: str, digest: str) -> Outcome | None:
    async with store.connect() as conn:
        row = (
            await conn.execute(
                select(
                    idempotency_keys.c.request_hash,
                    idempotency_keys.c.status_code,
                    idempotency_keys.c.response,
                ).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
            )
        ).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise ApiError(
            409,
            "idempotency_key_conflict",
            "this Idempotency-Key was already used for a different request",
        )
    return int(row.status_code), dict(row.response)
