"""Refresh sessions: a login starts a family; each refresh rotates to a new token in it.

Only the SHA-256 of a refresh token is stored. A refresh retires the presented token
and issues its successor in one transaction. Presenting a retired token again means
two parties hold it (theft, or a client bug), so the whole family is revoked and both
must log in again (OAuth 2.0 Security BCP, refresh token rotation). A logout revokes
the family too.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from meeple.auth.accounts import Player, aware
from meeple.auth.errors import (
    RefreshError,
    RefreshTokenExpired,
    RefreshTokenReused,
    SessionRevoked,
)
from meeple.auth.tokens import AccessClaims, TokenSigner
from meeple.store.database import Store
from meeple.store.schema import players, refresh_tokens, session_families

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or a refresh hands to the client."""

    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    claims: AccessClaims


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Session families and their refresh tokens in the store."""

    def __init__(self, store: Store, signer: TokenSigner, refresh_ttl_s: int) -> None:
        self._store = store
        self._signer = signer
        self._refresh_ttl = timedelta(seconds=refresh_ttl_s)

    async def start(
        self, player: Player, *, client_address: str | None, user_agent: str | None
    ) -> TokenPair:
        """A new session family for a player who just logged in."""
        family_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        async with self._store.begin() as conn:
            await conn.execute(
                session_families.insert().values(
                    id=family_id,
                    player_id=player.id,
                    created_at=now,
                    client_address=(client_address or "")[:64] or None,
                    user_agent=(user_agent or "")[:256] or None,
                )
            )
            refresh = await self._new_refresh(conn, family_id, player.id, now)
        return self._pair(player.id, player.username, player.role, family_id, refresh)

    async def rotate(self, refresh_token: str) -> TokenPair:
        """Retire ``refresh_token`` and issue its successor (and a new access token)."""
        digest = _digest(refresh_token)
        now = datetime.now(UTC)
        reused_family: str | None = None
        async with self._store.begin() as conn:
            row = (
                await conn.execute(
                    select(
                        refresh_tokens.c.family_id,
                        refresh_tokens.c.player_id,
                        refresh_tokens.c.expires_at,
                        refresh_tokens.c.retired_at,
                        session_families.c.revoked_at,
                        players.c.username,
                        players.c.role,
                    )
                    .join(session_families, session_families.c.id == refresh_tokens.c.family_id)
                    .join(players, players.c.id == refresh_tokens.c.player_id)
                    .where(refresh_tokens.c.token_hash == digest)
                )
            ).first()
            if row is None:
                raise RefreshError("refresh token is not valid")
            if row.retired_at is None and row.revoked_at is None:
                if aware(row.expires_at) <= now:
                    raise RefreshTokenExpired("refresh token has expired; log in again")
                # Only one of two concurrent refreshes with the same token may win.
                retired = await conn.execute(
                    update(refresh_tokens)
                    .where(refresh_tokens.c.token_hash == digest)
                    .where(refresh_tokens.c.retired_at.is_(None))
                    .values(retired_at=now)
                )
                if retired.rowcount == 1:
                    refresh = await self._new_refresh(conn, row.family_id, row.player_id, now)
                    return self._pair(row.player_id, row.username, row.role, row.family_id, refresh)
            if row.retired_at is None and row.revoked_at is not None:
                raise SessionRevoked("this session was revoked; log in again")
            # A retired token presented again: revoke the family, and commit that.
            reused_family = row.family_id
            await _revoke(conn, row.family_id, "reuse", now)
        log.warning(
            "refresh token reused; session family revoked",
            extra={"family_id": reused_family, "player_id": row.player_id},
        )
        raise RefreshTokenReused("refresh token was already used; this session is revoked")

    async def revoke_by_token(self, refresh_token: str) -> None:
        """Revoke the family of ``refresh_token`` (logout); :class:`RefreshError` if unknown."""
        async with self._store.begin() as conn:
            family_id = (
                await conn.execute(
                    select(refresh_tokens.c.family_id).where(
                        refresh_tokens.c.token_hash == _digest(refresh_token)
                    )
                )
            ).scalar()
            if family_id is None:
                raise RefreshError("refresh token is not valid")
            await _revoke(conn, family_id, "logout", datetime.now(UTC))

    async def revoke_family(self, family_id: str, reason: str = "logout") -> None:
        """Revoke a session family by id (logout with an access token)."""
        async with self._store.begin() as conn:
            await _revoke(conn, family_id, reason, datetime.now(UTC))

    async def _new_refresh(
        self, conn: AsyncConnection, family_id: str, player_id: int, now: datetime
    ) -> str:
        token = secrets.token_urlsafe(32)
        await conn.execute(
            refresh_tokens.insert().values(
                token_hash=_digest(token),
                family_id=family_id,
                player_id=player_id,
                issued_at=now,
                expires_at=now + self._refresh_ttl,
            )
        )
        return token

    def _pair(
        self, player_id: int, username: str, role: str, family_id: str, refresh: str
    ) -> TokenPair:
        access, claims = self._signer.issue(player_id, username, role, family_id)
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self._signer.ttl_s,
            refresh_expires_in=int(self._refresh_ttl.total_seconds()),
            claims=claims,
        )


async def family_revoked(conn: AsyncConnection, family_id: str) -> bool:
    """Whether the session family is revoked (or unknown)."""
    revoked_at = (
        await conn.execute(
            select(session_families.c.revoked_at).where(session_families.c.id == family_id)
        )
    ).first()
    return revoked_at is None or revoked_at[0] is not None


async def _revoke(conn: AsyncConnection, family_id: str, reason: str, now: datetime) -> None:
    await conn.execute(
        update(session_families)
        .where(session_families.c.id == family_id)
        .where(session_families.c.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
