"""The ledger: double-entry wallets, escrow and settlement (DESIGN.md invariant 6).

Public names: :class:`Ledger` and its records (:class:`Transfer`, :class:`Entry`,
:class:`StatementLine`) and the errors under :class:`LedgerError`.
"""

from meeple.ledger.errors import (
    AlreadySettled,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidRequest,
    LedgerError,
    NotEscrowed,
    UnknownPlayer,
)
from meeple.ledger.ledger import Ledger, escrow_account, player_account
from meeple.ledger.types import Entry, StatementLine, Transfer

__all__ = [
    "AlreadySettled",
    "Entry",
    "IdempotencyConflict",
    "InsufficientFunds",
    "InvalidAmount",
    "InvalidRequest",
    "Ledger",
    "LedgerError",
    "NotEscrowed",
    "StatementLine",
    "Transfer",
    "UnknownPlayer",
    "escrow_account",
    "player_account",
]
