"""Tic-tac-toe: the smallest complete meeple game, written to be read.

Everything a game needs is here, in the order :class:`meeple.rules.Game` lists it.
The pattern to copy:

* the **state** is an immutable value (a frozen dataclass); every method that
  changes something returns a new state and the events that happened;
* the **move** is a small hashable value (here the cell index ``0..8``) and has a
  text form (here ``a1`` .. ``c3``: column letter, row number, ``b2`` the centre);
* nothing reads a clock, a random source or the network, so replaying the same
  moves always gives the same state;
* every mistake raises a :class:`meeple.rules.RulesError` subclass and changes
  nothing.

Seat 0 plays X and moves first, seat 1 plays O. A full board without a line is a
draw; resigning, timing out or forfeiting loses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from meeple.rules import (
    JSON,
    ActionUnavailableError,
    BadNotationError,
    BadOptionError,
    BadPositionError,
    Event,
    Game,
    GameOverError,
    IllegalMoveError,
    NotYourTurnError,
    Options,
    Outcome,
    Removal,
    Result,
    Seat,
)

__all__ = ["Board", "TicTacToe"]

Cell = int
"""A cell index, 0..8: ``a1`` is 0, ``b1`` 1, ``c1`` 2, ``a2`` 3, ... ``c3`` 8."""

_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
_MARKS = "XO"
_REMOVAL_REASONS = {
    Removal.RESIGN: "resignation",
    Removal.TIMEOUT: "timeout",
    Removal.FORFEIT: "forfeit",
}


@dataclass(frozen=True, slots=True)
class Board:
    """A game of tic-tac-toe.

    ``cells[i]`` is the seat that marked cell ``i``, or ``None``. ``ended`` holds a
    result reached by an action (resignation, timeout, forfeit); a win or a full
    board is read from the cells, so it cannot disagree with them.
    """

    cells: tuple[Seat | None, ...] = (None,) * 9
    ended: Result | None = None

    @property
    def turn(self) -> Seat:
        """The seat to move: X when both have marked equally often."""
        marked = sum(cell is not None for cell in self.cells)
        return marked % 2


def _line_winner(cells: tuple[Seat | None, ...]) -> Seat | None:
    for a, b, c in _LINES:
        if cells[a] is not None and cells[a] == cells[b] == cells[c]:
            return cells[a]
    return None


def _win_for(seat: Seat, reason: str) -> Result:
    return Result(placings=(1, 2) if seat == 0 else (2, 1), reason=reason)


class TicTacToe(Game[Board, Cell]):
    """Tic-tac-toe for two seats."""

    name: ClassVar[str] = "tictactoe"
    title: ClassVar[str] = "Tic-tac-toe"
    seat_counts: ClassVar[tuple[int, ...]] = (2,)
    seat_names: ClassVar[tuple[str, ...]] = ("X", "O")

    # -- setting up -------------------------------------------------------------

    def new(self, seats: int, options: Options | None = None) -> Board:
        """An empty board. The game has no options: any option is an error."""
        if seats != 2:
            raise BadOptionError(f"tictactoe is played by 2 seats, not {seats}")
        if options:
            raise BadOptionError(f"tictactoe has no options (got: {', '.join(sorted(options))})")
        return Board()

    def options(self, state: Board) -> dict[str, str]:
        """No options."""
        return {}

    # -- whose move, which moves --------------------------------------------------

    def to_act(self, state: Board) -> tuple[Seat, ...]:
        """The seat to move, or nobody once the game is over."""
        return () if self.result(state) is not None else (state.turn,)

    def legal_moves(self, state: Board, seat: Seat) -> Sequence[Cell]:
        """The empty cells, for the seat to move."""
        if seat not in self.to_act(state):
            return ()
        return tuple(i for i, cell in enumerate(state.cells) if cell is None)

    def play(self, state: Board, seat: Seat, move: Cell) -> Outcome[Board]:
        """Mark a cell. Check everything first: a refused move changes nothing."""
        self._check_live(state)
        if seat != state.turn:
            raise NotYourTurnError(f"it is {self.seat_names[state.turn]}'s turn, not seat {seat}'s")
        if not 0 <= move < 9:
            raise IllegalMoveError(f"no cell {move}")
        if state.cells[move] is not None:
            raise IllegalMoveError(f"{_cell_name(move)} is already marked")
        cells = tuple(seat if i == move else cell for i, cell in enumerate(state.cells))
        new = Board(cells)
        events = [Event("move", seat, {"move": _cell_name(move)})]
        result = self.result(new)
        if result is not None:
            events.append(Event("game_over", None, result.to_json()))
        return Outcome(new, tuple(events))

    # -- leaving -----------------------------------------------------------------
    # Tic-tac-toe keeps the interface's defaults for draw offers and claims: it
    # has neither, and the defaults raise ActionUnavailableError.

    def remove(self, state: Board, seat: Seat, reason: Removal) -> Outcome[Board]:
        """Whoever leaves (resigns, times out, forfeits) loses."""
        self._check_live(state)
        if seat not in (0, 1):
            raise ActionUnavailableError(f"tictactoe has seats 0 and 1, not {seat}")
        result = _win_for(1 - seat, _REMOVAL_REASONS[reason])
        events = (
            Event("removed", seat, {"reason": reason.value}),
            Event("game_over", None, result.to_json()),
        )
        return Outcome(Board(state.cells, result), events)

    def _check_live(self, state: Board) -> None:
        result = self.result(state)
        if result is not None:
            raise GameOverError(f"the game is over ({result.reason})")

    # -- the end -------------------------------------------------------------------

    def result(self, state: Board) -> Result | None:
        """A line wins; a full board without one is a draw."""
        if state.ended is not None:
            return state.ended
        winner = _line_winner(state.cells)
        if winner is not None:
            return _win_for(winner, "three_in_a_row")
        if all(cell is not None for cell in state.cells):
            return Result(placings=(1, 1), reason="board_full")
        return None

    # -- text and bytes --------------------------------------------------------------

    def parse_move(self, state: Board, seat: Seat, text: str) -> Cell:
        """``a1`` .. ``c3`` (any case). Legality is play()'s business."""
        text = text.strip().lower()
        if len(text) != 2 or text[0] not in "abc" or text[1] not in "123":
            raise BadNotationError(f"expected a cell a1..c3, got {text!r}")
        return "abc".index(text[0]) + 3 * "123".index(text[1])

    def format_move(self, state: Board, move: Cell) -> str:
        """The cell's name, e.g. ``b2``."""
        return _cell_name(move)

    def encode(self, state: Board) -> bytes:
        """JSON with the board text and an action result, if any."""
        doc: dict[str, JSON] = {
            "board": self.position_to_text(state),
            "ended": None if state.ended is None else state.ended.to_json(),
        }
        return json.dumps(doc, sort_keys=True).encode()

    def decode(self, data: bytes) -> Board:
        """Read encode()'s bytes; anything else raises BadPositionError."""
        try:
            doc = json.loads(data)
            board = self.position_from_text(doc["board"])
            ended = doc["ended"]
            if ended is None:
                return board
            placings = tuple(ended["placings"])
            reason = ended["reason"]
            if placings not in ((1, 2), (2, 1)) or reason not in _REMOVAL_REASONS.values():
                raise BadPositionError(f"bad result {ended!r}")
            if self.result(board) is not None:
                raise BadPositionError("a finished game cannot also have been left")
            return Board(board.cells, Result(placings, reason))
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, BadPositionError):
                raise
            raise BadPositionError(f"not an encoded tictactoe state: {exc}") from None

    def position_from_text(self, text: str, options: Options | None = None) -> Board:
        """Rows 3, 2, 1 separated by ``/``, like FEN: ``X.O/.X./..O``."""
        rows = text.strip().upper().split("/")
        if len(rows) != 3 or any(len(row) != 3 or set(row) - set("XO.") for row in rows):
            raise BadPositionError(f"expected rows of X, O and . like 'X.O/.X./..O': {text!r}")
        marks = "".join(reversed(rows))
        cells = tuple(None if mark == "." else _MARKS.index(mark) for mark in marks)
        if marks.count("X") - marks.count("O") not in (0, 1):
            raise BadPositionError(f"X moves first: X has as many marks as O or one more: {text!r}")
        x_lines, o_lines = (
            any(all(cells[i] == seat for i in line) for line in _LINES) for seat in (0, 1)
        )
        if (x_lines and (o_lines or marks.count("X") == marks.count("O"))) or (
            o_lines and marks.count("X") > marks.count("O")
        ):
            raise BadPositionError(f"play would have stopped at the first line: {text!r}")
        return Board(cells)

    def position_to_text(self, state: Board) -> str:
        """The inverse of position_from_text."""
        marks = "".join("." if cell is None else _MARKS[cell] for cell in state.cells)
        return "/".join(marks[i : i + 3] for i in (6, 3, 0))

    # perft: the interface's default (walking new/legal_moves/play) is fast enough
    # for nine cells. A bigger game overrides perft() with a make/unmake search.

    def view(self, state: Board, seat: Seat | None) -> dict[str, JSON]:
        """Everyone sees everything."""
        result = self.result(state)
        return {
            "board": self.position_to_text(state),
            "to_act": None if result is not None else state.turn,
            "result": None if result is None else result.to_json(),
        }


def _cell_name(cell: Cell) -> str:
    return "abc"[cell % 3] + "123"[cell // 3]
