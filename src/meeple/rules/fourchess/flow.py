"""What happens after a move or a removal: points, checks, eliminations, the end.

Everything here works on a scratch :class:`Position` plus plain lists for the
bookkeeping the search does not need (points, elimination order, reasons), and
records :class:`Event` values in the order things happen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meeple.rules.base import JSON, Event
from meeple.rules.fourchess.attacks import attack_tables, attacked, attacking_kinds
from meeple.rules.fourchess.geometry import COLOUR_NAMES, GREY, PROMOTED_QUEEN, QUEEN
from meeple.rules.fourchess.movegen import enemies, has_legal_move, king_captures
from meeple.rules.fourchess.position import Position
from meeple.rules.fourchess.scoring import (
    CHECKMATE,
    HUNDRED_PLIES,
    HUNDRED_PLY_LIMIT,
    STALEMATE,
    multi_check_bonus,
    placings,
)
from meeple.rules.fourchess.state import FourChessState


@dataclass(slots=True)
class Table:
    """The mutable bookkeeping of one transition."""

    pos: Position
    points: list[int]
    out: list[int]
    reasons: list[str]
    halfmove: int
    end: str = ""
    events: list[Event] = field(default_factory=list)

    @classmethod
    def of(cls, state: FourChessState, pos: Position | None = None) -> Table:
        """Scratch copies of ``state``'s fields (``pos``: a fresh copy of its
        position, when the caller has one already)."""
        return cls(
            pos=state.position() if pos is None else pos,
            points=list(state.points),
            out=list(state.out),
            reasons=list(state.reasons),
            halfmove=state.halfmove,
        )

    def freeze(
        self, state: FourChessState, last_move: str, checked: list[int] | None = None
    ) -> FourChessState:
        """The new state value. It keeps this table's position, so the table is
        done: change nothing in it afterwards. ``checked``: :meth:`checked_kings`
        as it was before :meth:`settle` (settling only takes attackers away)."""
        pos = self.pos
        new = FourChessState(
            board=tuple(pos.board),
            turn=pos.turn,
            out=(self.out[0], self.out[1], self.out[2], self.out[3]),
            castling=pos.castling,
            ep=pos.ep_tuple(),
            points=(self.points[0], self.points[1], self.points[2], self.points[3]),
            halfmove=self.halfmove,
            any_promotion=state.any_promotion,
            reasons=(self.reasons[0], self.reasons[1], self.reasons[2], self.reasons[3]),
            end=self.end,
            last_move=last_move,
        )
        new.keep(pos, state, None if checked is None else tuple(checked))
        return new

    def score(self, player: int, delta: int, reason: str) -> None:
        """Give ``player`` points and record it."""
        if not delta:
            return
        self.points[player] += delta
        data: dict[str, JSON] = {"delta": delta, "total": self.points[player], "reason": reason}
        self.events.append(Event("points", player, data))

    def eliminate(self, player: int, reason: str) -> None:
        """Take ``player`` out: its pieces turn grey, its rights and turns go."""
        pos = self.pos
        board = pos.board
        grey = pos.pieces[GREY]
        for sq in pos.pieces[player]:
            board[sq] = GREY * 8 + (board[sq] & 7)
            grey.add(sq)
        pos.pieces[player] = set()
        pos.kings[player] = 0
        pos.live[player] = False
        pos.ep_skip[player] = pos.ep_pawn[player] = 0
        pos.castling &= ~(0x11 << player)
        self.out[player] = 1 + max(self.out)
        self.reasons[player] = reason
        self.events.append(Event("eliminated", player, {"reason": reason}))

    def live(self) -> list[int]:
        """Players still in, in turn order."""
        return [p for p in range(4) if self.pos.live[p]]

    def checked_kings(self, mover: int | None = None) -> list[int]:
        """Live players whose king a live opponent attacks. ``mover``: a player
        who has just made a legal move, so whose king is not attacked."""
        pos = self.pos
        return [
            p
            for p in self.live()
            if p != mover and pos.kings[p] and attacked(pos.board, pos.kings[p], enemies(pos, p))
        ]

    def check_bonus(self, mover: int, checked: list[int]) -> None:
        """Rule 8: one move checking two or three kings scores a bonus.

        ``checked`` is :meth:`checked_kings` of this position: only those kings
        can be in the mover's check."""
        pos = self.pos
        if sum(1 for p in checked if p != mover) < 2:
            return
        mine = attack_tables(1 << mover)
        kings = [
            pos.kings[p] for p in checked if p != mover and attacked(pos.board, pos.kings[p], mine)
        ]
        if len(kings) < 2:
            return
        kinds: set[int] = set()
        for k in kings:
            kinds |= attacking_kinds(pos.board, k, mover)
        queen_only = kinds <= {QUEEN, PROMOTED_QUEEN}
        word = "triple" if len(kings) >= 3 else "double"
        self.score(mover, multi_check_bonus(len(kings), queen_only), f"{word}_check")

    def settle(self, to_move: int, checked: list[int] | None = None) -> None:
        """Pass the turn to ``to_move`` (live); eliminate players with no legal move
        (checkmate or stalemate) as the turn reaches them; end the game when one
        player is left or the 100-ply rule strikes. ``checked``: the
        :meth:`checked_kings` of this position, when the caller has them."""
        pos = self.pos
        pos.turn = to_move
        while len(self.live()) > 1:
            # eliminations only take attackers away: a king not in ``checked``
            # is still not in check
            in_check = checked is None or pos.turn in checked
            if has_legal_move(pos, in_check) or king_captures(pos):
                break
            p = pos.turn
            k = pos.kings[p]
            if k and attacked(pos.board, k, enemies(pos, p)):
                # credit the checker who moved most recently
                order = [(p - i) % 4 for i in range(1, 4)]
                for q in order:
                    if pos.live[q] and attacked(pos.board, k, attack_tables(1 << q)):
                        self.score(q, CHECKMATE, "checkmate")
                        break
                self.eliminate(p, "checkmate")
            else:
                self.score(p, STALEMATE, "stalemate")
                self.eliminate(p, "stalemate")
            pos.turn = pos.next_player(p)
        live = self.live()
        if len(live) == 1:
            pos.turn = live[0]
            self.finish("last_player")
        elif self.halfmove >= HUNDRED_PLY_LIMIT:
            for p in live:
                self.score(p, HUNDRED_PLIES, "hundred_plies")
            self.finish("hundred_plies")

    def finish(self, reason: str) -> None:
        """End the game and record the final placings."""
        self.end = reason
        points = tuple(self.points)
        data: dict[str, JSON] = {
            "reason": reason,
            "placings": list(placings(points, tuple(self.out))),
            "points": list(points),
        }
        self.events.append(Event("game_over", None, data))


def describe(player: int) -> str:
    """A player's colour name, for messages."""
    return COLOUR_NAMES[player]
