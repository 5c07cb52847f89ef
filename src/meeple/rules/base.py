"""The game plug-in interface: what every game implements.

A game is a stateless object (one instance serves every table) whose methods are
pure functions over *states*. States are values: no method ever mutates the state
it is given; the ones that change something return an :class:`Outcome` holding a
new state and the events the change caused. Nothing here may read a clock, a
random source or the network, so the same state and the same call always give
the same result: the engine's event log can be replayed to the same state on any
machine, any number of times.

Seats are numbered ``0 .. seats-1`` in turn order. A *move* is a game-specific,
hashable value; on the wire and in logs it travels as text (:meth:`Game.format_move`
and :meth:`Game.parse_move` are exact inverses for legal moves).

The life of a table, as the engine drives it::

    state = game.new(seats, options)
    while game.result(state) is None:
        seat = <a seat in game.to_act(state)>
        move = game.parse_move(state, seat, text)        # BadNotationError
        state, events = game.play(state, seat, move)     # IllegalMoveError, ...
    result = game.result(state)

Around that loop: :meth:`Game.remove` (resignation, timeout, forfeit),
:meth:`Game.offer_draw` / :meth:`Game.answer_draw`, and :meth:`Game.claim`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Generic, NamedTuple, NoReturn, TypeAlias, TypeVar

from meeple.rules.errors import ActionUnavailableError

Seat: TypeAlias = int
"""A seat index, ``0 .. seats-1``, in turn order."""

JSON: TypeAlias = str | int | bool | list["JSON"] | dict[str, "JSON"] | None
"""Plain data that encodes to JSON as it is (views and event payloads)."""

Options: TypeAlias = Mapping[str, str]
"""Game options as text key/value pairs, e.g. ``{"promotion": "any"}``."""

S = TypeVar("S")
M = TypeVar("M")


class Removal(enum.Enum):
    """Why a seat leaves a game before it ends. Each game decides the consequences."""

    RESIGN = "resign"
    TIMEOUT = "timeout"
    FORFEIT = "forfeit"  # e.g. disconnected past the grace period


class Claim(enum.Enum):
    """Things a seat may claim, where the game has them."""

    WIN = "win"  # fourchess: two players left and a lead of more than 20 points
    DRAW = "draw"  # chess: threefold repetition or the fifty-move rule


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at the table, in the order it happened.

    ``kind`` is one of the common kinds below or a game's own; ``seat`` is the seat
    it concerns (``None`` for the table as a whole); ``data`` is game-defined.

    Common kinds: ``move`` (data: ``move`` text), ``removed`` (``reason``),
    ``eliminated`` (``reason``), ``points`` (``delta``, ``total``, ``reason``),
    ``draw_offered``, ``draw_declined``, ``draw_accepted``, ``claimed``,
    ``game_over`` (``reason``, ``placings``, ``points``).
    """

    kind: str
    seat: Seat | None = None
    data: dict[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSON]:
        """The event as plain data."""
        return {"kind": self.kind, "seat": self.seat, "data": self.data}


@dataclass(frozen=True, slots=True)
class Result:
    """How a game ended.

    ``placings[seat]`` is 1 for the winner, 2 for the next, ...; seats that tie
    share a placing (a drawn chess game is ``(1, 1)``). ``points`` is given where
    the game keeps points (fourchess), else ``None``.
    """

    placings: tuple[int, ...]
    reason: str
    points: tuple[int, ...] | None = None

    def to_json(self) -> dict[str, JSON]:
        """The result as plain data."""
        return {
            "placings": list(self.placings),
            "reason": self.reason,
            "points": None if self.points is None else list(self.points),
        }


class Outcome(NamedTuple, Generic[S]):
    """A new state and the events that led to it; unpacks as ``state, events``."""

    state: S
    events: tuple[Event, ...]


