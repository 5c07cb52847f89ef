"""Move text: long algebraic, ``h2-h3``, ``e5xf6``, ``d7-d8=Q``, ``O-O``, ``O-O-O``.

:func:`parse` also reads the compact form (``h2h3``, ``d7d8q``) and either
separator; :func:`format_move` always writes the long form, and the two are
exact inverses for legal moves.
"""

from __future__ import annotations

import re

from meeple.rules.errors import BadNotationError
from meeple.rules.fourchess.geometry import (
    CASTLE_KING_SIDE,
    CASTLE_QUEEN_SIDE,
    CASTLES,
    DOUBLE_STEP,
    EMPTY,
    EN_PASSANT,
    KIND_LETTERS,
    KING,
    KING_SIDE,
    NAME_OF,
    PAWN,
    PAWN_PUSH,
    PROMOTED_QUEEN,
    PROMOTION,
    PROMOTION_LINE,
    QUEEN_SIDE,
    SQUARE_NAMES,
    Move,
    Piece,
    square_name,
)

_SQUARE = r"([a-n](?:1[0-4]|[1-9]))"
_MOVE = re.compile(_SQUARE + r"[-x]?" + _SQUARE + r"(?:=?([nbrqNBRQ]))?")
_PROMOTION_KINDS = {"N": 2, "B": 3, "R": 4, "Q": PROMOTED_QUEEN}
_PROMOTION_LETTERS = {v: k for k, v in _PROMOTION_KINDS.items()}


def format_move(board: tuple[Piece, ...] | list[Piece], move: Move) -> str:
    """The long-algebraic text of ``move`` on ``board`` (before the move)."""
    fr, to, fl = move
    if not fl:  # most moves: the table of playable squares' names, nothing else
        try:
            return NAME_OF[fr] + ("-" if board[to] == EMPTY else "x") + NAME_OF[to]
        except KeyError:
            pass  # not a playable square: named below, as it always was
    elif fl == CASTLE_KING_SIDE:
        return "O-O"
    elif fl == CASTLE_QUEEN_SIDE:
        return "O-O-O"
    start = NAME_OF.get(fr) or square_name(fr)
    end = NAME_OF.get(to) or square_name(to)
    capture = board[to] != EMPTY or fl >= EN_PASSANT
    text = start + ("x" if capture else "-") + end
    if fl >= EN_PASSANT:
        kind = (fl - EN_PASSANT) >> 9
    elif fl >= PROMOTION:
        kind = fl - PROMOTION
    else:
        kind = 0
    if kind:
        text += "=" + _PROMOTION_LETTERS[kind]
    return text


def parse(
    board: tuple[Piece, ...] | list[Piece], ep: tuple[tuple[int, int], ...], player: int, text: str
) -> Move:
    """Read ``text`` as a move of ``player``; the move need not be legal."""
    t = text.strip()
    if t in ("O-O", "0-0", "O-O-O", "0-0-0"):
        side = KING_SIDE if len(t) == 3 else QUEEN_SIDE
        kf, kt, _, _, _, _ = CASTLES[player][side]
        return (kf, kt, CASTLE_KING_SIDE + side)
    m = _MOVE.fullmatch(t)
    if not m or m.group(1) not in SQUARE_NAMES or m.group(2) not in SQUARE_NAMES:
        raise BadNotationError(
            f"cannot read move {text!r}: expected e.g. 'h2-h3', 'e5xf6', 'd7-d8=Q', 'O-O' or 'h2h3'"
        )
    fr, to = SQUARE_NAMES[m.group(1)], SQUARE_NAMES[m.group(2)]
    letter = m.group(3)
    piece = board[fr]
    mine = piece != EMPTY and piece >> 3 == player
    kind = piece & 7 if mine else 0
    if kind == KING:
        for side in (KING_SIDE, QUEEN_SIDE):
            kf, kt, _, _, _, _ = CASTLES[player][side]
            if (fr, to) == (kf, kt):
                return (fr, to, CASTLE_KING_SIDE + side)
    promo = _PROMOTION_KINDS[letter.upper()] if letter else 0
    if kind == PAWN:
        if not promo and PROMOTION_LINE[player][to]:
            promo = PROMOTED_QUEEN  # a bare promotion means a queen
        if to - fr == 2 * PAWN_PUSH[player]:
            return (fr, to, DOUBLE_STEP)
        if board[to] == EMPTY and to - fr != PAWN_PUSH[player]:
            for o, (skip, victim) in enumerate(ep):
                if skip == to and o != player:
                    return (fr, to, EN_PASSANT + victim + (promo << 9))
    return (fr, to, PROMOTION + promo if promo else 0)


def piece_letter(piece: Piece) -> str:
    """``P``, ``N``, ... ``K``, ``D`` (promoted queen) for a piece code."""
    return KIND_LETTERS[piece & 7]
