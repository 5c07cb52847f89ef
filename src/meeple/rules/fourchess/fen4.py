"""chess.com's FEN4 position text, read and written.

::

    R-0,0,0,0-1,1,1,1-1,1,1,1-0,0,0,0-0-{'enPassant':('','c5:d5','','')}-<board>

Fields, separated by ``-``: side to move (R, B, Y, G); eliminated flags (Red,
Blue, Yellow, Green); king-side castling rights; queen-side rights; points;
plies since the last capture or pawn move; an optional extras block (only the
``enPassant`` key: per player the skipped square and the square of the pawn to
remove, ``''`` for none); the board as 14 rows from rank 14 down to rank 1, each
a comma-separated list of cells a..n: ``x`` for a corner cell, a number for a run
of empty squares, or a piece (``r``/``b``/``y``/``g`` + ``P N B R Q K``, ``D`` for
a promoted 1-point queen; ``d`` + letter for a grey piece of an eliminated player).

:func:`write` gives the canonical text (``x`` per corner cell, runs of empty
squares never spanning a corner, no whitespace); :func:`read` accepts that and,
leniently, empty runs that count corner cells (``3,yR,...,3``), surrounding
whitespace and line breaks between rows. Canonical text round-trips exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from meeple.rules.errors import BadPositionError
from meeple.rules.fourchess.geometry import (
    ALL_CASTLING,
    COLOUR_LETTERS,
    EMPTY,
    KIND_LETTERS,
    KING,
    OFF,
    SQUARE_NAMES,
    TABLE_SIZE,
    Piece,
    Square,
    castle_bit,
    empty_board,
    is_corner,
    square,
    square_name,
)

_OWNER_LETTERS = COLOUR_LETTERS + "d"  # index GREY (4) is 'd'
_TURN_LETTERS = "RBYG"
_EXTRAS = re.compile(r"\{'enPassant':\(('[^']*'),('[^']*'),('[^']*'),('[^']*')\)\}")


class Fen4(NamedTuple):
    """The fields of a FEN4 text."""

    board: Sequence[Piece]  # read gives a list; write takes any sequence
    turn: int
    eliminated: tuple[bool, bool, bool, bool]
    castling: int
    points: tuple[int, int, int, int]
    halfmove: int
    ep: tuple[tuple[Square, Square], ...]


def piece_text(p: Piece) -> str:
    """``rP``, ``gK``, ``dQ``, ..."""
    return _OWNER_LETTERS[p >> 3] + KIND_LETTERS[p & 7]


def _fail(text: str, why: str) -> BadPositionError:
    return BadPositionError(f"bad FEN4 ({why}): {text!r}")


def _four(text: str, field: str, name: str) -> list[int]:
    parts = field.split(",")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise _fail(text, f"{name} must be four comma-separated numbers, got {field!r}")
    return [int(p) for p in parts]


def _flags(text: str, field: str, name: str) -> list[bool]:
    values = _four(text, field, name)
    if any(v not in (0, 1) for v in values):
        raise _fail(text, f"{name} must be 0 or 1 each, got {field!r}")
    return [v == 1 for v in values]


def _read_ep(text: str, field: str) -> tuple[tuple[Square, Square], ...]:
    m = _EXTRAS.fullmatch(field)
    if not m:
        raise _fail(text, f"unsupported extras {field!r} (only 'enPassant' is read)")
    out: list[tuple[Square, Square]] = []
    for quoted in m.groups():
        entry = quoted[1:-1]
        if not entry:
            out.append((0, 0))
            continue
        skip, _, pawn = entry.partition(":")
        if skip not in SQUARE_NAMES or pawn not in SQUARE_NAMES:
            raise _fail(text, f"bad en-passant entry {entry!r}")
        out.append((SQUARE_NAMES[skip], SQUARE_NAMES[pawn]))
    return tuple(out)


def _read_board(text: str, field: str) -> list[Piece]:
    rows = [r.strip() for r in field.split("/")]
    if len(rows) != 14:
        raise _fail(text, f"expected 14 rows, got {len(rows)}")
    board = empty_board()
    for i, row in enumerate(rows):
        rank = 13 - i
        f = 0
        for cell in row.split(","):
            if cell.isdigit():
                f += int(cell)
                continue
            if f > 13:
                break
            if cell == "x":
                if not is_corner(f, rank):
                    raise _fail(text, f"'x' on a playable square in row {i + 1}")
            elif len(cell) == 2 and cell[0] in _OWNER_LETTERS and cell[1] in KIND_LETTERS[1:]:
                if is_corner(f, rank):
                    raise _fail(text, f"piece {cell!r} on a corner in row {i + 1}")
                owner = _OWNER_LETTERS.index(cell[0])
                board[square(f, rank)] = owner * 8 + KIND_LETTERS.index(cell[1])
            else:
                raise _fail(text, f"bad cell {cell!r} in row {i + 1}")
            f += 1
        if f != 14:
            raise _fail(text, f"row {i + 1} covers {f} cells, not 14")
    return board


def read(text: str) -> Fen4:
    """Parse FEN4 text. Raises BadPositionError saying what is wrong."""
    fields = "".join(text.split()).split("-")
    if len(fields) not in (7, 8):
        raise _fail(text, f"expected 7 or 8 '-'-separated fields, got {len(fields)}")
    if fields[0] not in tuple(_TURN_LETTERS):
        raise _fail(text, f"side to move must be one of R, B, Y, G, got {fields[0]!r}")
    turn = _TURN_LETTERS.index(fields[0])
    eliminated = _flags(text, fields[1], "eliminated flags")
    king_side = _flags(text, fields[2], "king-side castling")
    queen_side = _flags(text, fields[3], "queen-side castling")
    points = _four(text, fields[4], "points")
    if not fields[5].isdigit():
        raise _fail(text, f"bad half-move clock {fields[5]!r}")
    ep = _read_ep(text, fields[6]) if len(fields) == 8 else ((0, 0),) * 4
    board = _read_board(text, fields[-1])
    if eliminated[turn]:
        raise _fail(text, "the side to move is eliminated")
    for player in range(4):
        kings = sum(1 for p in board if p == player * 8 + KING)
        if kings > 1:
            raise _fail(text, f"{COLOUR_LETTERS[player]} has {kings} kings")
    castling = 0
    for player in range(4):
        castling |= castle_bit(player, 0) if king_side[player] else 0
        castling |= castle_bit(player, 1) if queen_side[player] else 0
    return Fen4(
        board=board,
        turn=turn,
        eliminated=(eliminated[0], eliminated[1], eliminated[2], eliminated[3]),
        castling=castling,
        points=(points[0], points[1], points[2], points[3]),
        halfmove=int(fields[5]),
        ep=ep,
    )


def _castling_text(rights: int) -> str:
    ks = ",".join("1" if rights & castle_bit(p, 0) else "0" for p in range(4))
    qs = ",".join("1" if rights & castle_bit(p, 1) else "0" for p in range(4))
    return f"{ks}-{qs}"


_CASTLING_TEXT = tuple(_castling_text(rights) for rights in range(ALL_CASTLING + 1))
"""The king-side and queen-side fields by castling rights."""

# Writing takes each row as one slice of the padded board (files a..n are
# contiguous) and looks every cell's text up by piece code.
_ROW_STARTS = tuple(square(0, rank) for rank in range(13, -1, -1))
_CELL_TEXT = tuple("x" if p == OFF else piece_text(p) for p in range(TABLE_SIZE))
_RUN_TEXT = tuple(str(n) for n in range(15))

Rows = tuple[str, ...]
"""The texts of the 14 board rows, rank 14 first."""


def _row_text(row: Sequence[Piece]) -> str:
    cells: list[str] = []
    run = 0
    for p in row:
        if p == EMPTY:
            run += 1
            continue
        if run:
            cells.append(_RUN_TEXT[run])
            run = 0
        cells.append(_CELL_TEXT[p])
    if run:
        cells.append(_RUN_TEXT[run])
    return ",".join(cells)


def board_rows(board: Sequence[Piece], before: tuple[Sequence[Piece], Rows] | None = None) -> Rows:
    """The row texts of ``board``; with ``before`` (another board and its rows),
    the rows that did not change are taken from there instead of written again."""
    if before is None:
        return tuple([_row_text(board[start : start + 14]) for start in _ROW_STARTS])
    old, old_rows = before
    return tuple(
        [
            text
            if old[start : start + 14] == board[start : start + 14]
            else _row_text(board[start : start + 14])
            for start, text in zip(_ROW_STARTS, old_rows, strict=True)
        ]
    )


def write(fen: Fen4, rows: Rows | None = None) -> str:
    """The canonical FEN4 text of ``fen`` (``rows``: :func:`board_rows` of its
    board, when the caller has them)."""
    flags = ",".join("1" if e else "0" for e in fen.eliminated)
    points = ",".join(map(str, fen.points))
    castling = _CASTLING_TEXT[fen.castling & ALL_CASTLING]
    head = f"{_TURN_LETTERS[fen.turn]}-{flags}-{castling}-{points}-{fen.halfmove}-"
    if any(skip for skip, _ in fen.ep):
        entries = ",".join(f"'{square_name(s)}:{square_name(p)}'" if s else "''" for s, p in fen.ep)
        head += "{'enPassant':(" + entries + ")}-"
    return head + "/".join(board_rows(fen.board) if rows is None else rows)
