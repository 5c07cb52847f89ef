"""The double-entry ledger over the store (DESIGN.md invariant 6).

Every movement is one transaction that (1) claims its idempotency key by inserting
the transfer row (the unique constraint makes a concurrent duplicate wait, then
fail, and the loser returns the winner's transfer), (2) locks the accounts it
touches in sorted order (PostgreSQL ``FOR UPDATE``; SQLite's ``BEGIN IMMEDIATE``
already serializes writers), so two transfers never deadlock, (3) checks that no
player or escrow balance goes negative, and (4) writes the legs with their running
balances. The CHECK constraints of :mod:`meeple.store.schema` back (3).

Accounts: ``player:<id>`` (wallets, created lazily), ``deposits`` (clearing: money
entering goes through it, so it runs negative), ``house`` (rake and adjustments),
``escrow:<game_id>`` (stakes of a game in progress).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Row, bindparam, exists, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from meeple.ledger.check import check_books
from meeple.ledger.errors import (
    AlreadySettled,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    NotEscrowed,
    UnknownPlayer,
)
from meeple.ledger.payout import split_pot
from meeple.ledger.types import Entry, StatementLine, Transfer
from meeple.obs import tracing
from meeple.store.database import Store
from meeple.store.schema import (
    games,
    ledger_accounts,
    ledger_entries,
    ledger_transfers,
    players,
)

log = logging.getLogger(__name__)

DEPOSITS = "deposits"
HOUSE = "house"
MAX_KEY = 160


def player_account(player_id: int) -> str:
    """The wallet account id of a player."""
    return f"player:{player_id}"


def escrow_account(game_id: str) -> str:
    """The escrow account id of a game."""
    return f"escrow:{game_id}"


@dataclass(frozen=True, slots=True)
class _Leg:
    account_id: str
    amount: int
    seat: int | None = None


_Plan = Callable[[AsyncConnection], Awaitable[list[_Leg]]]


class Ledger:
    """Wallets, escrow and settlement in one currency, over a :class:`Store`."""

    def __init__(self, store: Store, currency: str) -> None:
        self._store = store
        self.currency = currency

    # ------------------------------------------------------------------ reads

    async def balance(self, player_id: int) -> int:
        """The wallet balance of ``player_id``; 0 if it has never moved."""
        async with self._store.connect() as conn:
            value = await conn.scalar(
                select(ledger_accounts.c.balance).where(
                    ledger_accounts.c.id == player_account(player_id)
                )
            )
        return int(value or 0)

    async def statement(
        self, player_id: int, *, limit: int = 50, before: int | None = None
    ) -> list[StatementLine]:
        """The wallet's movements, newest first; ``before`` is an entry id cursor."""
        e, t = ledger_entries, ledger_transfers
        query = (
            select(e.c.id, e.c.transfer_id, t.c.kind, t.c.game_id, t.c.memo, e.c.amount)
            .add_columns(e.c.balance_after, t.c.created_at)
            .join(t, t.c.id == e.c.transfer_id)
            .where(e.c.account_id == player_account(player_id))
            .order_by(e.c.id.desc())
            .limit(max(0, limit))
        )
        if before is not None:
            query = query.where(e.c.id < before)
        async with self._store.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            StatementLine(
                entry_id=r.id,
                transfer_id=r.transfer_id,
                kind=r.kind,
                game_id=r.game_id,
                memo=r.memo,
                amount=r.amount,
                balance_after=r.balance_after,
                created_at=_aware(r.created_at),
            )
            for r in rows
        ]

    async def transfer(self, key: str) -> Transfer | None:
        """The transfer recorded under ``key``, if any."""
        async with self._store.connect() as conn:
            found = await self._find(conn, key)
        return found[0] if found else None

    async def check(self) -> list[str]:
        """Audit the books; human-readable problems, empty when they are right."""
        async with self._store.connect() as conn:
            return await check_books(conn)

    # -------------------------------------------------------------- wallets

    async def deposit(
        self, player_id: int, amount: int, *, key: str, memo: str | None = None
    ) -> Transfer:
        """Money enters a wallet (from the ``deposits`` clearing account)."""
        _positive(amount)
        legs = [_Leg(DEPOSITS, -amount), _Leg(player_account(player_id), amount)]
        return await self._post(
            key=key, kind="deposit", game_id=None, memo=memo, request=legs, plan=_fixed(legs)
        )

    async def withdraw(
        self, player_id: int, amount: int, *, key: str, memo: str | None = None
    ) -> Transfer:
        """Money leaves a wallet; :class:`InsufficientFunds` if it holds less."""
        _positive(amount)
        legs = [_Leg(player_account(player_id), -amount), _Leg(DEPOSITS, amount)]
        return await self._post(
            key=key, kind="withdrawal", game_id=None, memo=memo, request=legs, plan=_fixed(legs)
        )

    async def adjust(self, player_id: int, amount: int, *, key: str, memo: str) -> Transfer:
        """An operator's signed correction of a wallet, against the house."""
        if not _is_int(amount) or amount == 0:
            raise InvalidAmount(f"adjustment must be a non-zero integer, got {amount!r}")
        legs = [_Leg(player_account(player_id), amount), _Leg(HOUSE, -amount)]
        return await self._post(
            key=key, kind="adjustment", game_id=None, memo=memo, request=legs, plan=_fixed(legs)
        )

    # ---------------------------------------------------------------- games

    async def escrow(self, game_id: str, stakes: Sequence[tuple[int, int, int]]) -> Transfer:
        """Move every seat's stake ``(seat, player_id, amount)`` into the game's escrow.

        All or nothing: if one wallet is short, :class:`InsufficientFunds` names its
        seat and player and no money moves.
        """
        ordered = sorted(stakes)
        if not ordered:
            raise InvalidRequest("escrow needs at least one stake")
        if len({s for s, _, _ in ordered}) != len(ordered):
            raise InvalidRequest(f"escrow stakes repeat a seat: {ordered}")
        if len({p for _, p, _ in ordered}) != len(ordered):
            raise InvalidRequest(f"escrow stakes repeat a player: {ordered}")
        for _, _, amount in ordered:
            _positive(amount)
        legs = [_Leg(player_account(p), -a, seat) for seat, p, a in ordered]
        legs.append(_Leg(escrow_account(game_id), sum(a for _, _, a in ordered)))
        return await self._post(
            key=f"escrow:{game_id}",
            kind="escrow",
            game_id=game_id,
            memo=None,
            request=legs,
            plan=_fixed(legs),
        )

    async def settle(
        self,
        game_id: str,
        placings: Sequence[int],
        *,
        payout_percent: Sequence[int],
        rake_bps: int,
    ) -> Transfer:
        """Pay the escrowed pot out by placing, once; the escrow ends at zero.

        ``placings[i]`` is the place (1-based, ties share a number: 1, 2, 2, 4) of
        the i-th escrowed seat in ascending seat order.
        """
        placings, payout_percent = list(placings), list(payout_percent)

        async def plan(conn: AsyncConnection) -> list[_Leg]:
            stakes = await self._close_escrow(conn, game_id, other=f"refund:{game_id}")
            if len(placings) != len(stakes):
                raise InvalidRequest(
                    f"{len(placings)} placings for {len(stakes)} escrowed seats of {game_id!r}"
                )
            pot = sum(amount for _, _, amount in stakes)
            split = split_pot(pot, placings, payout_percent, rake_bps)
            legs = [_Leg(escrow_account(game_id), -pot)]
            legs += [
                _Leg(player_account(p), paid, seat)
                for (seat, p, _), paid in zip(stakes, split.payouts, strict=True)
            ]
            legs.append(_Leg(HOUSE, split.house))
            return legs

        request = {"placings": placings, "payout": payout_percent, "rake_bps": rake_bps}
        return await self._post(
            key=f"settle:{game_id}",
            kind="settlement",
            game_id=game_id,
            memo=None,
            request=request,
            plan=plan,
        )

    async def refund(self, game_id: str) -> Transfer:
        """Return every stake of the game to its wallet, once."""

        async def plan(conn: AsyncConnection) -> list[_Leg]:
            stakes = await self._close_escrow(conn, game_id, other=f"settle:{game_id}")
            legs = [_Leg(escrow_account(game_id), -sum(a for _, _, a in stakes))]
            legs += [_Leg(player_account(p), a, seat) for seat, p, a in stakes]
            return legs

        return await self._post(
            key=f"refund:{game_id}",
            kind="refund",
            game_id=game_id,
            memo=None,
            request={"refund": game_id},
            plan=plan,
        )

    async def _close_escrow(
        self, conn: AsyncConnection, game_id: str, *, other: str
    ) -> list[tuple[int, int, int]]:
        """Lock the escrow, refuse if ``other`` already closed it; the stakes, by seat."""
        await self._lock(conn, [escrow_account(game_id)])
        if await conn.scalar(select(exists().where(ledger_transfers.c.idempotency_key == other))):
            raise AlreadySettled(game_id, other.split(":", 1)[0])
        found = await self._find(conn, f"escrow:{game_id}")
        if found is None:
            raise NotEscrowed(game_id)
        await conn.execute(update(games).where(games.c.id == game_id).values(settled=True))
        return sorted(
            (e.seat, int(e.account_id.split(":", 1)[1]), -e.amount)
            for e in found[0].entries
            if e.seat is not None
        )

    # ------------------------------------------------------------ machinery

    async def _post(
        self,
        *,
        key: str,
        kind: str,
        game_id: str | None,
        memo: str | None,
        request: object,
        plan: _Plan,
    ) -> Transfer:
        if not key or len(key) > MAX_KEY:
            raise InvalidRequest(f"idempotency key must be 1..{MAX_KEY} characters")
        request_hash = _hash(kind, game_id, memo, request)
        attributes = {"meeple.ledger.kind": kind, "meeple.ledger.key": key}
        with tracing.span("meeple.ledger", f"ledger {kind}", attributes=attributes) as span:
            try:
                async with self._store.begin() as conn:
                    found = await self._find(conn, key)
                    if found is not None:
                        return _replay(key, found, request_hash)
                    now = datetime.now(UTC)
                    transfer_id = await conn.scalar(
                        insert(ledger_transfers)
                        .values(
                            idempotency_key=key,
                            kind=kind,
                            game_id=game_id,
                            memo=memo,
                            request_hash=request_hash,
                            created_at=now,
                        )
                        .returning(ledger_transfers.c.id)
                    )
                    assert transfer_id is not None
                    legs = await plan(conn)
                    entries = await self._write_legs(conn, transfer_id, legs)
            except IntegrityError:
                # A concurrent request with the same key committed first: return its result.
                async with self._store.connect() as conn:
                    found = await self._find(conn, key)
                if found is None:
                    raise
                return _replay(key, found, request_hash)
            log.info("ledger transfer %s %s (%s)", transfer_id, kind, key)
            if span is not None:
                span.set_attribute("meeple.ledger.transfer_id", transfer_id)
            return Transfer(transfer_id, key, kind, game_id, memo, now, entries)

    async def _write_legs(
        self, conn: AsyncConnection, transfer_id: int, legs: list[_Leg]
    ) -> tuple[Entry, ...]:
        legs = [leg for leg in legs if leg.amount != 0]
        accounts = [leg.account_id for leg in legs]
        if len(set(accounts)) != len(accounts) or sum(leg.amount for leg in legs) != 0:
            raise AssertionError(f"unbalanced or repeated legs: {legs}")  # our bug, not a user's
        if not legs:
            return ()
        await self._create_accounts(conn, accounts)
        balances = await self._lock(conn, accounts)
        entries = []
        for leg in legs:
            before = balances[leg.account_id]
            after = before + leg.amount
            if after < 0 and leg.account_id.split(":", 1)[0] in ("player", "escrow"):
                player_id = _player_of(leg.account_id)
                raise InsufficientFunds(player_id, leg.seat, -leg.amount, before)
            entries.append(Entry(leg.account_id, leg.amount, after, leg.seat))
        await conn.execute(
            update(ledger_accounts)
            .where(ledger_accounts.c.id == bindparam("acct"))
            .values(balance=bindparam("after")),
            [{"acct": e.account_id, "after": e.balance_after} for e in entries],
        )
        await conn.execute(
            insert(ledger_entries),
            [
                {
                    "transfer_id": transfer_id,
                    "account_id": e.account_id,
                    "amount": e.amount,
                    "balance_after": e.balance_after,
                    "seat": e.seat,
                }
                for e in entries
            ],
        )
        return tuple(entries)

    async def _create_accounts(self, conn: AsyncConnection, accounts: list[str]) -> None:
        have = set(
            (
                await conn.execute(
                    select(ledger_accounts.c.id).where(ledger_accounts.c.id.in_(accounts))
                )
            ).scalars()
        )
        missing = sorted(set(accounts) - have)
        if not missing:
            return
        for account in missing:
            player_id = _player_of(account)
            if player_id is not None and not await conn.scalar(
                select(exists().where(players.c.id == player_id))
            ):
                raise UnknownPlayer(player_id)
        rows = [self._account_row(account) for account in missing]
        upsert = pg_insert if self._store.dialect == "postgresql" else sqlite_insert
        await conn.execute(upsert(ledger_accounts).on_conflict_do_nothing(), rows)

    def _account_row(self, account: str) -> dict[str, object]:
        kind, _, rest = account.partition(":")
        return {
            "id": account,
            "kind": kind,
            "player_id": int(rest) if kind == "player" else None,
            "game_id": rest if kind == "escrow" else None,
            "currency": self.currency,
            "balance": 0,
            "created_at": datetime.now(UTC),
        }

    async def _lock(self, conn: AsyncConnection, accounts: list[str]) -> dict[str, int]:
        """Lock ``accounts`` in id order (no deadlocks); their balances."""
        rows = await conn.execute(
            select(ledger_accounts.c.id, ledger_accounts.c.balance)
            .where(ledger_accounts.c.id.in_(accounts))
            .order_by(ledger_accounts.c.id)
            .with_for_update()
        )
        return {r.id: int(r.balance) for r in rows}

    async def _find(self, conn: AsyncConnection, key: str) -> tuple[Transfer, str | None] | None:
        t, e = ledger_transfers, ledger_entries
        row = (await conn.execute(select(t).where(t.c.idempotency_key == key))).first()
        if row is None:
            return None
        legs = await conn.execute(
            select(e.c.account_id, e.c.amount, e.c.balance_after, e.c.seat)
            .where(e.c.transfer_id == row.id)
            .order_by(e.c.id)
        )
        return _transfer(row, tuple(Entry(*leg) for leg in legs)), row.request_hash


