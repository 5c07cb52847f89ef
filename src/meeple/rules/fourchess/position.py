"""The mutable search position: padded board, piece sets, king squares, make/unmake.

Callers of the game only ever see immutable :class:`~.state.FourChessState`
values; a :class:`Position` is the scratch copy that move generation, perft and
``play`` work on, changed in place by :meth:`Position.make` and restored exactly
by :meth:`Position.unmake`.
"""

from __future__ import annotations

from meeple.rules.fourchess.geometry import (
    CASTLE_KING_SIDE,
    CASTLE_MASK,
    CASTLES,
    DOUBLE_STEP,
    EMPTY,
    EN_PASSANT,
    KING,
    KING_SIDE,
    OFF,
    PROMOTION,
    QUEEN_SIDE,
    VALID,
    Move,
    Piece,
    Square,
)

Undo = tuple[Piece, int, int, int, Piece]
"""(captured piece on the target, castling rights, mover's en-passant skip and
pawn squares before the move, pawn taken en passant)."""


Found = tuple[list[set[Square]], list[Square]]
"""Squares of each owner's pieces (grey last) and each player's king square (0:
none), as a :class:`Position` keeps them."""


class Position:
    """A position being searched. ``live[p]`` is False for eliminated players
    (their turns are skipped and their pieces attack nobody)."""

    __slots__ = (
        "any_promotion",
        "board",
        "castling",
        "ep_pawn",
        "ep_skip",
        "kings",
        "live",
        "pieces",
        "turn",
    )

    def __init__(
        self,
        board: list[Piece],
        turn: int,
        live: list[bool],
        castling: int,
        ep: tuple[tuple[Square, Square], ...],
        any_promotion: bool,
        found: Found | None = None,
    ) -> None:
        self.board = board
        self.turn = turn
        self.live = live
        self.castling = castling
        self.ep_skip = [skip for skip, _ in ep]
        self.ep_pawn = [pawn for _, pawn in ep]
        self.any_promotion = any_promotion
        if found is not None:  # the caller knows where the pieces are: no scan
            self.pieces = [s.copy() for s in found[0]]
            self.kings = list(found[1])
            return
        self.pieces = [set() for _ in range(5)]
        self.kings = [0, 0, 0, 0]
        for sq in VALID:
            p = board[sq]
            if p != EMPTY and p != OFF:
                self.pieces[p >> 3].add(sq)
                if p & 7 == KING and p >> 3 < 4:
                    self.kings[p >> 3] = sq

    def found(self) -> Found:
        """Where the pieces are, for building this position again without a scan
        (the sets are this position's own: change nothing in them)."""
        return (self.pieces, self.kings)

    @property
    def live_mask(self) -> int:
        """Bit ``1 << p`` set for every live player."""
        return sum(1 << p for p in range(4) if self.live[p])

    def next_player(self, player: int) -> int:
        """The live player after ``player`` in turn order (``player`` if none)."""
        for i in range(1, 5):
            nxt = (player + i) % 4
            if self.live[nxt]:
                return nxt
        return player

    def ep_tuple(self) -> tuple[tuple[Square, Square], ...]:
        """En-passant rights as (skipped square, pawn square) per player, 0s for none."""
        return tuple(zip(self.ep_skip, self.ep_pawn, strict=True))

    def make(self, move: Move) -> Undo:
        """Play ``move`` (assumed pseudo-legal) in place; return what unmake needs.

        The turn is not changed: the caller decides who plays next.
        """
        fr, to, fl = move
        board = self.board
        pc = board[fr]
        c = pc >> 3
        cap = board[to]
        taken = EMPTY
        undo = (cap, self.castling, self.ep_skip[c], self.ep_pawn[c], EMPTY)
        board[fr] = EMPTY
        board[to] = pc
        pieces = self.pieces
        pieces[c].remove(fr)
        pieces[c].add(to)
        if cap:
            pieces[cap >> 3].remove(to)
            if cap & 7 == KING and cap >> 3 < 4:
                self.kings[cap >> 3] = 0
        if pc & 7 == KING:
            self.kings[c] = to
        self.ep_skip[c] = 0
        self.ep_pawn[c] = 0
        if fl:
            if fl == DOUBLE_STEP:
                self.ep_skip[c] = (fr + to) >> 1
                self.ep_pawn[c] = to
            elif fl >= EN_PASSANT:
                victim = (fl - EN_PASSANT) & 511
                taken = board[victim]
                board[victim] = EMPTY
                pieces[taken >> 3].remove(victim)
                undo = (cap, undo[1], undo[2], undo[3], taken)
                if fl >> 9:  # en passant onto the promotion line
                    board[to] = (c << 3) + ((fl - EN_PASSANT) >> 9)
            elif fl >= PROMOTION:
                board[to] = (c << 3) + fl - PROMOTION
            else:
                side = KING_SIDE if fl == CASTLE_KING_SIDE else QUEEN_SIDE
                _, _, rf, rt, _, _ = CASTLES[c][side]
                board[rt] = board[rf]
                board[rf] = EMPTY
                pieces[c].remove(rf)
                pieces[c].add(rt)
        self.castling &= CASTLE_MASK[fr] & CASTLE_MASK[to]
        return undo

    def unmake(self, move: Move, undo: Undo) -> None:
        """Take back ``move`` made with :meth:`make`, restoring every field."""
        fr, to, fl = move
        board = self.board
        cap, castling, skip, pawn, taken = undo
        pc = board[to]
        c = pc >> 3
        pieces = self.pieces
        if fl:
            if fl >= EN_PASSANT:
                victim = (fl - EN_PASSANT) & 511
                board[victim] = taken
                pieces[taken >> 3].add(victim)
                if fl >> 9:
                    pc = (c << 3) + 1
            elif fl >= PROMOTION:
                pc = (c << 3) + 1  # back to a pawn
            elif fl != DOUBLE_STEP:
                side = KING_SIDE if fl == CASTLE_KING_SIDE else QUEEN_SIDE
                _, _, rf, rt, _, _ = CASTLES[c][side]
                board[rf] = board[rt]
                board[rt] = EMPTY
                pieces[c].remove(rt)
                pieces[c].add(rf)
        board[fr] = pc
        board[to] = cap
        pieces[c].remove(to)
        pieces[c].add(fr)
        if cap:
            pieces[cap >> 3].add(to)
            if cap & 7 == KING and cap >> 3 < 4:
                self.kings[cap >> 3] = to
        if pc & 7 == KING:
            self.kings[c] = fr
        self.castling = castling
        self.ep_skip[c] = skip
        self.ep_pawn[c] = pawn
