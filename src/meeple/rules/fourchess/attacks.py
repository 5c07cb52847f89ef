"""Who attacks a square: lookup tables by piece code and the reverse-ray test.

A square is attacked when a piece of an *attacking* player could capture on it.
Tables are built once per set of attackers (a 4-bit mask) and per side, and
cached: a lookup ``table[piece]`` replaces every owner/kind comparison in the
hot loops. Grey pieces (owner 4) are in no attacker set, so they never attack.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from meeple.rules.fourchess.geometry import (
    BISHOP,
    DIAG,
    EMPTY,
    KING,
    KNIGHT,
    KNIGHT_STEPS,
    OFF,
    ORTHO,
    PAWN,
    PAWN_CAPTURES,
    PLAYERS,
    PROMOTED_QUEEN,
    QUEEN,
    ROOK,
    TABLE_SIZE,
    Piece,
    Square,
)

Table = tuple[int, ...]


class AttackTables(NamedTuple):
    """1 where the piece code belongs to an attacker and attacks that way."""

    ortho: Table  # rook, queen, promoted queen
    diag: Table  # bishop, queen, promoted queen
    knight: Table
    king: Table
    pawn: dict[int, Table]  # by offset target->pawn: pawns that capture towards the target


class SideTables(NamedTuple):
    """What one player may do with a piece code."""

    own: Table  # the player's own (coloured) pieces
    capture: Table  # any other piece: opponents', eliminated players', grey
    dest: Table  # empty or capturable: where a piece may land


def _owner_kind(p: Piece) -> tuple[int, int]:
    return p >> 3, p & 7


@cache
def attack_tables(mask: int) -> AttackTables:
    """Tables for the attackers in ``mask`` (bit ``1 << player``)."""

    def table(kinds: tuple[int, ...]) -> Table:
        out = []
        for p in range(TABLE_SIZE):
            owner, kind = _owner_kind(p)
            live = p not in (EMPTY, OFF) and owner < 4 and mask >> owner & 1
            out.append(1 if live and kind in kinds else 0)
        return tuple(out)

    pawn: dict[int, Table] = {}
    for d in DIAG:
        # a pawn standing at target + d attacks the target if it captures towards -d
        out = []
        for p in range(TABLE_SIZE):
            owner, kind = _owner_kind(p)
            live = p not in (EMPTY, OFF) and owner < 4 and mask >> owner & 1
            out.append(1 if live and kind == PAWN and -d in PAWN_CAPTURES[owner] else 0)
        pawn[d] = tuple(out)
    return AttackTables(
        ortho=table((ROOK, QUEEN, PROMOTED_QUEEN)),
        diag=table((BISHOP, QUEEN, PROMOTED_QUEEN)),
        knight=table((KNIGHT,)),
        king=table((KING,)),
        pawn=pawn,
    )


def _side_tables(player: int) -> SideTables:
    own = tuple(1 if p not in (EMPTY, OFF) and p >> 3 == player else 0 for p in range(TABLE_SIZE))
    capture = tuple(
        1 if p not in (EMPTY, OFF) and p >> 3 != player else 0 for p in range(TABLE_SIZE)
    )
    dest = tuple(1 if p == EMPTY or capture[p] else 0 for p in range(TABLE_SIZE))
    return SideTables(own=own, capture=capture, dest=dest)


SIDES = tuple(_side_tables(p) for p in PLAYERS)
"""SIDES[player]."""


def attacked(board: list[Piece], sq: Square, at: AttackTables) -> bool:
    """True if a piece of the attackers ``at`` attacks ``sq`` (reverse rays from ``sq``)."""
    knight = at.knight
    for d in KNIGHT_STEPS:
        if knight[board[sq + d]]:
            return True
    king = at.king
    ortho = at.ortho
    for d in ORTHO:
        t = sq + d
        p = board[t]
        if king[p]:
            return True
        while p == EMPTY:
            t += d
            p = board[t]
        if ortho[p]:
            return True
    diag = at.diag
    pawn = at.pawn
    for d in DIAG:
        t = sq + d
        p = board[t]
        if king[p] or pawn[d][p]:
            return True
        while p == EMPTY:
            t += d
            p = board[t]
        if diag[p]:
            return True
    return False


def attackers(board: list[Piece], sq: Square, players: tuple[int, ...]) -> tuple[int, ...]:
    """The players among ``players`` that attack ``sq`` (slow; for scoring, not search)."""
    return tuple(p for p in players if attacked(board, sq, attack_tables(1 << p)))


def attacking_kinds(board: list[Piece], sq: Square, player: int) -> set[int]:
    """Kinds of ``player``'s pieces that attack ``sq`` (for the check bonuses)."""
    at = attack_tables(1 << player)
    kinds: set[int] = set()
    for d in KNIGHT_STEPS:
        if at.knight[board[sq + d]]:
            kinds.add(KNIGHT)
    for dirs, sliders in ((ORTHO, at.ortho), (DIAG, at.diag)):
        for d in dirs:
            t = sq + d
            p = board[t]
            if at.king[p]:
                kinds.add(KING)
            if d in at.pawn and at.pawn[d][p]:
                kinds.add(PAWN)
            while p == EMPTY:
                t += d
                p = board[t]
            if sliders[p]:
                kinds.add(p & 7)
    return kinds
