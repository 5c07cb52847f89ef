"""The immutable state value that callers of the game hold."""

from __future__ import annotations

from dataclasses import dataclass

from meeple.rules.fourchess.geometry import Piece, Square
from meeple.rules.fourchess.position import Position


@dataclass(frozen=True, slots=True)
class FourChessState:
    """A four-player chess table at one instant. Compare with ``==``.

    ``board`` is the padded mailbox (see :mod:`.geometry`); ``out[p]`` is 0
    while player ``p`` plays, else the order in which it was eliminated (1 for
    the first; players read as eliminated from a FEN4 share order 1);
    ``reasons[p]`` says why (``checkmate``, ``stalemate``, ``king_captured``,
    ``resign``, ``timeout``, ``forfeit``, ``claimed``; ``eliminated`` when read
    from a FEN4). ``ep[p]`` is (skipped square, pawn square) of ``p``'s last
    double step while it may still be taken, else ``(0, 0)``. ``end`` is the
    reason the game ended, ``""`` while it runs.
    """

    board: tuple[Piece, ...]
    turn: int
    out: tuple[int, int, int, int]
    castling: int
    ep: tuple[tuple[Square, Square], ...]
    points: tuple[int, int, int, int]
    halfmove: int
    any_promotion: bool = False
    reasons: tuple[str, str, str, str] = ("", "", "", "")
    end: str = ""
    last_move: str = ""

    def position(self) -> Position:
        """A fresh mutable copy for searching or applying a move."""
        return Position(
            list(self.board),
            self.turn,
            [o == 0 for o in self.out],
            self.castling,
            self.ep,
            self.any_promotion,
        )

    @property
    def live(self) -> tuple[int, ...]:
        """Players still in the game, in turn order."""
        return tuple(p for p in range(4) if self.out[p] == 0)
