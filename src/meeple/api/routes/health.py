"""Liveness and readiness probes (outside /api, for load balancers and orchestrators)."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from sqlalchemy import text

from meeple.api.deps import Context
from meeple.api.problems import ApiError, openapi_responses
from meeple.api.schemas import Health

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

READY_TIMEOUT_S = 2.0


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    """Always ``ok`` while the process serves requests; checks no dependency."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="The dependencies are reachable",
    responses=openapi_responses(503),
)
async def readyz(ctx: Context) -> Health:
    """``ok`` if the store answers within two seconds; 503 ``store_unavailable`` if not."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S), ctx.store.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("store unreachable", extra={"error": repr(exc)})
        raise ApiError(503, "store_unavailable", "the store is unreachable") from exc
    return Health(status="ok")
