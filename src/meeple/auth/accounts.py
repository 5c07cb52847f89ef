"""Players in the store: registration, lookup, login, role and display-name changes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from meeple.auth.errors import InvalidCredentials, PlayerNotFound, UsernameTaken
from meeple.auth.passwords import PasswordHasher
from meeple.auth.policy import check_password, check_username, username_key
from meeple.store.database import Store
from meeple.store.schema import players

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Player:
    """A player's account as the api shows it (never the password hash)."""

    id: int
    username: str
    display_name: str
    email: str | None
    role: str
    is_bot: bool
    created_at: datetime
    updated_at: datetime


def aware(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (SQLite hands back naive ones)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _player(row: Any) -> Player:
    return Player(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        email=row.email,
        role=row.role,
        is_bot=bool(row.is_bot),
        created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


async def find_player(conn: AsyncConnection, username: str) -> Player | None:
    """The player with this username (any case), or None."""
    row = (
        await conn.execute(select(players).where(players.c.username_key == username_key(username)))
    ).first()
    return _player(row) if row else None


async def get_player(conn: AsyncConnection, player_id: int) -> Player | None:
    """The player with this id, or None."""
    row = (await conn.execute(select(players).where(players.c.id == player_id))).first()
    return _player(row) if row else None


async def create_player(
    store: Store,
    hasher: PasswordHasher,
    username: str,
    password: str,
    *,
    email: str | None = None,
    role: str = "player",
    display_name: str | None = None,
) -> Player:
    """Register a player after checking the rules; :class:`UsernameTaken` if it exists."""
    check_username(username)
    check_password(password, username)
    async with store.connect() as conn:
        if await find_player(conn, username) is not None:
            raise UsernameTaken(f"username {username!r} is taken")
    password_hash = await hasher.hash(password)
    now = datetime.now(UTC)
    try:
        async with store.begin() as conn:
            result = await conn.execute(
                players.insert().values(
                    username=username,
                    username_key=username_key(username),
                    display_name=display_name or username,
                    email=email,
                    password_hash=password_hash,
                    role=role,
                    is_bot=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            player_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
            player = await get_player(conn, int(player_id)) if player_id is not None else None
    except IntegrityError as exc:  # a concurrent registration won the unique index
        raise UsernameTaken(f"username {username!r} is taken") from exc
    if player is None:  # pragma: no cover - the insert just succeeded
        raise RuntimeError("registered player vanished")
    log.info("player registered", extra={"player_id": player.id, "role": role})
    return player


async def authenticate(
    store: Store, hasher: PasswordHasher, username: str, password: str
) -> Player:
    """The player if the password is right; else :class:`InvalidCredentials`.

    Unknown users cost a dummy verification, so the answer and its timing do not tell
    whether the username exists.
    """
    async with store.connect() as conn:
        row = (
            await conn.execute(
                select(players).where(players.c.username_key == username_key(username))
            )
        ).first()
    if row is None:
        await hasher.verify_dummy(password)
        raise InvalidCredentials("wrong username or password")
    if not await hasher.verify(row.password_hash, password):
        raise InvalidCredentials("wrong username or password")
    if hasher.needs_rehash(row.password_hash):
        # Parameters were raised since this hash was made: upgrade it while we know it.
        new_hash = await hasher.hash(password)
        async with store.begin() as conn:
            await conn.execute(
                update(players).where(players.c.id == row.id).values(password_hash=new_hash)
            )
    return _player(row)


async def set_role(store: Store, username: str, role: str) -> Player:
    """Give the player ``role``; :class:`PlayerNotFound` if there is no such player."""
    async with store.begin() as conn:
        result = await conn.execute(
            update(players)
            .where(players.c.username_key == username_key(username))
            .values(role=role, updated_at=datetime.now(UTC))
        )
        if result.rowcount == 0:
            raise PlayerNotFound(f"no player named {username!r}")
        player = await find_player(conn, username)
    assert player is not None
    return player


async def set_display_name(store: Store, player_id: int, display_name: str) -> Player:
    """Change a player's display name; :class:`PlayerNotFound` if the id is unknown."""
    async with store.begin() as conn:
        await conn.execute(
            update(players)
            .where(players.c.id == player_id)
            .values(display_name=display_name, updated_at=datetime.now(UTC))
        )
        player = await get_player(conn, player_id)
    if player is None:
        raise PlayerNotFound(f"no player with id {player_id}")
    return player
