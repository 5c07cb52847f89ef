"""Registration, login, token refresh and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from meeple.api.deps import Context, client_address
from meeple.api.problems import ApiError, openapi_responses
from meeple.api.schemas import (
    LoginRequest,
    LogoutRequest,
    Me,
    RefreshRequest,
    RegisterRequest,
    TokenPair,
)
from meeple.api.views import me_view
from meeple.auth import accounts
from meeple.auth.errors import AuthError, InvalidCredentials
from meeple.auth.sessions import TokenPair as Pair

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
_optional_bearer = HTTPBearer(auto_error=False)


def _pair(pair: Pair) -> TokenPair:
    return TokenPair(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post(
    "/register",
    status_code=201,
    response_model=Me,
    summary="Create a player account",
    responses=openapi_responses(409),
)
async def register(body: RegisterRequest, ctx: Context) -> Me:
    """Create an account (role ``player``). 409 ``username_taken``; 422 ``weak_password``."""
    player = await accounts.create_player(
        ctx.store, ctx.hasher, body.username, body.password, email=body.email
    )
    return me_view(player)


@router.post(
    "/login",
    response_model=TokenPair,
    summary="Exchange credentials for tokens",
    responses=openapi_responses(401),
)
async def login(body: LoginRequest, ctx: Context, request: Request) -> TokenPair:
    """Start a session. 401 ``invalid_credentials`` for an unknown user or a wrong
    password alike; 429 ``too_many_attempts`` (with Retry-After) after repeated failures
    for the account or from the address."""
    address = client_address(request)
    await ctx.throttle.check(body.username, address)
    try:
        player = await accounts.authenticate(ctx.store, ctx.hasher, body.username, body.password)
    except InvalidCredentials:
        await ctx.throttle.record_failure(body.username, address)
        raise
    await ctx.throttle.reset(body.username)
    pair = await ctx.sessions.start(
        player, client_address=address, user_agent=request.headers.get("user-agent")
    )
    return _pair(pair)


@router.post(
    "/refresh",
    response_model=TokenPair,
    summary="Rotate a refresh token",
    responses=openapi_responses(401),
)
async def refresh(body: RefreshRequest, ctx: Context) -> TokenPair:
    """A new token pair; the presented refresh token is retired. Presenting a retired
    token again revokes its whole session (401 ``refresh_token_reused``)."""
    return _pair(await ctx.sessions.rotate(body.refresh_token))


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    summary="End a session",
    responses=openapi_responses(401),
)
async def logout(
    ctx: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
    body: LogoutRequest | None = None,
) -> Response:
    """Revoke the session of the given refresh token or, without one, of the bearer
    access token. Its refresh tokens stop working at once; access tokens already issued
    are refused by this tier at once and elsewhere when they expire (minutes)."""
    if body is not None and body.refresh_token is not None:
        await ctx.sessions.revoke_by_token(body.refresh_token)
        return Response(status_code=204)
    if credentials is None:
        raise ApiError(401, "not_authenticated", "give a refresh token or a bearer access token")
    try:
        claims = ctx.signer.verify(credentials.credentials)
    except AuthError as exc:
        raise ApiError(401, exc.code, exc.message) from exc
    if claims.session_id is not None:
        await ctx.sessions.revoke_family(claims.session_id)
    return Response(status_code=204)
