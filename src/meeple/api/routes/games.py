"""Games: one game with seats, result and event log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from meeple.api import history
from meeple.api.deps import Context
from meeple.api.problems import ApiError, openapi_responses
from meeple.api.schemas import GameDetail

router = APIRouter(prefix="/api/v1/games", tags=["games"])


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
