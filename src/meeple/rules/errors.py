"""Errors raised by game rules.

Every rules error is a player's mistake (or a bad document), never a bug of ours,
and each carries a stable ``code`` that the engine puts on the wire::

    RulesError (ValueError)                code
     ├── IllegalMoveError                  illegal_move
     ├── NotYourTurnError                  not_your_turn
     ├── BadNotationError                  bad_notation
     ├── ActionUnavailableError            action_unavailable
     ├── GameOverError                     game_over
     ├── BadOptionError                    bad_option
     ├── BadPositionError                  bad_position
     └── UnknownGameError                  unknown_game

A rules error never leaves a state changed: states are values, and an operation
that raises returns nothing.
"""

from __future__ import annotations


class RulesError(ValueError):
    """Root of every error raised by :mod:`meeple.rules`."""

    code: str = "rules_error"


class IllegalMoveError(RulesError):
    """The move is not legal for this seat in this position (the message says why)."""

    code = "illegal_move"


class NotYourTurnError(RulesError):
    """The seat may not act now."""

    code = "not_your_turn"


class BadNotationError(RulesError):
    """Move text that does not parse as this game's notation."""

    code = "bad_notation"


class ActionUnavailableError(RulesError):
    """The action exists in the interface but not in this game or this position
    (a draw offer in a game without draws, a win claim without the lead)."""

    code = "action_unavailable"


class GameOverError(RulesError):
    """The game has ended; nothing more can be played."""

    code = "game_over"


class BadOptionError(RulesError):
    """Unknown game option, bad option value, or an unsupported number of seats."""

    code = "bad_option"


class BadPositionError(RulesError):
    """A position text (FEN, FEN4) or serialized state that cannot be read."""

    code = "bad_position"


class UnknownGameError(RulesError):
    """No game of that name is registered."""

    code = "unknown_game"
