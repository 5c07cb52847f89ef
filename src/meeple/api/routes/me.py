"""The authenticated player's own account."""

from __future__ import annotations

from fastapi import APIRouter

from meeple.api.deps import Context, CurrentPlayer
from meeple.api.problems import openapi_responses
from meeple.api.schemas import Me, MeUpdate
from meeple.api.views import me_view
from meeple.auth.accounts import set_display_name

router = APIRouter(prefix="/api/v1", tags=["me"])


@router.get("/me", response_model=Me, summary="My account", responses=openapi_responses(401))
async def get_me(player: CurrentPlayer) -> Me:
    """The account of the bearer token (401 ``token_expired`` once it expires)."""
    return me_view(player)


@router.patch(
    "/me", response_model=Me, summary="Change my display name", responses=openapi_responses(401)
)
async def patch_me(body: MeUpdate, player: CurrentPlayer, ctx: Context) -> Me:
    """Set the display name shown to other players (the username never changes)."""
    return me_view(await set_display_name(ctx.store, player.id, body.display_name.strip()))
