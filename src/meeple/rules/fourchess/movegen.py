"""Legal move generation, move counting and perft.

Legality (rule 6): a move is legal when the mover's king is not attacked by a
live opponent afterwards. Rather than make/unmake every move, a node first looks
along the eight rays and the knight and pawn squares around the mover's king
(:func:`king_status`): when the king is not in check, only king moves, moves of
pinned pieces and en-passant captures need a closer look; every other
pseudo-legal move is legal. In check, a move of an unpinned piece other than
the king is legal when it takes the only checker or steps between; king moves,
moves of pinned pieces and en-passant captures are made and tested.
"""

from __future__ import annotations

from collections.abc import Collection

from meeple.rules.fourchess.attacks import SIDES, AttackTables, SideTables, attack_tables, attacked
from meeple.rules.fourchess.geometry import (
    BISHOP,
    CASTLE_KING_SIDE,
    CASTLES,
    DIAG,
    DOUBLE_STEP,
    EMPTY,
    EN_PASSANT,
    KING,
    KING_STEPS,
    KNIGHT,
    KNIGHT_STEPS,
    ORTHO,
    PAWN,
    PAWN_CAPTURES,
    PAWN_PUSH,
    PAWN_START,
    PLAYERS,
    PROMOTED_QUEEN,
    PROMOTION,
    PROMOTION_LINE,
    ROOK,
    Move,
    Piece,
    Square,
    castle_bit,
    file_of,
    rank_of,
)
from meeple.rules.fourchess.position import Position

SLIDES: dict[int, tuple[int, ...]] = {BISHOP: DIAG, ROOK: ORTHO, 5: KING_STEPS, 7: KING_STEPS}
PROMOTION_FLAGS = {
    False: (PROMOTION + PROMOTED_QUEEN,),
    True: (PROMOTION + KNIGHT, PROMOTION + BISHOP, PROMOTION + ROOK, PROMOTION + PROMOTED_QUEEN),
}
_UNIT = {16: (0, 1), -16: (0, -1), 1: (1, 0), -1: (-1, 0)}
_UNIT.update({17: (1, 1), 15: (-1, 1), -15: (1, -1), -17: (-1, -1)})

Pins = dict[Square, int]
"""Pinned pieces of the side to move: square -> direction from its king."""


def enemies_mask(pos: Position, player: int) -> int:
    """Bits of ``player``'s live opponents."""
    mask = 0
    for p in range(4):
        if pos.live[p] and p != player:
            mask |= 1 << p
    return mask


def enemies(pos: Position, player: int) -> AttackTables:
    """Attack tables of ``player``'s live opponents."""
    return attack_tables(enemies_mask(pos, player))


Checks = list[tuple[Square, int]]
"""Pieces giving check: (square, direction from the king) for a slider, (square, 0)
for any other."""


def king_status(
    board: list[Piece], k: Square, at: AttackTables, own: tuple[int, ...]
) -> tuple[Checks, Pins]:
    """Who checks the king on ``k`` (empty: it is not attacked), and which own
    pieces are pinned to it."""
    checks: Checks = []
    pins: Pins = {}
    knight = at.knight
    for d in KNIGHT_STEPS:
        if knight[board[k + d]]:
            checks.append((k + d, 0))
    king = at.king
    pawn = at.pawn
    for dirs, sliders in ((ORTHO, at.ortho), (DIAG, at.diag)):
        for d in dirs:
            t = k + d
            p = board[t]
            if king[p] or (d in pawn and pawn[d][p]):
                checks.append((t, 0))
            while p == EMPTY:
                t += d
                p = board[t]
            if sliders[p]:
                checks.append((t, d))
            elif own[p]:
                u = t + d
                q = board[u]
                while q == EMPTY:
                    u += d
                    q = board[u]
                if sliders[q]:
                    pins[t] = d
    return checks, pins


