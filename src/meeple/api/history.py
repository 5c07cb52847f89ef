"""Read side of games: profiles with stats, game histories, the public list of games,
one game with its log.

Cursors are opaque to clients: base64url of ``<created_at ISO>|<game id>`` of the last
game on the page, so pages stay stable while new games are added (keyset pagination).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, and_, case, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from meeple.api.problems import ApiError
from meeple.api.schemas import (
    GameDetail,
    GameEvent,
    GameList,
    GamePage,
    GameStats,
    GameSummary,
    ListedGame,
    PublicProfile,
    Seat,
)
from meeple.auth.accounts import Player, aware
from meeple.store.schema import game_events, game_seats, games, players, ratings


def encode_cursor(created_at: datetime, game_id: str) -> str:
    """The cursor after this game."""
    raw = f"{aware(created_at).isoformat()}|{game_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The (created_at, game id) in ``cursor``; 400 ``invalid_cursor`` if it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, game_id = raw.split("|", 1)
        return aware(datetime.fromisoformat(stamp)), game_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_cursor", "cursor is not one this api gave out") from exc


async def profile(conn: AsyncConnection, player: Player) -> PublicProfile:
    """The public profile of ``player``: per-game rating, games played and wins."""
    finished = (
        select(
            games.c.game,
            func.count().label("played"),
            func.sum(case((game_seats.c.placing == 1, 1), else_=0)).label("wins"),
        )
        .join(game_seats, game_seats.c.game_id == games.c.id)
        .where(game_seats.c.player_id == player.id, games.c.status == "finished")
        .group_by(games.c.game)
    )
    stats: dict[str, GameStats] = {}
    for row in (await conn.execute(finished)).all():
        stats[row.game] = GameStats(
            game=row.game, rating=None, games_played=int(row.played), wins=int(row.wins or 0)
        )
    for row in (await conn.execute(select(ratings).where(ratings.c.player_id == player.id))).all():
        known = stats.get(row.game)
        stats[row.game] = GameStats(
            game=row.game,
            rating=row.rating,
            games_played=max(row.games_played, known.games_played if known else 0),
            wins=max(row.wins, known.wins if known else 0),
        )
    return PublicProfile(
        username=player.username,
        display_name=player.display_name,
        is_bot=player.is_bot,
        created_at=player.created_at,
        stats=sorted(stats.values(), key=lambda s: s.game),
    )


async def player_games(
    conn: AsyncConnection, player: Player, *, limit: int, cursor: str | None
) -> GamePage:
    """A page of the games ``player`` sat in, newest first."""
    query = (
        select(games)
        .join(game_seats, game_seats.c.game_id == games.c.id)
        .where(game_seats.c.player_id == player.id)
        .order_by(games.c.created_at.desc(), games.c.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        created_at, game_id = decode_cursor(cursor)
        query = query.where(
            or_(
                games.c.created_at < created_at,
                and_(games.c.created_at == created_at, games.c.id < game_id),
            )
        )
    rows = (await conn.execute(query)).all()
    page, more = rows[:limit], len(rows) > limit
    seats = await _seats(conn, [row.id for row in page])
    items = [_summary(row, seats.get(row.id, [])) for row in page]
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
    return GamePage(items=items, next_cursor=next_cursor)


async def list_games(
    conn: AsyncConnection,
    *,
    status: str,
    game: str | None,
    limit: int,
    cursor: str | None,
    minute_ms: int = 60_000,
) -> GameList:
    """A page of the ``status`` games (``active`` or ``finished``), newest start first.

    ``minute_ms`` is how long a time control's minute lasts on this deployment, so that
    the time control reads as players chose it (``"3+2"``) even where clocks are scaled.
    """
    rows = (await conn.execute(list_query(status, game, limit + 1, cursor))).all()
    page, more = rows[:limit], len(rows) > limit
    seats = await _seats(conn, [row.id for row in page])
    items = [
        ListedGame(
            id=row.id,
            game=row.game,
            status=row.status,
            private=row.invite_code is not None,
            time_control=_time_control(row.base_ms, row.increment_ms, minute_ms),
            base_ms=row.base_ms,
            increment_ms=row.increment_ms,
            stake=row.stake,
            currency=row.currency,
            started_at=aware(row.started_at),
            ended_at=aware(row.ended_at) if row.ended_at else None,
            last_seq=row.last_seq,
            seats=seats.get(row.id, []),
        )
        for row in page
    ]
    next_cursor = encode_cursor(page[-1].started_at, page[-1].id) if more and page else None
    return GameList(items=items, next_cursor=next_cursor)


def list_query(status: str, game: str | None, limit: int, cursor: str | None) -> Select[Any]:
    """The query of :func:`list_games`: a keyset page read off ``ix_games_status_started``.

    The cursor is one row-value comparison, ``(started_at, id) < (?, ?)``, so that both
    backends start the backward index scan at the cursor instead of filtering every
    newer row (tests/api/test_games_index.py checks the plans).
    """
    query = (
        select(games)
        .where(games.c.status == status, games.c.started_at.is_not(None))
        .order_by(games.c.started_at.desc(), games.c.id.desc())
        .limit(limit)
    )
    if game is not None:
        query = query.where(games.c.game == game)
    if cursor is not None:
        started_at, game_id = decode_cursor(cursor)
        query = query.where(tuple_(games.c.started_at, games.c.id) < tuple_(started_at, game_id))
    return query


def _time_control(base_ms: int, increment_ms: int, minute_ms: int) -> str:
    # Increments scale with the minute too (see Settings.clock_minute_ms).
    scale = 60_000 / minute_ms
    return f"{base_ms * scale / 60_000:g}+{increment_ms * scale / 1000:g}"


async def game_detail(conn: AsyncConnection, game_id: str) -> GameDetail | None:
    """One game with its seats and its event log, or None."""
    row = (await conn.execute(select(games).where(games.c.id == game_id))).first()
    if row is None:
        return None
    seats = await _seats(conn, [game_id])
    events = (
        await conn.execute(
            select(game_events).where(game_events.c.game_id == game_id).order_by(game_events.c.seq)
        )
    ).all()
    summary = _summary(row, seats.get(game_id, []))
    return GameDetail(**summary.model_dump(), events=[_event(e) for e in events])


async def _seats(conn: AsyncConnection, game_ids: list[str]) -> dict[str, list[Seat]]:
    if not game_ids:
        return {}
    rows = (
        await conn.execute(
            select(game_seats, players.c.username, players.c.display_name)
            .join(players, players.c.id == game_seats.c.player_id)
            .where(game_seats.c.game_id.in_(game_ids))
            .order_by(game_seats.c.game_id, game_seats.c.seat)
        )
    ).all()
    seats: dict[str, list[Seat]] = {}
    for r in rows:
        seats.setdefault(r.game_id, []).append(
            Seat(
                seat=r.seat,
                username=r.username,
                display_name=r.display_name,
                placing=r.placing,
                points=r.points,
                payout=r.payout,
                rating_before=r.rating_before,
                rating_after=r.rating_after,
            )
        )
    return seats


def _summary(row: Any, seats: list[Seat]) -> GameSummary:
    return GameSummary(
        id=row.id,
        game=row.game,
        status=row.status,
        stake=row.stake,
        currency=row.currency,
        base_ms=row.base_ms,
        increment_ms=row.increment_ms,
        created_at=aware(row.created_at),
        started_at=aware(row.started_at) if row.started_at else None,
        ended_at=aware(row.ended_at) if row.ended_at else None,
        result=row.result if isinstance(row.result, dict) else None,
        seats=seats,
    )


def _event(row: Any) -> GameEvent:
    body = bytes(row.body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return GameEvent(
            seq=row.seq,
            kind=row.kind,
            seat=row.seat,
            ts_ms=row.ts_ms,
            data=None,
            body_b64=base64.b64encode(body).decode(),
        )
    return GameEvent(
        seq=row.seq, kind=row.kind, seat=row.seat, ts_ms=row.ts_ms, data=data, body_b64=None
    )
