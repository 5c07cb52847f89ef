"""Property: concurrent deposits, withdrawals, escrows, settlements, refunds and retries
against PostgreSQL keep the books exact (DESIGN.md invariant 6).

Each example runs waves of operations as parallel asyncio tasks over one shared
database (fresh players and games per example), retrying the same keys inside and
across waves. Afterwards, against a model built from what the calls returned:
every key was applied at most once (all its successful calls got one transfer),
no failed call left a trace, each player's balance is what the successful
transfers say, settle and refund closed each game at most once, and the books
check out — also by the real ``meeple ledger check`` at the end.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from meeple.ledger import (
    AlreadySettled,
    IdempotencyConflict,
    InsufficientFunds,
    Ledger,
    LedgerError,
    NotEscrowed,
    Transfer,
)
from meeple.ledger.payout import split_pot
from meeple.store.database import Store
from meeple.store.schema import ledger_transfers
from tests.ledger.test_check import meeple_ledger_check
from tests.services import PostgresServer
from tests.store.factories import add_players

PLAYERS = 4
GAMES = 2
PAYOUTS = {2: [70, 30], 3: [60, 30, 10], 4: [60, 30, 10, 0]}  # by number of seats
RAKE = 250


@dataclass(frozen=True)
class Op:
    kind: str  # deposit, withdraw, escrow, settle, refund
    key: int = 0  # index into a small pool of keys: collisions are retries or conflicts
    player: int = 0
    amount: int = 0
    game: int = 0
    seats: tuple[int, ...] = ()  # players (indexes) by seat, for escrow
    scores: tuple[int, ...] = ()  # for settle: placings rank the escrowed seats by score


FUNDING = 1_000
amounts = st.integers(1, 300)
money_ops = st.one_of(
    st.builds(Op, st.just("deposit"), st.integers(0, 5), st.integers(0, PLAYERS - 1), amounts),
    st.builds(Op, st.just("withdraw"), st.integers(0, 3), st.integers(0, PLAYERS - 1), amounts),
)
escrow_ops = st.builds(
    Op,
    st.just("escrow"),
    amount=st.integers(1, 200),
    game=st.integers(0, GAMES - 1),
    seats=st.permutations(range(PLAYERS)).flatmap(
        lambda perm: st.integers(2, PLAYERS).map(lambda n: tuple(perm[:n]))
    ),
)
close_ops = st.one_of(
    st.builds(Op, st.just("refund"), game=st.integers(0, GAMES - 1)),
    st.builds(
        Op,
        st.just("settle"),
        game=st.integers(0, GAMES - 1),
        scores=st.lists(st.integers(0, 2), min_size=PLAYERS, max_size=PLAYERS).map(tuple),
    ),
)


def with_retries(ops: st.SearchStrategy[Op], size: int) -> st.SearchStrategy[list[Op]]:
    """Lists of ops in which some ops appear twice (a client retry of the same call)."""
    return st.lists(ops, min_size=1, max_size=size).flatmap(
        lambda xs: st.lists(st.sampled_from(xs), max_size=3).map(lambda again: xs + again)
    )


waves = st.tuples(
    with_retries(money_ops, 8),
    with_retries(st.one_of(escrow_ops, money_ops), 6),
    with_retries(st.one_of(close_ops, money_ops), 6),
)


def rank(scores: tuple[int, ...]) -> list[int]:
    """Competition ranking of ``scores`` (higher is better): 1, 2, 2, 4."""
    return [1 + sum(other > mine for other in scores) for mine in scores]


class Scenario:
    """One example's run: its namespace, players, calls and what they returned."""

    counter = itertools.count()

    def __init__(self, ledger: Ledger, players: list[int]) -> None:
        self.ledger = ledger
        self.players = players
        self.ns = f"ex{next(self.counter)}"
        self.results: list[tuple[Op, Transfer | LedgerError]] = []

    def game_id(self, op: Op) -> str:
        return f"{self.ns}-g{op.game}"

    async def call(self, op: Op) -> Transfer:
        ledger, p = self.ledger, self.players
        if op.kind == "deposit":
            return await ledger.deposit(p[op.player], op.amount, key=f"{self.ns}:d{op.key}")
        if op.kind == "withdraw":
            return await ledger.withdraw(p[op.player], op.amount, key=f"{self.ns}:w{op.key}")
        if op.kind == "escrow":
            stakes = [(seat, p[i], op.amount) for seat, i in enumerate(op.seats)]
            return await ledger.escrow(self.game_id(op), stakes)
        if op.kind == "refund":
            return await ledger.refund(self.game_id(op))
        assert op.kind == "settle"
        escrow = await ledger.transfer(f"escrow:{self.game_id(op)}")
        seats = len(escrow.entries) - 1 if escrow else PLAYERS
        placings = rank(op.scores[:seats])
        return await ledger.settle(
            self.game_id(op), placings, payout_percent=PAYOUTS[seats], rake_bps=RAKE
        )

    async def wave(self, ops: list[Op]) -> None:
        async def one(op: Op) -> None:
            try:
                self.results.append((op, await self.call(op)))
            except LedgerError as exc:
                self.results.append((op, exc))

        async with asyncio.TaskGroup() as tasks:
            for op in ops:
                tasks.create_task(one(op))

    async def verify(self) -> None:
        # Every successful call of one key got the same transfer; count the keys applied.
        by_key: dict[str, set[int]] = defaultdict(set)
        winners: dict[str, tuple[Op, Transfer]] = {}
        for op, outcome in self.results:
            if isinstance(outcome, Transfer):
                by_key[outcome.key].add(outcome.id)
                winners.setdefault(outcome.key, (op, outcome))
        assert all(len(ids) == 1 for ids in by_key.values()), by_key

        # A call that succeeded got the transfer of its own request, not another one's.
        for op, outcome in self.results:
            if isinstance(outcome, Transfer) and op.kind in ("deposit", "withdraw", "escrow"):
                sign = 1 if op.kind == "deposit" else -1
                mine = {e.account_id: e.amount for e in outcome.entries if e.account_id[0] == "p"}
                players = [op.player] if op.kind != "escrow" else list(op.seats)
                assert mine == {f"player:{self.players[i]}": sign * op.amount for i in players}

        # Failures are the legitimate ones.
        for op, outcome in self.results:
            if isinstance(outcome, IdempotencyConflict):
                won = winners.get(outcome.key)
                assert won is not None and won[0] != op, (op, won)
            elif isinstance(outcome, AlreadySettled | NotEscrowed):
                assert op.kind in ("settle", "refund")
            elif isinstance(outcome, LedgerError):
                assert isinstance(outcome, InsufficientFunds), outcome

        # The model: what the winning calls must have done to each wallet.
        expected = [FUNDING] * PLAYERS
        escrows = {won[0].game: won[0] for won in winners.values() if won[0].kind == "escrow"}
        closed: dict[int, str] = {}
        for op, _ in winners.values():
            if op.kind == "deposit":
                expected[op.player] += op.amount
            elif op.kind == "withdraw":
                expected[op.player] -= op.amount
            elif op.kind == "escrow":
                for i in op.seats:
                    expected[i] -= op.amount
            else:
                assert op.game not in closed, "a game was closed twice"
                closed[op.game] = op.kind
                stake = escrows[op.game]
                if op.kind == "refund":
                    for i in stake.seats:
                        expected[i] += stake.amount
                else:
                    placings = rank(op.scores[: len(stake.seats)])
                    pot, seats = stake.amount * len(stake.seats), len(stake.seats)
                    split = split_pot(pot, placings, PAYOUTS[seats], RAKE)
                    for i, paid in zip(stake.seats, split.payouts, strict=True):
                        expected[i] += paid
        actual = [await self.ledger.balance(p) for p in self.players]
        assert actual == expected
        assert all(b >= 0 for b in actual)

        # Nothing recorded beyond the winners (no failed call left a transfer).
        store = self.ledger._store
        async with store.connect() as conn:
            recorded = await conn.scalar(
                select(func.count())
                .select_from(ledger_transfers)
                .where(ledger_transfers.c.idempotency_key.like(f"%{self.ns}%"))
            )
        assert recorded == len(winners) + PLAYERS  # and the funding deposits
        assert await self.ledger.check() == []