def piece_moves(
    board: list[Piece],
    s: Square,
    p: Piece,
    c: int,
    side: SideTables,
    promos: tuple[int, ...],
    out: list[Move],
) -> None:
    """Append the pseudo-legal moves of piece ``p`` on ``s`` (not castling, not en passant)."""
    kind = p & 7
    if kind == PAWN:
        push = PAWN_PUSH[c]
        t = s + push
        promo = PROMOTION_LINE[c]
        if board[t] == EMPTY:
            if promo[t]:
                out.extend([(s, t, f) for f in promos])
            else:
                out.append((s, t, 0))
                if PAWN_START[c][s] and board[t + push] == EMPTY:
                    out.append((s, t + push, DOUBLE_STEP))
        capture = side.capture
        for d in PAWN_CAPTURES[c]:
            t = s + d
            if capture[board[t]]:
                if promo[t]:
                    out.extend([(s, t, f) for f in promos])
                else:
                    out.append((s, t, 0))
    elif kind == KNIGHT or kind == KING:
        dest = side.dest
        for d in KNIGHT_STEPS if kind == KNIGHT else KING_STEPS:
            t = s + d
            if dest[board[t]]:
                out.append((s, t, 0))
    else:
        capture = side.capture
        for d in SLIDES[kind]:
            t = s + d
            q = board[t]
            while q == EMPTY:
                out.append((s, t, 0))
                t += d
                q = board[t]
            if capture[q]:
                out.append((s, t, 0))


def en_passant_moves(pos: Position, c: int) -> list[Move]:
    """Pseudo-legal en-passant captures of player ``c`` (rule 3)."""
    out: list[Move] = []
    board = pos.board
    my_pawn = (c << 3) + PAWN
    for o in range(4):
        skip = pos.ep_skip[o]
        if not skip or o == c:
            continue
        victim = pos.ep_pawn[o]
        if board[skip] != EMPTY or board[victim] != (o << 3) + PAWN:
            continue
        for d in PAWN_CAPTURES[c]:
            s = skip - d
            if board[s] == my_pawn:
                if PROMOTION_LINE[c][skip]:
                    for f in PROMOTION_FLAGS[pos.any_promotion]:
                        out.append((s, skip, EN_PASSANT + victim + ((f - PROMOTION) << 9)))
                else:
                    out.append((s, skip, EN_PASSANT + victim))
    return out


def castle_moves(pos: Position, c: int, at: AttackTables) -> list[Move]:
    """Legal castling moves of ``c``, whose king is known not to be in check (rule 5)."""
    out: list[Move] = []
    board = pos.board
    for side in (0, 1):
        if not pos.castling & castle_bit(c, side):
            continue
        kf, kt, rf, _, empty, path = CASTLES[c][side]
        if board[kf] != (c << 3) + KING or board[rf] != (c << 3) + ROOK:
            continue
        if any(board[e] != EMPTY for e in empty):
            continue
        if any(attacked(board, q, at) for q in path):
            continue
        out.append((kf, kt, CASTLE_KING_SIDE + side))
    return out


def _safe(pos: Position, move: Move, c: int, at: AttackTables) -> bool:
    undo = pos.make(move)
    ok = not attacked(pos.board, pos.kings[c], at)
    pos.unmake(move, undo)
    return ok


def _on_line(k: Square, d: int, t: Square) -> bool:
    df, dr = file_of(t) - file_of(k), rank_of(t) - rank_of(k)
    uf, ur = _UNIT[d]
    return df * ur == dr * uf


def _check_cover(k: Square, checks: Checks) -> set[Square]:
    """Where a move of an unpinned piece other than the king must land to answer
    ``checks`` on ``k``: the checker's square and, for a slider, the squares
    between; nowhere (an empty set) when two pieces give check."""
    if len(checks) != 1:
        return set()
    sq, d = checks[0]
    return set(range(k + d, sq + d, d)) if d else {sq}