def _transfer(row: Row[tuple[object, ...]], entries: tuple[Entry, ...]) -> Transfer:
    m = row._mapping
    return Transfer(
        id=int(m["id"]),
        key=str(m["idempotency_key"]),
        kind=str(m["kind"]),
        game_id=m["game_id"],
        memo=m["memo"],
        created_at=_aware(m["created_at"]),
        entries=entries,
    )


def _replay(key: str, found: tuple[Transfer, str | None], request_hash: str) -> Transfer:
    transfer, original_hash = found
    if original_hash != request_hash:
        raise IdempotencyConflict(key)
    return transfer


def _fixed(legs: list[_Leg]) -> _Plan:
    async def plan(_conn: AsyncConnection) -> list[_Leg]:
        return legs

    return plan


def _hash(*parts: object) -> str:
    def encode(value: object) -> object:
        if isinstance(value, _Leg):
            return [value.account_id, value.amount, value.seat]
        raise TypeError(type(value))

    text = json.dumps(parts, default=encode, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(amount: object) -> None:
    if not _is_int(amount) or amount <= 0:  # type: ignore[operator]
        raise InvalidAmount(f"amount must be a positive integer (minor units), got {amount!r}")


def _player_of(account: str) -> int | None:
    kind, _, rest = account.partition(":")
    return int(rest) if kind == "player" else None


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
