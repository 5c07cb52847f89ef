"""Games: the public list of active or finished games, and one game with seats, result
and event log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from meeple.api import history
from meeple.api.deps import Context
from meeple.api.problems import ApiError, openapi_responses
from meeple.api.schemas import GameDetail, GameList

router = APIRouter(prefix="/api/v1/games", tags=["games"])


@router.get(
    "",
    response_model=GameList,
    summary="Active or finished games, newest first",
    responses=openapi_responses(400),
)
async def list_games(
    ctx: Context,
    status: Annotated[Literal["active", "finished"], Query()] = "active",
    game: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=32,
            pattern=r"^[a-z0-9_-]+$",
            description="A game of the rules registry (`fourchess`, `chess`); all when absent.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> GameList:
    """Games to watch (``active``) or to look back on (``finished``), by start time,
    newest first; pass ``next_cursor`` back as ``cursor`` for the next page. Public: no
    token needed. Pending and aborted games are not listed."""
    async with ctx.store.connect() as conn:
        return await history.list_games(
            conn,
            status=status,
            game=game,
            limit=limit,
            cursor=cursor,
            minute_ms=ctx.settings.clock_minute_ms,
        )


@router.get(
    "/{game_id}",
    response_model=GameDetail,
    summary="One game",
    responses=openapi_responses(404),
)
async def get_game(game_id: Annotated[str, Path(max_length=32)], ctx: Context) -> GameDetail:
    """The game, its seats, its result once ended, and its event log so far."""
    async with ctx.store.connect() as conn:
        game = await history.game_detail(conn, game_id)
    if game is None:
        raise ApiError(404, "game_not_found", f"no game {game_id!r}")
    return game