def test_concurrent_money_keeps_the_books_exact(postgres: PostgresServer) -> None:
    postgres.start()
    name = asyncio.run(postgres.acquire_database())
    url = postgres.url(name)

    @settings(
        # A soak run: LEDGER_PROPERTY_EXAMPLES=300 pytest --timeout 0 tests/ledger/test_property.py
        max_examples=int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "12")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(waves)
    def run(plan: tuple[list[Op], list[Op], list[Op]]) -> None:
        asyncio.run(example(plan))

    async def example(plan: tuple[list[Op], list[Op], list[Op]]) -> None:
        store = await Store.open(url, migrate=False)
        try:
            scenario = Scenario(Ledger(store, "USD"), await add_players(store, PLAYERS))
            await asyncio.gather(
                *(
                    scenario.ledger.deposit(p, FUNDING, key=f"{scenario.ns}:funding:{p}")
                    for p in scenario.players
                )
            )
            for ops in plan:
                await scenario.wave(ops)
            await scenario.verify()
        finally:
            await store.close()

    try:
        run()
        done = meeple_ledger_check(url)
        assert done.returncode == 0, done.stdout
        assert done.stdout.startswith("ledger ok: ") and done.stdout.endswith(", sum 0\n")
    finally:
        asyncio.run(postgres.release_database(name))
