"""A deliberately simple, slow, independent four-player chess move generator.

It shares no code with ``meeple.rules.fourchess``: its own FEN4 reader, a dict
board keyed by (file, rank), every piece's moves by geometry, and legality by
making the move on a copy and asking every piece of every live opponent whether
it attacks the mover's king. It exists only to cross-check the fast generator's
perft numbers (see test_perft.py).
"""

from __future__ import annotations

Cell = tuple[int, int]  # (file 0..13, rank 0..13)
Board = dict[Cell, tuple[str, str]]  # cell -> (owner letter r/b/y/g/d, kind letter)

OWNERS = "rbyg"
FORWARD = {"r": (0, 1), "b": (1, 0), "y": (0, -1), "g": (-1, 0)}
START = {"r": ("rank", 1), "b": ("file", 1), "y": ("rank", 12), "g": ("file", 12)}
PROMOTE = {"r": ("rank", 7), "b": ("file", 7), "y": ("rank", 6), "g": ("file", 6)}
ROOK_DIRS = [(1, 0), (-1, 0), (0, 1), (0, -1)]
BISHOP_DIRS = [(1, 1), (1, -1), (-1, 1), (-1, -1)]
KNIGHT_JUMPS = [(1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2)]
# owner -> side -> (king from, king to, rook from, rook to, must be empty)
CASTLING = {
    "r": {"K": ("h1", "j1", "k1", "i1", "i1 j1"), "Q": ("h1", "f1", "d1", "g1", "e1 f1 g1")},
    "b": {"K": ("a7", "a5", "a4", "a6", "a5 a6"), "Q": ("a7", "a9", "a11", "a8", "a8 a9 a10")},
    "y": {
        "K": ("g14", "e14", "d14", "f14", "e14 f14"),
        "Q": ("g14", "i14", "k14", "h14", "h14 i14 j14"),
    },
    "g": {"K": ("n8", "n10", "n11", "n9", "n9 n10"), "Q": ("n8", "n6", "n4", "n7", "n5 n6 n7")},
}


def cell(name: str) -> Cell:
    return ("abcdefghijklmn".index(name[0]), int(name[1:]) - 1)


def on_board(c: Cell) -> bool:
    f, r = c
    if not (0 <= f < 14 and 0 <= r < 14):
        return False
    return not ((f < 3 or f > 10) and (r < 3 or r > 10))


class Pos:
    def __init__(self, fen: str, any_promotion: bool = False) -> None:
        fields = fen.split("-")
        self.turn = "RBYG".index(fields[0])
        self.out = [x == "1" for x in fields[1].split(",")]
        ks = [x == "1" for x in fields[2].split(",")]
        qs = [x == "1" for x in fields[3].split(",")]
        self.rights = {(OWNERS[i], "K"): ks[i] for i in range(4)}
        self.rights.update({(OWNERS[i], "Q"): qs[i] for i in range(4)})
        self.ep: dict[str, tuple[Cell, Cell]] = {}
        if len(fields) == 8:
            inner = fields[6][fields[6].index("(") + 1 : fields[6].index(")")]
            for i, entry in enumerate(inner.split(",")):
                entry = entry.strip("'")
                if entry:
                    a, b = entry.split(":")
                    self.ep[OWNERS[i]] = (cell(a), cell(b))
        self.board: Board = {}
        for i, row in enumerate(fields[-1].split("/")):
            r = 13 - i
            f = 0
            for tok in row.split(","):
                if tok.isdigit():
                    f += int(tok)
                elif tok == "x":
                    f += 1
                else:
                    self.board[(f, r)] = (tok[0], tok[1])
                    f += 1
        self.any_promotion = any_promotion

    def copy(self) -> Pos:
        p = object.__new__(Pos)
        p.turn, p.out, p.rights = self.turn, self.out, dict(self.rights)
        p.ep, p.board, p.any_promotion = dict(self.ep), dict(self.board), self.any_promotion
        return p


def attacks(board: Board, frm: Cell, target: Cell) -> bool:
    """Does the piece on ``frm`` attack ``target``?"""
    owner, kind = board[frm]
    df, dr = target[0] - frm[0], target[1] - frm[1]
    if kind == "P":
        fwd = FORWARD[owner]
        side = (fwd[1], fwd[0])
        return (df, dr) in (
            (fwd[0] + side[0], fwd[1] + side[1]),
            (fwd[0] - side[0], fwd[1] - side[1]),
        )
    if kind == "N":
        return (df, dr) in KNIGHT_JUMPS
    if kind == "K":
        return max(abs(df), abs(dr)) == 1
    dirs = []
    if kind in "RQD":
        dirs += ROOK_DIRS
    if kind in "BQD":
        dirs += BISHOP_DIRS
    for d in dirs:
        c = (frm[0] + d[0], frm[1] + d[1])
        while on_board(c):
            if c == target:
                return True
            if c in board:
                break
            c = (c[0] + d[0], c[1] + d[1])
    return False


def attacked_by_live(pos: Pos, target: Cell, me: str) -> bool:
    for c, (owner, _) in pos.board.items():
        if owner in OWNERS and owner != me and not pos.out[OWNERS.index(owner)]:
            if attacks(pos.board, c, target):
                return True
    return False


