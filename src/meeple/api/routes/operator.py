"""Operator endpoints: move money in and out of players' wallets, look at them.

Every money movement needs an ``Idempotency-Key`` header (see :mod:`meeple.api.idempotency`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path
from starlette.responses import JSONResponse, Response

from meeple.api.deps import Context, CurrentOperator
from meeple.api.idempotency import Outcome, once, request_hash
from meeple.api.problems import PROBLEM_JSON, ApiError, openapi_responses
from meeple.api.routes.wallet import Cursor, Limit, statement_page
from meeple.api.schemas import AdjustRequest, MoneyRequest, Statement, TransferResult, Wallet
from meeple.auth.accounts import Player, find_player
from meeple.auth.policy import username_key
from meeple.ledger import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    LedgerError,
    UnknownPlayer,
    player_account,
)
from meeple.store.database import Store

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/operator/players", tags=["operator"])

Username = Annotated[str, Path(max_length=64)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="Required. A client-chosen unique key; a retry with the same key and "
        "request returns the first outcome and moves nothing again.",
    ),
]
Action = Literal["deposit", "withdraw", "adjust"]
_MOVE_ERRORS = openapi_responses(400, 401, 403, 404, 409)


async def _player(store: Store, username: str) -> Player:
    async with store.connect() as conn:
        player = await find_player(conn, username)
    if player is None:
        raise ApiError(404, "player_not_found", f"no player named {username!r}")
    return player


def _ledger_problem(exc: LedgerError) -> ApiError:
    if isinstance(exc, InsufficientFunds):
        return ApiError(
            409,
            "insufficient_funds",
            f"the wallet holds {exc.available}, less than {exc.needed}",
            extra={"available": exc.available, "needed": exc.needed},
        )
    if isinstance(exc, IdempotencyConflict):
        return ApiError(409, "idempotency_key_conflict", "key used for a different request")
    if isinstance(exc, InvalidAmount):
        return ApiError(422, "invalid_amount", str(exc))
    if isinstance(exc, UnknownPlayer):
        return ApiError(404, "player_not_found", "no such player")
    return ApiError(409, exc.code, str(exc))


async def _move(
    ctx: Context,
    operator: Player,
    username: str,
    action: Action,
    amount: int,
    memo: str | None,
    key: str | None,
) -> Response:
    if not key:
        raise ApiError(
            400, "idempotency_key_required", "money movements need an Idempotency-Key header"
        )

    async def run() -> Outcome:
        player = await _player(ctx.store, username)
        ledger_key = f"op:{operator.id}:{key}"
        try:
            if action == "deposit":
                transfer = await ctx.ledger.deposit(player.id, amount, key=ledger_key, memo=memo)
            elif action == "withdraw":
                transfer = await ctx.ledger.withdraw(player.id, amount, key=ledger_key, memo=memo)
            else:
                transfer = await ctx.ledger.adjust(
                    player.id, amount, key=ledger_key, memo=memo or "operator adjustment"
                )
        except LedgerError as exc:
            raise _ledger_problem(exc) from exc
        leg = next(e for e in transfer.entries if e.account_id == player_account(player.id))
        log.info(
            "operator moved money",
            extra={
                "operator_id": operator.id,
                "player_id": player.id,
                "action": action,
                "amount": leg.amount,
                "transfer_id": transfer.id,
            },
        )
        result = TransferResult(
            transfer_id=transfer.id,
            kind=transfer.kind,
            username=player.username,
            amount=leg.amount,
            balance=leg.balance_after,
            currency=ctx.ledger.currency,
            memo=transfer.memo,
            created_at=transfer.created_at,
        )
        return 201, result.model_dump(mode="json")

    digest = request_hash(action, username_key(username), amount, memo)
    status, body = await once(ctx.store, f"operator:{operator.id}", key, digest, run)
    if status >= 400:
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)
    return JSONResponse(body, status_code=status)


@router.post(
    "/{username}/deposit",
    status_code=201,
    response_model=TransferResult,
    summary="Credit a player's wallet",
    responses=_MOVE_ERRORS,
)
async def deposit(
    username: Username,
    body: MoneyRequest,
    operator: CurrentOperator,
    ctx: Context,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Money enters the player's wallet (e.g. a confirmed payment)."""
    return await _move(ctx, operator, username, "deposit", body.amount, body.memo, idempotency_key)


@router.post(
    "/{username}/withdraw",
    status_code=201,
    response_model=TransferResult,
    summary="Debit a player's wallet",
    responses=_MOVE_ERRORS,
)
async def withdraw(
    username: Username,
    body: MoneyRequest,
    operator: CurrentOperator,
    ctx: Context,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Money leaves the player's wallet; 409 ``insufficient_funds`` if it holds less."""
    return await _move(ctx, operator, username, "withdraw", body.amount, body.memo, idempotency_key)


@router.post(
    "/{username}/adjust",
    status_code=201,
    response_model=TransferResult,
    summary="Correct a player's wallet",
    responses=_MOVE_ERRORS,
)
async def adjust(
    username: Username,
    body: AdjustRequest,
    operator: CurrentOperator,
    ctx: Context,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A signed, non-zero correction against the house account (422 ``invalid_amount``
    for zero; 409 ``insufficient_funds`` if it would make the balance negative)."""
    if body.amount == 0:
        raise ApiError(422, "invalid_amount", "an adjustment must not be zero")
    return await _move(ctx, operator, username, "adjust", body.amount, body.memo, idempotency_key)


@router.get(
    "/{username}/wallet",
    response_model=Wallet,
    summary="A player's balance",
    responses=openapi_responses(401, 403, 404),
)
async def player_wallet(username: Username, _operator: CurrentOperator, ctx: Context) -> Wallet:
    """Any player's balance (operators only)."""
    player = await _player(ctx.store, username)
    return Wallet(balance=await ctx.ledger.balance(player.id), currency=ctx.ledger.currency)


@router.get(
    "/{username}/wallet/statement",
    response_model=Statement,
    summary="A player's wallet movements",
    responses=openapi_responses(400, 401, 403, 404),
)
async def player_statement(
    username: Username,
    _operator: CurrentOperator,
    ctx: Context,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Statement:
    """Any player's statement, newest first (operators only)."""
    player = await _player(ctx.store, username)
    return await statement_page(ctx.ledger, player.id, limit, cursor)
