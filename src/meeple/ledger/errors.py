"""The ledger's errors: one root, each with a stable machine-readable ``code``.

::

    LedgerError
    ├── InvalidAmount        zero or negative where a positive amount is required
    ├── InvalidRequest       a malformed key, placings or payout table
    ├── UnknownPlayer        a wallet for a player that does not exist
    ├── InsufficientFunds    a debit larger than the balance (names player and seat)
    ├── IdempotencyConflict  a key reused for a different request
    ├── AlreadySettled       settle after refund, refund after settle
    └── NotEscrowed          settle or refund of a game that has no escrow
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of the ledger's errors."""

    code = "ledger_error"


class InvalidAmount(LedgerError, ValueError):
    """An amount that must be a positive (or non-zero) integer is not."""

    code = "invalid_amount"


class InvalidRequest(LedgerError, ValueError):
    """A malformed request: idempotency key, placings, payout table, stakes."""

    code = "invalid_request"


class UnknownPlayer(LedgerError):
    """A wallet was asked for a player id that is not in the players table."""

    code = "unknown_player"

    def __init__(self, player_id: int) -> None:
        super().__init__(f"no player with id {player_id}")
        self.player_id = player_id


class InsufficientFunds(LedgerError):
    """A debit would take a wallet (or an escrow) below zero; nothing moved."""

    code = "insufficient_funds"

    def __init__(
        self, player_id: int | None, seat: int | None, needed: int, available: int
    ) -> None:
        where = f" (seat {seat})" if seat is not None else ""
        who = f"player {player_id}" if player_id is not None else "account"
        super().__init__(f"{who}{where} needs {needed}, has {available}")
        self.player_id = player_id
        self.seat = seat
        self.needed = needed
        self.available = available


class IdempotencyConflict(LedgerError):
    """The idempotency key was already used for a different request."""

    code = "idempotency_conflict"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was used for a different request")
        self.key = key


class AlreadySettled(LedgerError):
    """The game's escrow was already settled or refunded (each happens once)."""

    code = "already_settled"

    def __init__(self, game_id: str, by: str) -> None:
        super().__init__(f"game {game_id!r} was already closed by {by}")
        self.game_id = game_id
        self.by = by


class NotEscrowed(LedgerError):
    """Settle or refund of a game whose stakes were never escrowed."""

    code = "not_escrowed"

    def __init__(self, game_id: str) -> None:
        super().__init__(f"game {game_id!r} has no escrow")
        self.game_id = game_id