class Game(ABC, Generic[S, M]):
    """A game's rules. Subclass it, then register an instance (see :mod:`.registry`).

    ``name`` is the registry key and the name on the wire. ``seat_counts`` lists
    the numbers of seats the game supports. ``seat_names`` names seats for
    people (index = seat).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    seat_counts: ClassVar[tuple[int, ...]]
    seat_names: ClassVar[tuple[str, ...]]

    # -- setting up ---------------------------------------------------------

    @abstractmethod
    def new(self, seats: int, options: Options | None = None) -> S:
        """The start position for ``seats`` seats. Raises BadOptionError."""

    @abstractmethod
    def options(self, state: S) -> dict[str, str]:
        """The options the game was created with (normalized, defaults filled in)."""

    # -- whose move, which moves ------------------------------------------------

    @abstractmethod
    def to_act(self, state: S) -> tuple[Seat, ...]:
        """Seats that may play a move now; empty when the game is over.

        A sequential game returns one seat; the engine runs that seat's clock.
        """

    @abstractmethod
    def legal_moves(self, state: S, seat: Seat) -> Sequence[M]:
        """Every legal move of ``seat`` now (empty if it may not act)."""

    @abstractmethod
    def play(self, state: S, seat: Seat, move: M) -> Outcome[S]:
        """Apply a move. Raises NotYourTurnError, IllegalMoveError or GameOverError,
        saying why, and then changes nothing."""

    # -- leaving, draws, claims -------------------------------------------------

    @abstractmethod
    def remove(self, state: S, seat: Seat, reason: Removal) -> Outcome[S]:
        """Take a seat out (resignation, timeout, forfeit) with this game's
        consequences; may end the game. Raises GameOverError, ActionUnavailableError
        (seat already out)."""

    def offer_draw(self, state: S, seat: Seat) -> Outcome[S]:
        """Offer a draw to the other seats. Games without draws raise
        ActionUnavailableError (the default)."""
        raise_unavailable(self, "draw offers")

    def answer_draw(self, state: S, seat: Seat, accept: bool) -> Outcome[S]:
        """Accept or decline a pending draw offer. Default: no draws in this game."""
        raise_unavailable(self, "draw offers")

    def claim(self, state: S, seat: Seat, claim: Claim) -> Outcome[S]:
        """Claim a win or a draw where the rules allow it now; else
        ActionUnavailableError saying why. Default: nothing to claim."""
        raise_unavailable(self, f"{claim.value} claims")

    # -- the end -----------------------------------------------------------------

    @abstractmethod
    def result(self, state: S) -> Result | None:
        """The result if the game is over, else ``None``."""

    # -- text and bytes ----------------------------------------------------------

    @abstractmethod
    def parse_move(self, state: S, seat: Seat, text: str) -> M:
        """Read move text in this game's notation. Raises BadNotationError; the
        move need not be legal (play() checks that)."""

    @abstractmethod
    def format_move(self, state: S, move: M) -> str:
        """Write a move in this game's notation (inverse of parse_move)."""

    @abstractmethod
    def encode(self, state: S) -> bytes:
        """Serialize a state exactly: ``decode(encode(s)) == s``."""

    @abstractmethod
    def decode(self, data: bytes) -> S:
        """Read a state written by encode(). Raises BadPositionError."""

    def position_from_text(self, text: str, options: Options | None = None) -> S:
        """Read a position in the game's text format (FEN, FEN4). Raises
        BadPositionError. Default: the game has no position text."""
        raise_unavailable(self, "position text")

    def position_to_text(self, state: S) -> str:
        """Write a position in the game's text format (inverse of position_from_text)."""
        raise_unavailable(self, "position text")

    # -- perft: the rules' truth --------------------------------------------------

    def perft(self, state: S, depth: int) -> int:
        """Number of legal move sequences of length ``depth`` from ``state``.

        This default walks the interface (slow, but right for any game); games
        override it with a fast make/unmake search. A position where the seat to
        act has no legal move ends its branch and counts 0.
        """
        if depth == 0:
            return 1
        total = 0
        for seat in self.to_act(state):
            moves = self.legal_moves(state, seat)
            if depth == 1:
                total += len(moves)
                continue
            for move in moves:
                total += self.perft(self.play(state, seat, move).state, depth - 1)
        return total

    def perft_divide(self, state: S, depth: int) -> dict[str, int]:
        """perft for each first move, keyed by its text (``depth`` >= 1)."""
        counts: dict[str, int] = {}
        for seat in self.to_act(state):
            for move in self.legal_moves(state, seat):
                child = self.play(state, seat, move).state
                counts[self.format_move(state, move)] = self.perft(child, depth - 1)
        return counts

    @abstractmethod
    def view(self, state: S, seat: Seat | None) -> dict[str, JSON]:
        """What ``seat`` may see of the state (``None``: a spectator). The hook for
        hidden information; games with none show everyone everything."""


def raise_unavailable(game: Game[S, M], what: str) -> NoReturn:
    """Raise ActionUnavailableError for an action this game does not have."""
    raise ActionUnavailableError(f"{game.name} has no {what}")
