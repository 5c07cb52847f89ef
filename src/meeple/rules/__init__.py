"""Pure game rules: the plug-in interface, its registry, and meeple's games.

No asyncio, no network, no clock, no global random state: the same state and the
same move always give the same result. Nothing here imports the rest of meeple.
"""

from meeple.rules.base import JSON, Claim, Event, Game, Options, Outcome, Removal, Result, Seat
from meeple.rules.errors import (
    ActionUnavailableError,
    BadNotationError,
    BadOptionError,
    BadPositionError,
    GameOverError,
    IllegalMoveError,
    NotYourTurnError,
    RulesError,
    UnknownGameError,
)
from meeple.rules.registry import AnyGame, get, names, register

__all__ = [
    "JSON",
    "ActionUnavailableError",
    "AnyGame",
    "BadNotationError",
    "BadOptionError",
    "BadPositionError",
    "Claim",
    "Event",
    "Game",
    "GameOverError",
    "IllegalMoveError",
    "NotYourTurnError",
    "Options",
    "Outcome",
    "Removal",
    "Result",
    "RulesError",
    "Seat",
    "UnknownGameError",
    "get",
    "names",
    "register",
]
