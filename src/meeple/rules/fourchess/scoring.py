"""Points (rule 8) and final placings (rule 9)."""

from __future__ import annotations

from meeple.rules.fourchess.geometry import (
    BISHOP,
    EMPTY,
    GREY,
    KING,
    KNIGHT,
    PAWN,
    PROMOTED_QUEEN,
    QUEEN,
    ROOK,
    Piece,
)

CAPTURE_POINTS = {PAWN: 1, KNIGHT: 3, BISHOP: 5, ROOK: 5, QUEEN: 9, PROMOTED_QUEEN: 1, KING: 20}
"""Points for capturing a live player's piece, by kind. A king capture scores
like a checkmate (our choice; the rules are silent)."""
CHECKMATE = 20
STALEMATE = 20
HUNDRED_PLIES = 10
CLAIM_LEAD = 20  # a claim needs a lead of *more* than this
HUNDRED_PLY_LIMIT = 100
# kings checked at once -> (bonus, bonus when every checking piece is a queen)
MULTI_CHECK = {2: (5, 1), 3: (20, 5)}


def capture_points(piece: Piece, live: tuple[bool, ...] | list[bool]) -> int:
    """Points for capturing ``piece``: 0 for grey pieces and pieces of players out."""
    if piece == EMPTY or piece >> 3 == GREY or not live[piece >> 3]:
        return 0
    return CAPTURE_POINTS[piece & 7]


def multi_check_bonus(kings: int, queen_only: bool) -> int:
    """Bonus for one move checking ``kings`` kings at once."""
    if kings < 2:
        return 0
    full, queen = MULTI_CHECK[min(kings, 3)]
    return queen if queen_only else full


def placings(points: tuple[int, ...], out: tuple[int, ...]) -> tuple[int, ...]:
    """Placing per seat: more points first; on equal points the player eliminated
    later (or not at all) first; equal on both shares a placing."""
    never = 1 + max(out)

    def key(p: int) -> tuple[int, int]:
        return (points[p], out[p] or never)

    return tuple(
        1 + sum(1 for q in range(len(points)) if key(q) > key(p)) for p in range(len(points))
    )
