"""The engine's reads and writes of the store (over :class:`meeple.store.games.Games`).

Appends go through the games repository (expected-seq compare-and-set, one commit
per batch); the few engine-specific reads (seat names and ratings, recorded
command outcomes in bulk, games a crash left unfinished) are plain queries here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import and_, exists, or_, select

from meeple import rules
from meeple.engine.loader import Snapshot, replay
from meeple.engine.ratings import Skill
from meeple.engine.table import Policy, SeatInfo, Table
from meeple.store.database import Store
from meeple.store.games import Games
from meeple.store.schema import (
    game_seats,
    games,
    ledger_transfers,
    players,
    ratings,
)

CommandKey = tuple[str, int, str]
PolicyFor = Callable[[str, int], Policy]


async def seat_infos(store: Store, game: str, player_ids: Sequence[int]) -> tuple[SeatInfo, ...]:
    """Usernames and current ratings of ``player_ids`` in ``game``, in seat order."""
    async with store.connect() as conn:
        names = {
            int(r.id): str(r.username)
            for r in await conn.execute(
                select(players.c.id, players.c.username).where(players.c.id.in_(player_ids))
            )
        }
        skills = {
            int(r.player_id): Skill(mu=float(r.mu), sigma=float(r.sigma))
            for r in await conn.execute(
                select(ratings.c.player_id, ratings.c.mu, ratings.c.sigma).where(
                    ratings.c.game == game, ratings.c.player_id.in_(player_ids)
                )
            )
        }
    return tuple(
        SeatInfo(player_id=p, username=names.get(p, f"player{p}"), skill=skills.get(p, Skill()))
        for p in player_ids
    )


async def load_table(
    store: Store,
    game_id: str,
    policy_for: PolicyFor,
    now_ms: int,
    *,
    served_until_ms: int | None = None,
) -> Table | None:
    """The game's table rebuilt from its log (``None``: no such game);
    ``served_until_ms`` as for :func:`meeple.engine.loader.replay`."""
    repo = Games(store)
    row = await repo.get(game_id)
    if row is None:
        return None
    game = rules.get(row.game)
    options: dict[str, str] = {str(k): str(v) for k, v in dict(row.options or {}).items()}
    table = Table(
        game_id=game_id,
        rules=game,
        seats=await seat_infos(store, row.game, row.players),
        base_ms=row.base_ms,
        increment_ms=row.increment_ms,
        stake=row.stake,
        options=options,
        policy=policy_for(row.game, len(row.players)),
    )
    snapshot = None
    bodies: list[bytes] = []
    saved = await repo.latest_snapshot(game_id)
    if saved is not None and saved.seq > 1:
        snapshot = Snapshot.from_json(saved.seq, saved.state, dict(saved.clocks))
        bodies = [e.body for e in await repo.events_after(game_id, 0, limit=1)]
    after = snapshot.seq if snapshot is not None else 0
    while True:
        page = await repo.events_after(game_id, after, limit=1000)
        bodies.extend(e.body for e in page)
        if len(page) < 1000:
            break
        after = page[-1].seq
    if not bodies and row.status in ("finished", "aborted"):
        # Closed before it ever started (e.g. the stakes could not be escrowed).
        return replace(table, status=row.status, result=row.result or {"reason": row.status})
    return replay(table, bodies, now_ms, snapshot=snapshot, served_until_ms=served_until_ms)


async def save_snapshot(store: Store, table: Table) -> None:
    """Keep the table's state so that a reload replays only the events after it."""
    snap = Snapshot.of(table)
    await Games(store).save_snapshot(table.game_id, snap.seq, snap.state, snap.to_json())


async def recorded_outcomes(
    store: Store, keys: Sequence[CommandKey]
) -> dict[CommandKey, dict[str, Any]]:
    """Recorded outcomes of these commands (one look-up for a whole batch)."""
    found = await Games(store).outcomes(keys)
    return {key: dict(outcome) for key, outcome in found.items()}


async def last_seqs(store: Store, game_ids: Sequence[str]) -> dict[str, int]:
    """The last committed seq of each of ``game_ids`` (one look-up for a whole batch)."""
    async with store.connect() as conn:
        rows = await conn.execute(
            select(games.c.id, games.c.last_seq).where(games.c.id.in_(list(game_ids)))
        )
        return {str(r.id): int(r.last_seq) for r in rows}


async def games_to_recover(store: Store) -> list[str]:
    """Games an engine must look at on taking over: live ones, and ended ones whose
    seats, ratings or money were not closed yet (the process died in between)."""
    seat_open = exists().where(game_seats.c.game_id == games.c.id, game_seats.c.placing.is_(None))
    escrowed = exists().where(
        ledger_transfers.c.game_id == games.c.id, ledger_transfers.c.kind == "escrow"
    )
    unpaid = and_(games.c.stake > 0, games.c.settled.is_(False), escrowed)
    query = select(games.c.id).where(
        or_(
            games.c.status == "active",
            and_(games.c.status == "finished", or_(seat_open, unpaid)),
            and_(games.c.status == "aborted", unpaid),
        )
    )
    async with store.connect() as conn:
        return [str(r.id) for r in await conn.execute(query.order_by(games.c.created_at))]
