"""``FourChess``: four-player chess (free-for-all) behind meeple's game interface.

The rules, and every choice made where sources are silent, are in
docs/rules/fourchess.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from meeple.rules.base import JSON, Claim, Event, Game, Options, Outcome, Removal, Result, Seat
from meeple.rules.errors import (
    ActionUnavailableError,
    BadOptionError,
    BadPositionError,
    GameOverError,
    IllegalMoveError,
    NotYourTurnError,
)
from meeple.rules.fourchess import fen4, movegen, notation
from meeple.rules.fourchess.flow import Table, describe
from meeple.rules.fourchess.geometry import (
    EMPTY,
    KING,
    NAME_OF,
    OFF,
    PAWN,
    PLAYERS,
    START_FEN4,
    VALID,
    Move,
    on_board,
    square_name,
)
from meeple.rules.fourchess.scoring import CLAIM_LEAD, capture_points, placings
from meeple.rules.fourchess.state import FourChessState

PROMOTION_OPTIONS = ("queen", "any")
_FEN_OUT = "eliminated"  # the reason of a player read as eliminated from a FEN4


def _any_promotion(options: Options | None) -> bool:
    options = dict(options or {})
    unknown = sorted(set(options) - {"promotion"})
    if unknown:
        raise BadOptionError(f"fourchess has no option {unknown[0]!r} (known: promotion)")
    value = options.get("promotion", "queen")
    if value not in PROMOTION_OPTIONS:
        raise BadOptionError(f"promotion must be 'queen' or 'any', got {value!r}")
    return value == "any"


def _is_move(move: object) -> bool:
    return isinstance(move, tuple) and len(move) == 3 and all(type(x) is int for x in move)


def _legal(state: FourChessState) -> tuple[Move, ...]:
    """The sorted legal moves of the side to move, worked out once per state."""
    derived = state.derived()
    if derived.legal is None:
        pos = state.position()  # a copy: the search makes and unmakes moves
        moves = movegen.legal_moves(pos)  # lists each move once; king captures may repeat one
        checked = PLAYERS if derived.checked is None else derived.checked
        extra = movegen.king_captures(pos, checked)
        derived.legal = tuple(sorted(set(moves + extra) if extra else moves))
    return derived.legal


class FourChess(Game[FourChessState, Move]):
    """Four-player chess, free-for-all, chess.com rules (see docs/rules/fourchess.md)."""

    name: ClassVar[str] = "fourchess"
    title: ClassVar[str] = "Four-player chess"
    seat_counts: ClassVar[tuple[int, ...]] = (4,)
    seat_names: ClassVar[tuple[str, ...]] = ("Red", "Blue", "Yellow", "Green")

    # -- setting up -----------------------------------------------------------

    def new(self, seats: int, options: Options | None = None) -> FourChessState:
        """The chess.com start position; Red moves first."""
        if seats != 4:
            raise BadOptionError(f"fourchess is played by 4 seats, not {seats}")
        return self.position_from_text(START_FEN4, options)

    def options(self, state: FourChessState) -> dict[str, str]:
        """``{"promotion": "queen" | "any"}``."""
        return {"promotion": "any" if state.any_promotion else "queen"}

    # -- whose move, which moves --------------------------------------------------

    def to_act(self, state: FourChessState) -> tuple[Seat, ...]:
        """The seat to move, or nothing once the game is over."""
        return () if state.end else (state.turn,)

    def legal_moves(self, state: FourChessState, seat: Seat) -> Sequence[Move]:
        """Legal moves of ``seat``, sorted (empty unless it is to move)."""
        if state.end or seat != state.turn:
            return []
        return list(_legal(state))

    def play(self, state: FourChessState, seat: Seat, move: Move) -> Outcome[FourChessState]:
        """Play ``move`` for ``seat``; score, eliminate and end as the rules say."""
        self._check_turn(state, seat)
        pos = state.position()
        legal = state.derived().legal
        if not _is_move(move) or not (
            move in legal
            if legal is not None
            else movegen.is_legal(pos, move) or move in movegen.king_captures(pos)
        ):
            text = (
                notation.format_move(state.board, move)
                if _is_move(move) and on_board(move[0]) and on_board(move[1])
                else repr(move)
            )
            raise IllegalMoveError(
                f"illegal move {text!r} for {describe(seat)} in {self.position_to_text(state)}"
            )
        text = notation.format_move(state.board, move)
        table = Table.of(state, pos)
        undo = pos.make(move)
        captured = undo[0] or undo[4]
        moved_pawn = state.board[move[0]] & 7 == PAWN
        table.halfmove = 0 if captured or moved_pawn else state.halfmove + 1
        live = pos.live
        gained = capture_points(captured, live)
        data: dict[str, JSON] = {
            "move": text,
            "captured": notation.piece_letter(captured) if captured else None,
            "points": gained,
        }
        table.events.append(Event("move", seat, data))
        if gained:
            reason = "king_capture" if captured & 7 == KING else "capture"
            table.score(seat, gained, reason)
        if captured & 7 == KING and captured >> 3 < 4 and live[captured >> 3]:
            table.eliminate(captured >> 3, "king_captured")
        kings = table.checked_kings(seat)
        table.check_bonus(seat, kings)
        if kings:
            table.events.append(Event("check", seat, {"kings": list[JSON](kings)}))
        table.settle(pos.next_player(seat) if len(table.live()) > 1 else seat, kings)
        return Outcome(table.freeze(state, text, kings), tuple(table.events))

    # -- leaving, claims ------------------------------------------------------

    def remove(self, state: FourChessState, seat: Seat, reason: Removal) -> Outcome[FourChessState]:
        """Resignation, timeout or forfeit: the seat is eliminated, its pieces turn
        grey; if it was its turn the turn passes on."""
        if state.end:
            raise GameOverError(f"the game is over ({state.end})")
        if seat not in range(4) or state.out[seat]:
            raise ActionUnavailableError(f"seat {seat} is not in the game")
        table = Table.of(state)
        table.events.append(Event("removed", seat, {"reason": reason.value}))
        table.eliminate(seat, reason.value)
        to_move = table.pos.next_player(seat) if state.turn == seat else state.turn
        table.settle(to_move)
        return Outcome(table.freeze(state, state.last_move), tuple(table.events))

    def claim(self, state: FourChessState, seat: Seat, claim: Claim) -> Outcome[FourChessState]:
        """``Claim.WIN``: with two players left, one leading by more than 20 points
        may end the game. Final placings are still by points."""
        if state.end:
            raise GameOverError(f"the game is over ({state.end})")
        if claim is not Claim.WIN:
            raise ActionUnavailableError(f"fourchess has no {claim.value} claims")
        live = state.live
        if seat not in live:
            raise ActionUnavailableError(f"seat {seat} is not in the game")
        if len(live) != 2:
            raise ActionUnavailableError(
                f"a win can be claimed with two players left, not {len(live)}"
            )
        other = live[0] if live[1] == seat else live[1]
        lead = state.points[seat] - state.points[other]
        if lead <= CLAIM_LEAD:
            raise ActionUnavailableError(
                f"a win claim needs a lead of more than {CLAIM_LEAD} points; the lead is {lead}"
            )
        table = Table.of(state)
        table.events.append(Event("claimed", seat, {"claim": claim.value, "lead": lead}))
        table.finish("claimed")
        return Outcome(table.freeze(state, state.last_move), tuple(table.events))

    # -- the end -------------------------------------------------------------------

    def result(self, state: FourChessState) -> Result | None:
        """Placings by points (ties to the later-eliminated), the reason and the points."""
        if not state.end:
            return None
        return Result(placings(state.points, state.out), state.end, state.points)

    # -- text and bytes ----------------------------------------------------------

    def parse_move(self, state: FourChessState, seat: Seat, text: str) -> Move:
        """Read ``h2-h3``, ``h2h3``, ``e5xf6``, ``d7-d8=Q``, ``O-O``, ``O-O-O``."""
        if seat not in range(4):
            raise NotYourTurnError(f"no seat {seat} in fourchess")
        return notation.parse(state.board, state.ep, seat, text)

    def format_move(self, state: FourChessState, move: Move) -> str:
        """Long algebraic text of ``move`` in ``state``."""
        fr, to, fl = move
        if not fl:  # notation.format_move's common case, without a second call
            try:
                return NAME_OF[fr] + ("-" if state.board[to] == EMPTY else "x") + NAME_OF[to]
            except KeyError:
                pass
        return notation.format_move(state.board, move)

    def encode(self, state: FourChessState) -> bytes:
        """FEN4, then a line ``promotion|elimination order|reasons|end|last move``."""
        extra = "|".join(
            (
                "any" if state.any_promotion else "queen",
                ",".join(str(o) for o in state.out),
                ",".join(state.reasons),
                state.end,
                state.last_move,
            )
        )
        return f"{self.position_to_text(state)}\n{extra}".encode("ascii")

    def decode(self, data: bytes) -> FourChessState:
        """Read bytes written by :meth:`encode`."""
        try:
            text, extra = data.decode("ascii").split("\n")
            promotion, out_text, reasons_text, end, last_move = extra.split("|")
            out = tuple(int(o) for o in out_text.split(","))
            reasons = tuple(reasons_text.split(","))
        except ValueError as exc:
            raise BadPositionError(f"not a fourchess state: {data[:200]!r}") from exc
        base = self.position_from_text(text, {"promotion": promotion})
        if (
            len(out) != 4
            or len(reasons) != 4
            or any((o > 0) != (b > 0) for o, b in zip(out, base.out, strict=True))
        ):
            raise BadPositionError(f"inconsistent fourchess state: {data[:200]!r}")
        return FourChessState(
            board=base.board,
            turn=base.turn,
            out=(out[0], out[1], out[2], out[3]),
            castling=base.castling,
            ep=base.ep,
            points=base.points,
            halfmove=base.halfmove,
            any_promotion=base.any_promotion,
            reasons=(reasons[0], reasons[1], reasons[2], reasons[3]),
            end=end,
            last_move=last_move,
        )

    def position_from_text(self, text: str, options: Options | None = None) -> FourChessState:
        """Read a FEN4 position (as is: nobody is eliminated on reading)."""
        any_promotion = _any_promotion(options)
        f = fen4.read(text)
        return FourChessState(
            board=tuple(f.board),
            turn=f.turn,
            out=(
                int(f.eliminated[0]),
                int(f.eliminated[1]),
                int(f.eliminated[2]),
                int(f.eliminated[3]),
            ),
            castling=f.castling,
            ep=f.ep,
            points=f.points,
            halfmove=f.halfmove,
            any_promotion=any_promotion,
            reasons=(
                _FEN_OUT if f.eliminated[0] else "",
                _FEN_OUT if f.eliminated[1] else "",
                _FEN_OUT if f.eliminated[2] else "",
                _FEN_OUT if f.eliminated[3] else "",
            ),
        )

    def position_to_text(self, state: FourChessState) -> str:
        """The canonical FEN4 of ``state``."""
        derived = state.derived()
        if derived.rows is None:
            derived.rows = fen4.board_rows(state.board, derived.before)
            derived.before = None
        return fen4.write(
            fen4.Fen4(
                board=state.board,
                turn=state.turn,
                eliminated=(state.out[0] > 0, state.out[1] > 0, state.out[2] > 0, state.out[3] > 0),
                castling=state.castling,
                points=state.points,
                halfmove=state.halfmove,
                ep=state.ep,
            ),
            derived.rows,
        )

    # -- perft ---------------------------------------------------------------

    def perft(self, state: FourChessState, depth: int) -> int:
        """Fast make/unmake perft (conventions in docs/rules/fourchess.md)."""
        return movegen.perft(state.position(), depth)

    def perft_divide(self, state: FourChessState, depth: int) -> dict[str, int]:
        """perft below each legal first move, keyed by its text."""
        pos = state.position()
        c = pos.turn
        nxt = pos.next_player(c)
        counts: dict[str, int] = {}
        for move in sorted(movegen.legal_moves(pos)):
            text = notation.format_move(pos.board, move)
            undo = pos.make(move)
            pos.turn = nxt
            counts[text] = movegen.perft(pos, depth - 1)
            pos.turn = c
            pos.unmake(move, undo)
        return counts

    # -- views ---------------------------------------------------------------

    def view(self, state: FourChessState, seat: Seat | None) -> dict[str, JSON]:
        """Everything is public: the FEN4, the pieces, whose turn, points, who is
        out and why, the legal moves of ``seat`` (as text), the last move, checks."""
        pieces: list[JSON] = []
        for sq in VALID:
            p = state.board[sq]
            if p != EMPTY and p != OFF:
                pieces.append({"square": square_name(sq), "piece": fen4.piece_text(p)})
        moves: list[JSON] = []
        if seat is not None:
            moves = [self.format_move(state, m) for m in self.legal_moves(state, seat)]
        table = Table.of(state)
        result = self.result(state)
        return {
            "fen4": self.position_to_text(state),
            "pieces": pieces,
            "to_act": list[JSON](self.to_act(state)),
            "points": list[JSON](state.points),
            "eliminated": [bool(o) for o in state.out],
            "reasons": list[JSON](state.reasons),
            "legal_moves": moves,
            "last_move": state.last_move or None,
            "checks": list[JSON](table.checked_kings()),
            "options": dict[str, JSON](self.options(state)),
            "result": None if result is None else result.to_json(),
        }

    # -- helpers ---------------------------------------------------------------

    def _check_turn(self, state: FourChessState, seat: Seat) -> None:
        if state.end:
            raise GameOverError(f"the game is over ({state.end})")
        if seat != state.turn:
            raise NotYourTurnError(
                f"it is {describe(state.turn)}'s turn, not seat {seat}'s"
                if seat in range(4)
                else f"no seat {seat} in fourchess"
            )
