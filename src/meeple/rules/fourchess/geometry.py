"""Board geometry and the constant tables every other module reads.

The 14x14 board (without its four 3x3 corners) lives in a padded 16-wide,
18-row mailbox: square ``(rank + 2) * 16 + file`` for files a..n = 0..13 and
ranks 1..14 = 0..13. Columns 14-15, the two rows above and below, and the
corners hold :data:`OFF`, so sliding and jumping stop on a sentinel without
bounds checks (a knight leaving the a-file wraps into column 14 or 15, which is
also off the board).

A piece is one small int, ``owner * 8 + kind``: owners 0-3 are Red, Blue,
Yellow, Green, owner 4 is grey (an eliminated player's pieces). Empty is 0.
"""

from __future__ import annotations

from typing import Final, TypeAlias

Square: TypeAlias = int
"""An index into the padded board (see the module docstring)."""
Piece: TypeAlias = int
"""``owner * 8 + kind``; 0 is empty, :data:`OFF` is off the board."""

RED: Final = 0
BLUE: Final = 1
YELLOW: Final = 2
GREEN: Final = 3
GREY: Final = 4
PLAYERS: Final = (RED, BLUE, YELLOW, GREEN)
COLOUR_NAMES: Final = ("red", "blue", "yellow", "green")
COLOUR_LETTERS: Final = "rbyg"

PAWN: Final = 1
KNIGHT: Final = 2
BISHOP: Final = 3
ROOK: Final = 4
QUEEN: Final = 5
KING: Final = 6
PROMOTED_QUEEN: Final = 7  # moves as a queen, worth 1 point when captured
KIND_LETTERS: Final = ".PNBRQKD"  # 'D': chess.com's letter for the 1-point queen

EMPTY: Final = 0
OFF: Final = 40
TABLE_SIZE: Final = 41  # lookup tables are indexed by piece codes 0..OFF

WIDTH: Final = 16
SIZE: Final = 18 * WIDTH
FILES: Final = "abcdefghijklmn"

N: Final = 16
S: Final = -16
E: Final = 1
W: Final = -1
ORTHO: Final = (N, S, E, W)
DIAG: Final = (N + E, N + W, S + E, S + W)
KING_STEPS: Final = ORTHO + DIAG
KNIGHT_STEPS: Final = (33, 31, 18, 14, -14, -18, -31, -33)

# Per player: the direction a pawn walks, the two it captures in.
PAWN_PUSH: Final = (N, E, S, W)
PAWN_CAPTURES: Final = ((N + W, N + E), (N + E, S + E), (S + W, S + E), (N + W, S + W))


def square(file: int, rank: int) -> Square:
    """The square at ``file`` 0..13 (a..n) and ``rank`` 0..13 (1..14)."""
    return (rank + 2) * WIDTH + file


def file_of(sq: Square) -> int:
    """File index 0..13 of a square."""
    return sq & 15


def rank_of(sq: Square) -> int:
    """Rank index 0..13 of a square."""
    return (sq >> 4) - 2


def is_corner(file: int, rank: int) -> bool:
    """True for the 3x3 corners that are not part of the board."""
    return (file < 3 or file > 10) and (rank < 3 or rank > 10)


VALID: Final = tuple(square(f, r) for r in range(14) for f in range(14) if not is_corner(f, r))
"""The 160 playable squares, a1-side first."""
_VALID_SET: Final = frozenset(VALID)


def on_board(sq: Square) -> bool:
    """True if ``sq`` is one of the 160 playable squares."""
    return sq in _VALID_SET


def square_name(sq: Square) -> str:
    """``a4``, ``n11``, ..."""
    return f"{FILES[file_of(sq)]}{rank_of(sq) + 1}"


SQUARE_NAMES: Final = {square_name(sq): sq for sq in VALID}
NAME_OF: Final = {sq: square_name(sq) for sq in VALID}
"""``square_name`` of the playable squares, precomputed (move text is hot)."""


def empty_board() -> list[Piece]:
    """A padded board with every playable square empty and the rest OFF."""
    board = [OFF] * SIZE
    for sq in VALID:
        board[sq] = EMPTY
    return board


def _line_table(player: int, index: int) -> tuple[bool, ...]:
    """Squares on a player's rank (Red/Yellow) or file (Blue/Green) ``index``."""
    vertical = player in (BLUE, GREEN)
    return tuple(
        sq in _VALID_SET and (file_of(sq) if vertical else rank_of(sq)) == index
        for sq in range(SIZE)
    )


