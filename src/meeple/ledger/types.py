"""The ledger's records: plain frozen data returned by :class:`meeple.ledger.Ledger`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Entry:
    """One leg of a transfer: positive credits ``account_id``, negative debits it."""

    account_id: str
    amount: int
    balance_after: int
    seat: int | None = None  # the game seat, for escrow, settlement and refund legs


@dataclass(frozen=True, slots=True)
class Transfer:
    """A double-entry movement of money: its entries sum to zero."""

    id: int
    key: str
    kind: str  # deposit, withdrawal, adjustment, escrow, settlement, refund
    game_id: str | None
    memo: str | None
    created_at: datetime
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One movement of a player's wallet, as shown on their statement."""

    entry_id: int
    transfer_id: int
    kind: str
    game_id: str | None
    memo: str | None
    amount: int
    balance_after: int
    created_at: datetime
