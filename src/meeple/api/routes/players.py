"""Public player profiles and game histories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from meeple.api import history
from meeple.api.deps import Context
from meeple.api.problems import ApiError, openapi_responses
from meeple.api.schemas import GamePage, PublicProfile
from meeple.auth.accounts import Player, find_player
from meeple.store.database import Store

router = APIRouter(prefix="/api/v1/players", tags=["players"])

Username = Annotated[str, Path(max_length=64, description="Any case.")]


async def _player(store: Store, username: str) -> Player:
    async with store.connect() as conn:
        player = await find_player(conn, username)
    if player is None:
        raise ApiError(404, "player_not_found", f"no player named {username!r}")
    return player


@router.get(
    "/{username}",
    response_model=PublicProfile,
    summary="A player's public profile",
    responses=openapi_responses(404),
)
async def get_profile(username: Username, ctx: Context) -> PublicProfile:
    """Display name and, per game, rating, games played and wins (empty before any game)."""
    player = await _player(ctx.store, username)
    async with ctx.store.connect() as conn:
        return await history.profile(conn, player)


@router.get(
    "/{username}/games",
    response_model=GamePage,
    summary="A player's games, newest first",
    responses=openapi_responses(400, 404),
)
async def get_games(
    username: Username,
    ctx: Context,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> GamePage:
    """A page of games; pass ``next_cursor`` back as ``cursor`` for the next one."""
    player = await _player(ctx.store, username)
    async with ctx.store.connect() as conn:
        return await history.player_games(conn, player, limit=limit, cursor=cursor)