def _evasions(
    pos: Position, k: Square, at: AttackTables, checks: Checks, pins: Pins, promos: tuple[int, ...]
) -> list[Move]:
    """Legal moves of the side to move, whose king on ``k`` is in check. A move
    of an unpinned piece other than the king answers the check exactly when it
    takes the checker or steps between (see :func:`_check_cover`); king moves,
    moves of pinned pieces and en-passant captures are made and tested."""
    c = pos.turn
    board = pos.board
    side = SIDES[c]
    cover = _check_cover(k, checks)
    out: list[Move] = []
    tested: list[Move] = []
    for s in pos.pieces[c]:
        p = board[s]
        if p & 7 == KING or s in pins:
            piece_moves(board, s, p, c, side, promos, tested)
        elif cover:
            mine: list[Move] = []
            piece_moves(board, s, p, c, side, promos, mine)
            out += [m for m in mine if m[1] in cover]
    tested += en_passant_moves(pos, c)
    # tested after the walk over the piece set: making moves changes the set
    out += [m for m in tested if _safe(pos, m, c, at)]
    return out


def legal_moves(pos: Position) -> list[Move]:
    """Every legal move of the side to move (empty without a king)."""
    c = pos.turn
    k = pos.kings[c]
    if not k:
        return []
    board = pos.board
    at = enemies(pos, c)
    side = SIDES[c]
    promos = PROMOTION_FLAGS[pos.any_promotion]
    checks, pins = king_status(board, k, at, side.own)
    out: list[Move] = []
    if checks:
        return _evasions(pos, k, at, checks, pins, promos)
    for s in pos.pieces[c]:
        p = board[s]
        if s in pins:
            d = pins[s]
            mine: list[Move] = []
            piece_moves(board, s, p, c, side, promos, mine)
            out += [m for m in mine if _on_line(k, d, m[1])]
        elif p & 7 == KING:
            dest = side.dest
            for d in KING_STEPS:
                t = s + d
                if dest[board[t]] and not attacked(board, t, at):
                    out.append((s, t, 0))
        else:
            piece_moves(board, s, p, c, side, promos, out)
    out += castle_moves(pos, c, at)
    out += [m for m in en_passant_moves(pos, c) if _safe(pos, m, c, at)]
    return out


def count_legal(pos: Position) -> int:
    """``len(legal_moves(pos))`` without building the moves (perft's last ply)."""
    c = pos.turn
    k = pos.kings[c]
    if not k:
        return 0
    board = pos.board
    at = enemies(pos, c)
    side = SIDES[c]
    checked, pins = king_status(board, k, at, side.own)
    if checked:
        return len(legal_moves(pos))
    dest = side.dest
    capture = side.capture
    npromo = 4 if pos.any_promotion else 1
    push = PAWN_PUSH[c]
    caps = PAWN_CAPTURES[c]
    promo = PROMOTION_LINE[c]
    start = PAWN_START[c]
    n = 0
    for s in pos.pieces[c]:
        p = board[s]
        kind = p & 7
        if pins and s in pins:
            d = pins[s]
            mine: list[Move] = []
            piece_moves(board, s, p, c, side, PROMOTION_FLAGS[pos.any_promotion], mine)
            n += sum(1 for m in mine if _on_line(k, d, m[1]))
        elif kind == PAWN:
            t = s + push
            if board[t] == EMPTY:
                if promo[t]:
                    n += npromo
                else:
                    n += 1
                    if start[s] and board[t + push] == EMPTY:
                        n += 1
            for d in caps:
                t = s + d
                if capture[board[t]]:
                    n += npromo if promo[t] else 1
        elif kind == KNIGHT:
            for d in KNIGHT_STEPS:
                n += dest[board[s + d]]
        elif kind == KING:
            for d in KING_STEPS:
                t = s + d
                if dest[board[t]] and not attacked(board, t, at):
                    n += 1
        else:
            for d in SLIDES[kind]:
                t = s + d
                q = board[t]
                while q == EMPTY:
                    n += 1
                    t += d
                    q = board[t]
                n += capture[q]
    if pos.castling:
        n += len(castle_moves(pos, c, at))
    for m in en_passant_moves(pos, c):
        n += _safe(pos, m, c, at)
    return n


