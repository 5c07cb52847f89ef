"""A player's own wallet: balance and statement (nobody else's: there is no parameter)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from meeple.api.deps import Context, CurrentPlayer
from meeple.api.problems import ApiError, openapi_responses
from meeple.api.schemas import Statement, StatementLine, Wallet
from meeple.ledger import Ledger

router = APIRouter(prefix="/api/v1/wallet", tags=["wallet"])

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=20, description="`next_cursor` of a page.")]


@router.get("", response_model=Wallet, summary="My balance", responses=openapi_responses(401))
async def get_wallet(player: CurrentPlayer, ctx: Context) -> Wallet:
    """The balance of the bearer's wallet, in minor units of the platform's currency."""
    return Wallet(balance=await ctx.ledger.balance(player.id), currency=ctx.ledger.currency)


@router.get(
    "/statement",
    response_model=Statement,
    summary="My wallet's movements, newest first",
    responses=openapi_responses(400, 401),
)
async def get_statement(
    player: CurrentPlayer, ctx: Context, limit: Limit = 50, cursor: Cursor = None
) -> Statement:
    """A page of the bearer's wallet movements; ``next_cursor`` leads to older ones."""
    return await statement_page(ctx.ledger, player.id, limit, cursor)


async def statement_page(
    ledger: Ledger, player_id: int, limit: int, cursor: str | None
) -> Statement:
    """A page of a wallet statement (shared with the operator's view)."""
    before: int | None = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 18:
            raise ApiError(400, "invalid_cursor", "cursor is not one this api gave out")
        before = int(cursor)
    lines = await ledger.statement(player_id, limit=limit + 1, before=before)
    page = lines[:limit]
    return Statement(
        items=[
            StatementLine(
                entry_id=line.entry_id,
                transfer_id=line.transfer_id,
                kind=line.kind,
                game_id=line.game_id,
                memo=line.memo,
                amount=line.amount,
                balance_after=line.balance_after,
                created_at=line.created_at,
            )
            for line in page
        ],
        next_cursor=str(page[-1].entry_id) if len(lines) > limit and page else None,
    )
