"""FastAPI dependencies: the context, the authenticated player, the operator role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from meeple.api.context import ApiContext
from meeple.api.problems import ApiError
from meeple.auth.accounts import Player, get_player
from meeple.auth.errors import InvalidToken, TokenExpired
from meeple.auth.sessions import family_revoked

_bearer = HTTPBearer(
    auto_error=False,
    description="An access token from /api/v1/auth/login or /api/v1/auth/refresh.",
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_context(request: Request) -> ApiContext:
    """The :class:`ApiContext` of this app."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


Context = Annotated[ApiContext, Depends(get_context)]


async def current_player(
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Player:
    """The player of the bearer token; 401 if missing, invalid, expired or logged out.

    The token alone proves who it is; the store is asked too, so that a logout or a
    role change takes effect at once on this tier.
    """
    if credentials is None:
        raise ApiError(
            401, "not_authenticated", "a bearer access token is required", headers=_CHALLENGE
        )
    try:
        claims = ctx.signer.verify(credentials.credentials)
    except TokenExpired as exc:
        raise ApiError(401, exc.code, exc.message, headers=_CHALLENGE) from exc
    except InvalidToken as exc:
        raise ApiError(401, exc.code, exc.message, headers=_CHALLENGE) from exc
    async with ctx.store.connect() as conn:
        player = await get_player(conn, claims.player_id)
        revoked = claims.session_id is not None and await family_revoked(conn, claims.session_id)
    if player is None:
        raise ApiError(
            401, "invalid_token", "the token's player does not exist", headers=_CHALLENGE
        )
    if revoked:
        raise ApiError(401, "session_revoked", "this session was logged out", headers=_CHALLENGE)
    return player


CurrentPlayer = Annotated[Player, Depends(current_player)]


async def current_operator(player: CurrentPlayer) -> Player:
    """The authenticated player if they are an operator; 403 otherwise."""
    if player.role != "operator":
        raise ApiError(403, "forbidden", "this needs the operator role")
    return player


CurrentOperator = Annotated[Player, Depends(current_operator)]


def client_address(request: Request) -> str | None:
    """The client's address (uvicorn applies X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else None
