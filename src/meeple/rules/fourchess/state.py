"""The immutable state value that callers of the game hold."""

from __future__ import annotations

from dataclasses import dataclass, field

from meeple.rules.fourchess.fen4 import Rows
from meeple.rules.fourchess.geometry import Move, Piece, Square
from meeple.rules.fourchess.position import Found, Position


class Derived:
    """What the rules work out from a state and keep with it, each part filled in
    when first needed: where its pieces are (never changed; positions built
    from it get copies), the sorted legal moves of the side to move and the FEN4
    board rows (``before``: the board and rows of the state this one was played
    from, to take unchanged rows from); ``checked``, when known, the players
    whose king may be attacked (the others' certainly is not). Each is a
    function of the state's fields, so keeping them changes no result."""

    __slots__ = ("before", "checked", "found", "legal", "rows")

    def __init__(
        self,
        found: Found | None = None,
        before: tuple[tuple[Piece, ...], Rows] | None = None,
        checked: tuple[int, ...] | None = None,
    ) -> None:
        self.found = found
        self.legal: tuple[Move, ...] | None = None
        self.rows: Rows | None = None
        self.before = before
        self.checked = checked


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
    # Work derived from the fields above, filled in lazily (or handed over by
    # the move that made this state). Not part of the value: no constructor
    # argument, no part in ==, hash or repr, and dataclasses.replace starts the
    # new state without it.
    _derived: Derived | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def derived(self) -> Derived:
        """The work kept with this state (an empty record at first)."""
        derived = self._derived
        if derived is None:
            derived = Derived()
            object.__setattr__(self, "_derived", derived)
        return derived

    def keep(self, pos: Position, before: FourChessState, checked: tuple[int, ...] | None) -> None:
        """Keep where the pieces of ``pos``, this state's position, are (the
        caller gives ``pos`` up), what ``before``, the state this one was played
        from, kept of its board rows, and ``checked`` (see :class:`Derived`)."""
        rows = before._derived.rows if before._derived is not None else None
        kept = Derived(pos.found(), None if rows is None else (before.board, rows), checked)
        object.__setattr__(self, "_derived", kept)

    def position(self) -> Position:
        """A fresh mutable copy for searching or applying a move."""
        derived = self.derived()
        if derived.found is None:
            derived.found = self._build(None).found()  # a scan, once
        return self._build(derived.found)

    def _build(self, found: Found | None) -> Position:
        return Position(
            list(self.board),
            self.turn,
            [o == 0 for o in self.out],
            self.castling,
            self.ep,
            self.any_promotion,
            found,
        )

    @property
    def live(self) -> tuple[int, ...]:
        """Players still in the game, in turn order."""
        return tuple(p for p in range(4) if self.out[p] == 0)
