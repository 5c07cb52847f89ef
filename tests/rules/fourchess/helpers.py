"""Small builders for readable four-player chess test positions."""

from __future__ import annotations

from meeple.rules import Event
from meeple.rules.fourchess import FourChess, FourChessState
from meeple.rules.fourchess.fen4 import Fen4, write
from meeple.rules.fourchess.geometry import KIND_LETTERS, SQUARE_NAMES, empty_board

GAME = FourChess()
RED, BLUE, YELLOW, GREEN = range(4)


def fen(
    turn: str,
    pieces: str,
    *,
    out: str = "0,0,0,0",
    points: str = "0,0,0,0",
    halfmove: int = 0,
) -> str:
    """FEN4 text from ``pieces`` like ``"rK:h1 bK:a7 dQ:e5"`` (no castling rights)."""
    board = empty_board()
    for item in pieces.split():
        piece, sq = item.split(":")
        owner = "rbygd".index(piece[0])
        board[SQUARE_NAMES[sq]] = owner * 8 + KIND_LETTERS.index(piece[1])
    flags = [x == "1" for x in out.split(",")]
    pts = [int(x) for x in points.split(",")]
    return write(
        Fen4(
            board=board,
            turn="RBYG".index(turn),
            eliminated=(flags[0], flags[1], flags[2], flags[3]),
            castling=0,
            points=(pts[0], pts[1], pts[2], pts[3]),
            halfmove=halfmove,
            ep=((0, 0),) * 4,
        )
    )


def state(
    turn: str,
    pieces: str,
    *,
    promotion: str = "queen",
    out: str = "0,0,0,0",
    points: str = "0,0,0,0",
    halfmove: int = 0,
) -> FourChessState:
    """A state read from :func:`fen`."""
    text = fen(turn, pieces, out=out, points=points, halfmove=halfmove)
    return GAME.position_from_text(text, {"promotion": promotion})


def play(s: FourChessState, text: str) -> tuple[FourChessState, tuple[Event, ...]]:
    """Play move text for the seat to move."""
    seat = GAME.to_act(s)[0]
    return GAME.play(s, seat, GAME.parse_move(s, seat, text))


def kinds(events: tuple[Event, ...]) -> list[str]:
    """The kinds of ``events`` in order."""
    return [e.kind for e in events]


def points_events(events: tuple[Event, ...]) -> list[tuple[int | None, object, object]]:
    """(seat, delta, reason) of every ``points`` event."""
    return [(e.seat, e.data["delta"], e.data["reason"]) for e in events if e.kind == "points"]