# Pawns double-step from their starting line and promote on their own 8th
# rank, the centre line: Red rank 8, Yellow rank 7, Blue file h, Green file g.
PAWN_START: Final = tuple(_line_table(p, i) for p, i in zip(PLAYERS, (1, 1, 12, 12), strict=True))
PROMOTION_LINE: Final = tuple(_line_table(p, i) for p, i in zip(PLAYERS, (7, 7, 6, 6), strict=True))

KING_SIDE: Final = 0
QUEEN_SIDE: Final = 1


def castle_bit(player: int, side: int) -> int:
    """The castling-rights bit of ``player`` on ``side`` (KING_SIDE or QUEEN_SIDE)."""
    return 1 << (player + 4 * side)


ALL_CASTLING: Final = 0xFF


def _sq(name: str) -> Square:
    return SQUARE_NAMES[name]


# (king from, king to, rook from, rook to, squares that must be empty,
#  squares the king crosses or lands on, which must not be attacked)
Castle: TypeAlias = tuple[Square, Square, Square, Square, tuple[Square, ...], tuple[Square, ...]]


def _castle(k: str, kt: str, r: str, rt: str, empty: str) -> Castle:
    kf, kto = _sq(k), _sq(kt)
    step = 1 if kto > kf else -1
    stride = step * (1 if abs(kto - kf) < WIDTH else WIDTH)
    path = (kf + stride, kto)
    return (kf, kto, _sq(r), _sq(rt), tuple(_sq(s) for s in empty.split()), path)


CASTLES: Final = (
    (_castle("h1", "j1", "k1", "i1", "i1 j1"), _castle("h1", "f1", "d1", "g1", "e1 f1 g1")),
    (_castle("a7", "a5", "a4", "a6", "a5 a6"), _castle("a7", "a9", "a11", "a8", "a8 a9 a10")),
    (
        _castle("g14", "e14", "d14", "f14", "e14 f14"),
        _castle("g14", "i14", "k14", "h14", "h14 i14 j14"),
    ),
    (_castle("n8", "n10", "n11", "n9", "n9 n10"), _castle("n8", "n6", "n4", "n7", "n5 n6 n7")),
)
"""CASTLES[player][side]."""


def _castle_masks() -> tuple[int, ...]:
    masks = [ALL_CASTLING] * SIZE
    for player in PLAYERS:
        for side in (KING_SIDE, QUEEN_SIDE):
            kf, _, rf, _, _, _ = CASTLES[player][side]
            masks[kf] &= ~(castle_bit(player, KING_SIDE) | castle_bit(player, QUEEN_SIDE))
            masks[rf] &= ~castle_bit(player, side)
    return tuple(masks)


CASTLE_MASK: Final = _castle_masks()
"""``rights &= CASTLE_MASK[from] & CASTLE_MASK[to]`` after every move."""

# Move flags (the third element of a move tuple).
NORMAL: Final = 0
DOUBLE_STEP: Final = 1
CASTLE_KING_SIDE: Final = 3
CASTLE_QUEEN_SIDE: Final = 4
PROMOTION: Final = 8  # PROMOTION + kind (KNIGHT, BISHOP, ROOK or PROMOTED_QUEEN)
EN_PASSANT: Final = 32  # EN_PASSANT + square of the captured pawn

Move: TypeAlias = tuple[int, int, int]
"""``(from square, to square, flag)``; castling moves the king (from, to)."""

START_FEN4: Final = (
    "R-0,0,0,0-1,1,1,1-1,1,1,1-0,0,0,0-0-"
    "x,x,x,yR,yN,yB,yK,yQ,yB,yN,yR,x,x,x/"
    "x,x,x,yP,yP,yP,yP,yP,yP,yP,yP,x,x,x/"
    "x,x,x,8,x,x,x/"
    "bR,bP,10,gP,gR/"
    "bN,bP,10,gP,gN/"
    "bB,bP,10,gP,gB/"
    "bQ,bP,10,gP,gK/"
    "bK,bP,10,gP,gQ/"
    "bB,bP,10,gP,gB/"
    "bN,bP,10,gP,gN/"
    "bR,bP,10,gP,gR/"
    "x,x,x,8,x,x,x/"
    "x,x,x,rP,rP,rP,rP,rP,rP,rP,rP,x,x,x/"
    "x,x,x,rR,rN,rB,rQ,rK,rB,rN,rR,x,x,x"
)
"""chess.com's current start position (Red K h1 Q g1; Blue Q a8 K a7; Yellow
K g14 Q h14; Green K n8 Q n7)."""