def king_of(pos: Pos, me: str) -> Cell | None:
    for c, pc in pos.board.items():
        if pc == (me, "K"):
            return c
    return None


Mv = tuple[Cell, Cell, str]  # from, to, special: "" / "2" / "ep" / "K" / "Q" / promotion letter


def pseudo(pos: Pos, me: str) -> list[Mv]:
    out: list[Mv] = []
    b = pos.board
    promos = ["N", "B", "R", "D"] if pos.any_promotion else ["D"]

    def free_or_enemy(c: Cell) -> bool:
        return on_board(c) and (c not in b or b[c][0] != me)

    for frm, (owner, kind) in list(b.items()):
        if owner != me:
            continue
        if kind == "P":
            fwd = FORWARD[me]
            side = (fwd[1], fwd[0])
            axis, line = PROMOTE[me]

            def promo_at(c: Cell, axis: str = axis, line: int = line) -> bool:
                return (c[1] if axis == "rank" else c[0]) == line

            one = (frm[0] + fwd[0], frm[1] + fwd[1])
            if on_board(one) and one not in b:
                out += [(frm, one, p) for p in promos] if promo_at(one) else [(frm, one, "")]
                axis0, line0 = START[me]
                two = (one[0] + fwd[0], one[1] + fwd[1])
                if (
                    (frm[1] if axis0 == "rank" else frm[0]) == line0
                    and on_board(two)
                    and two not in b
                ):
                    out.append((frm, two, "2"))
            for s in (1, -1):
                t = (frm[0] + fwd[0] + s * side[0], frm[1] + fwd[1] + s * side[1])
                if on_board(t) and t in b and b[t][0] != me:
                    out += [(frm, t, p) for p in promos] if promo_at(t) else [(frm, t, "")]
                if on_board(t) and t not in b:
                    for o, (skip, pawn) in pos.ep.items():
                        if o != me and skip == t and b.get(pawn) == (o, "P"):
                            out += (
                                [(frm, t, "ep" + p) for p in promos]
                                if promo_at(t)
                                else [(frm, t, "ep")]
                            )
        elif kind in ("N", "K"):
            steps = KNIGHT_JUMPS if kind == "N" else ROOK_DIRS + BISHOP_DIRS
            for d in steps:
                t = (frm[0] + d[0], frm[1] + d[1])
                if free_or_enemy(t):
                    out.append((frm, t, ""))
        else:
            dirs = (ROOK_DIRS if kind in "RQD" else []) + (BISHOP_DIRS if kind in "BQD" else [])
            for d in dirs:
                t = (frm[0] + d[0], frm[1] + d[1])
                while on_board(t):
                    if t in b:
                        if b[t][0] != me:
                            out.append((frm, t, ""))
                        break
                    out.append((frm, t, ""))
                    t = (t[0] + d[0], t[1] + d[1])
    for side_name, (kf, kt, rf, _, empty) in CASTLING[me].items():
        if not pos.rights[(me, side_name)]:
            continue
        if b.get(cell(kf)) != (me, "K") or b.get(cell(rf)) != (me, "R"):
            continue
        if any(cell(e) in b for e in empty.split()):
            continue
        k0, k2 = cell(kf), cell(kt)
        mid = ((k0[0] + k2[0]) // 2, (k0[1] + k2[1]) // 2)
        if any(attacked_by_live(pos, c, me) for c in (k0, mid, k2)):
            continue
        out.append((k0, k2, side_name))
    return out


def play(pos: Pos, me: str, m: Mv) -> Pos:
    p = pos.copy()
    frm, to, special = m
    piece = p.board.pop(frm)
    p.board.pop(to, None)
    p.board[to] = piece
    p.ep.pop(me, None)
    if special == "2":
        p.ep[me] = (((frm[0] + to[0]) // 2, (frm[1] + to[1]) // 2), to)
    elif special.startswith("ep"):
        for o, (skip, pawn) in pos.ep.items():
            if skip == to and o != me:
                del p.board[pawn]
        if special[2:]:
            p.board[to] = (me, special[2:])
    elif special in ("K", "Q"):
        _, _, rf, rt, _ = CASTLING[me][special]
        p.board[cell(rt)] = p.board.pop(cell(rf))
    elif special:
        p.board[to] = (me, special)
    for o in OWNERS:
        for s in "KQ":
            kf, _, rf, _, _ = CASTLING[o][s]
            if cell(kf) in (frm, to) or cell(rf) in (frm, to):
                p.rights[(o, s)] = False
    return p


def legal(pos: Pos) -> list[Mv]:
    me = OWNERS[pos.turn]
    if king_of(pos, me) is None:
        return []
    out = []
    for m in pseudo(pos, me):
        after = play(pos, me, m)
        k = king_of(after, me)
        if k is not None and not attacked_by_live(after, k, me):
            out.append(m)
    return out


def perft(pos: Pos, depth: int) -> int:
    moves = legal(pos)
    if depth == 1:
        return len(moves)
    me = OWNERS[pos.turn]
    nxt = pos.turn
    for i in range(1, 5):
        nxt = (pos.turn + i) % 4
        if not pos.out[nxt]:
            break
    total = 0
    for m in moves:
        child = play(pos, me, m)
        child.turn = nxt
        total += perft(child, depth - 1)
    return total
