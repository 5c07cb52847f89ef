"""Closing an ended game: seats, ratings and money, each exactly once.

The ``game_over`` (or ``aborted``) event and the games row's status are committed
together by the engine's batch. Closing comes after, and may be retried any number
of times (at the next start-up if the process dies in between):

1. finished games: one transaction writes every seat's placing, points, payout and
   ratings before/after, and the players' ``ratings`` rows. It only runs while the
   seats have no placing yet, so a retry writes nothing twice.
2. staked games: ``ledger.settle`` (finished) or ``ledger.refund`` (aborted), whose
   idempotency keys (``settle:<id>``, ``refund:<id>``) make a retry move nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from meeple.engine.table import ABORTED, FINISHED, Table
from meeple.ledger import AlreadySettled, Ledger, NotEscrowed
from meeple.obs import tracing
from meeple.settings import Settings
from meeple.store.database import Store
from meeple.store.schema import game_seats, ratings

log = logging.getLogger(__name__)


def payout_table(settings: Settings, game: str, seats: int) -> tuple[int, ...]:
    """Percent of the pot by placing: the settings' table for the game, else winner takes all."""
    text = {"fourchess": settings.payout_fourchess, "chess": settings.payout_chess}.get(game)
    table = [int(p) for p in text.split(",")] if text else [100]
    table = (table + [0] * seats)[:seats]
    return tuple(table)


async def close(store: Store, ledger: Ledger, settings: Settings, table: Table) -> None:
    """Write the ended game's seats and ratings, then settle or refund its stakes."""
    attributes = {"meeple.game_id": table.game_id, "meeple.game.status": table.status}
    with tracing.span("meeple.engine", "engine settle", attributes=attributes) as span:
        if span is not None:
            span.set_attribute("meeple.stake", table.stake)
        await _close(store, ledger, table)


async def _close(store: Store, ledger: Ledger, table: Table) -> None:
    if table.status == FINISHED:
        await record_results(store, table)
        if table.stake > 0 and table.result is not None:
            try:
                await ledger.settle(
                    table.game_id,
                    table.result["placings"],
                    payout_percent=table.policy.payout_percent,
                    rake_bps=table.policy.rake_bps,
                )
            except AlreadySettled:
                log.error("game %s was refunded before it could be settled", table.game_id)
    elif table.status == ABORTED and table.stake > 0:
        try:
            await ledger.refund(table.game_id)
        except NotEscrowed:
            pass  # aborted before its stakes were taken: nothing to give back
        except AlreadySettled:
            log.error("game %s was settled before it could be refunded", table.game_id)


async def record_results(store: Store, table: Table) -> None:
    """Seats' placings, payouts and ratings, and the players' new ratings (once)."""
    result = table.result
    if result is None or table.new_skills is None:
        return
    placings = result["placings"]
    points = result.get("points") or [None] * len(table.seats)
    payouts = result.get("payouts") or [None] * len(table.seats)
    now = datetime.now(UTC)
    upsert = pg_insert if store.dialect == "postgresql" else sqlite_insert
    async with store.begin() as conn:
        open_seats = await conn.scalar(
            select(game_seats.c.seat)
            .where(game_seats.c.game_id == table.game_id, game_seats.c.placing.is_(None))
            .limit(1)
        )
        if open_seats is None:
            return  # already recorded
        for seat, info in enumerate(table.seats):
            await conn.execute(
                update(game_seats)
                .where(game_seats.c.game_id == table.game_id, game_seats.c.seat == seat)
                .values(
                    rating_before=info.skill.display,
                    rating_after=table.new_skills[seat].display,
                    placing=placings[seat],
                    points=points[seat],
                    payout=payouts[seat],
                )
            )
            new = table.new_skills[seat]
            won = 1 if placings[seat] == 1 else 0
            insert = upsert(ratings).values(
                player_id=info.player_id,
                game=table.rules.name,
                mu=new.mu,
                sigma=new.sigma,
                rating=new.display,
                games_played=1,
                wins=won,
                updated_at=now,
            )
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=[ratings.c.player_id, ratings.c.game],
                    set_={
                        "mu": new.mu,
                        "sigma": new.sigma,
                        "rating": new.display,
                        "games_played": ratings.c.games_played + 1,
                        "wins": ratings.c.wins + won,
                        "updated_at": now,
                    },
                )
            )