def is_legal(pos: Position, move: Move) -> bool:
    """Is ``move`` legal for the side to move? (Checks one piece, not the whole side.)"""
    c = pos.turn
    k = pos.kings[c]
    fr, _, fl = move
    board = pos.board
    if not k or not 0 <= fr < len(board) or board[fr] >> 3 != c or board[fr] == EMPTY:
        return False
    at = enemies(pos, c)
    if CASTLE_KING_SIDE <= fl < PROMOTION:
        checked, _ = king_status(board, k, at, SIDES[c].own)
        return not checked and move in castle_moves(pos, c, at)
    if fl >= EN_PASSANT:
        return move in en_passant_moves(pos, c) and _safe(pos, move, c, at)
    cands: list[Move] = []
    piece_moves(board, fr, board[fr], c, SIDES[c], PROMOTION_FLAGS[pos.any_promotion], cands)
    return move in cands and _safe(pos, move, c, at)


def king_captures(pos: Position, checked: Collection[int] = PLAYERS) -> list[Move]:
    """Captures of an opponent's king that are legal *because* the victim is then
    eliminated: its pieces turn grey at once, so its own check on the mover's king
    does not count. (Play only; perft eliminates nobody.) ``checked``: players
    whose king may be attacked, when the caller knows the others' are not."""
    c = pos.turn
    k = pos.kings[c]
    board = pos.board
    mine = attack_tables(1 << c)
    out: list[Move] = []
    for o in checked:
        target = pos.kings[o]
        if o == c or not pos.live[o] or not target or not k or not attacked(board, target, mine):
            continue
        at = attack_tables(enemies_mask(pos, c) & ~(1 << o))
        cands: list[Move] = []
        for s in pos.pieces[c]:
            piece_moves(board, s, board[s], c, SIDES[c], PROMOTION_FLAGS[pos.any_promotion], cands)
        # tested after the walk over the piece set: making moves changes the set
        out += [m for m in cands if m[1] == target and _safe(pos, m, c, at)]
    return out


def has_legal_move(pos: Position, in_check: bool = True) -> bool:
    """Does the side to move have any legal move? (Stops at the first.)

    ``in_check=False`` says the caller knows the side to move is not in check:
    then a move of a piece on none of the eight lines through its king cannot
    expose the king, and counts without being made."""
    c = pos.turn
    k = pos.kings[c]
    if not k:
        return False
    side = SIDES[c]
    promos = PROMOTION_FLAGS[pos.any_promotion]
    board = pos.board
    if not in_check:
        kf, kr = file_of(k), rank_of(k)
        for s in pos.pieces[c]:
            df, dr = file_of(s) - kf, rank_of(s) - kr
            if df and dr and df != dr and df != -dr:
                cands: list[Move] = []
                piece_moves(board, s, board[s], c, side, promos, cands)
                if cands:
                    return True
    at = enemies(pos, c)
    # walk a copy: making and unmaking moves removes and re-adds squares, which
    # may rebuild the set under an iterator (it then skips or repeats squares)
    for s in tuple(pos.pieces[c]):
        cands = []
        piece_moves(board, s, board[s], c, side, promos, cands)
        if any(_safe(pos, m, c, at) for m in cands):
            return True
    return any(_safe(pos, m, c, at) for m in en_passant_moves(pos, c))


def perft(pos: Position, depth: int) -> int:
    """Number of legal move sequences of length ``depth`` (nobody is eliminated on
    the way; a side without a king or a legal move ends its branch)."""
    if depth <= 0:
        return 1
    if depth == 1:
        return count_legal(pos)
    c = pos.turn
    nxt = pos.next_player(c)
    total = 0
    make = pos.make
    unmake = pos.unmake
    for m in legal_moves(pos):
        undo = make(m)
        pos.turn = nxt
        total += perft(pos, depth - 1)
        pos.turn = c
        unmake(m, undo)
    return total
