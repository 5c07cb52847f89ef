"""Classic chess for two seats, on top of python-chess (which owns the rules of movement).

Seat 0 plays white, seat 1 black. Moves travel as UCI text (``e2e4``, ``e7e8q``);
:meth:`ClassicChess.parse_move` also reads SAN (``Nf3``, ``exd5``, ``O-O``).

How games end (docs/rules/chess.md gives the reasons for each choice):

=====================  =====================================  ==================================
end                    how                                    ``Result.reason``
=====================  =====================================  ==================================
checkmate              automatic                              ``checkmate``
stalemate              automatic, draw                        ``stalemate``
insufficient material  automatic, draw (neither side can      ``insufficient_material``
                       mate)
fivefold repetition    automatic, draw                        ``fivefold_repetition``
75-move rule           automatic, draw                        ``seventyfive_moves``
threefold repetition   ``claim(Claim.DRAW)``, either seat     ``threefold_repetition``
50-move rule           ``claim(Claim.DRAW)``, either seat     ``fifty_moves``
draw by agreement      ``offer_draw``, ``answer_draw(True)``  ``agreement``
resignation            ``remove(RESIGN)``                     ``resignation``
timeout                ``remove(TIMEOUT)``                    ``timeout``
timeout, the winner    ``remove(TIMEOUT)``, draw              ``timeout_vs_insufficient_material``
cannot mate
forfeit                ``remove(FORFEIT)``                    ``forfeit``
=====================  =====================================  ==================================

The state is a value: the start position (FEN) and the moves played since (UCI),
plus what ended the game by an action and a pending draw offer. Keeping the moves,
not just the current FEN, is what lets repetition survive encode/decode and replay.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import chess

from meeple.rules.base import JSON, Claim, Event, Game, Options, Outcome, Removal, Result, Seat
from meeple.rules.errors import (
    ActionUnavailableError,
    BadNotationError,
    BadOptionError,
    BadPositionError,
    GameOverError,
    IllegalMoveError,
    NotYourTurnError,
)

__all__ = ["ChessState", "ClassicChess"]

_ENCODING_VERSION = 1
_COLORS = (chess.WHITE, chess.BLACK)


@dataclass(frozen=True, slots=True)
class ChessState:
    """A classic chess game: where it started, what was played, how it ended.

    ``ended`` holds a result reached by an action (resignation, timeout, forfeit,
    agreement, a claimed draw); results of the position itself (checkmate,
    stalemate, automatic draws) are derived from the moves. ``draw_offer`` is the
    seat whose draw offer is pending, if any.

    ``board`` is the current position, cached so that each call does not replay
    the game; it is never mutated (copy it first) and takes no part in equality.
    """

    start_fen: str
    moves: tuple[str, ...]
    ended: Result | None
    draw_offer: Seat | None
    board: chess.Board = field(compare=False, hash=False, repr=False)
    auto_result: Result | None = field(compare=False, hash=False, repr=False)


def _seat_of(color: chess.Color) -> Seat:
    return 0 if color == chess.WHITE else 1


def _win_for(seat: Seat, reason: str) -> Result:
    return Result(placings=(1, 2) if seat == 0 else (2, 1), reason=reason)


def _draw(reason: str) -> Result:
    return Result(placings=(1, 1), reason=reason)


def _auto_result(board: chess.Board) -> Result | None:
    """The result the position itself imposes (no claims), or None."""
    outcome = board.outcome(claim_draw=False)
    if outcome is None:
        return None
    reason = outcome.termination.name.lower()
    if outcome.winner is None:
        return _draw(reason)
    return _win_for(_seat_of(outcome.winner), reason)


def _state(
    start_fen: str,
    moves: tuple[str, ...],
    board: chess.Board,
    ended: Result | None = None,
    draw_offer: Seat | None = None,
) -> ChessState:
    return ChessState(start_fen, moves, ended, draw_offer, board, _auto_result(board))


def _game_over_event(result: Result) -> Event:
    return Event("game_over", None, result.to_json())


def _start_board(fen: str) -> chess.Board:
    """A board from FEN, rejecting text python-chess cannot read and impossible positions."""
    try:
        board = chess.Board(fen)
    except ValueError as exc:
        raise BadPositionError(f"bad FEN {fen!r}: {exc}") from None
    status = board.status()
    if status != chess.STATUS_VALID:
        problems = ", ".join(
            flag.name.lower()
            for flag in chess.Status
            if flag and flag in status and flag.name is not None
        )
        raise BadPositionError(f"impossible position {fen!r}: {problems}")
    return board


class ClassicChess(Game[ChessState, chess.Move]):
    """Classic chess by the FIDE Laws, through python-chess."""

    name: ClassVar[str] = "chess"
    title: ClassVar[str] = "Chess"
    seat_counts: ClassVar[tuple[int, ...]] = (2,)
    seat_names: ClassVar[tuple[str, ...]] = ("white", "black")

    # -- setting up ---------------------------------------------------------

    def new(self, seats: int, options: Options | None = None) -> ChessState:
        """The standard start position. Chess has no options."""
        if seats != 2:
            raise BadOptionError(f"chess is played by 2 seats, not {seats}")
        self._check_options(options)
        board = chess.Board()
        return _state(board.fen(), (), board)

    def options(self, state: ChessState) -> dict[str, str]:
        """Chess has no options."""
        return {}

    @staticmethod
    def _check_options(options: Options | None) -> None:
        if options:
            unknown = ", ".join(sorted(options))
            raise BadOptionError(f"chess has no options (got: {unknown})")

    # -- whose move, which moves ------------------------------------------------

    def to_act(self, state: ChessState) -> tuple[Seat, ...]:
        """The side to move, or nobody once the game is over."""
        if self.result(state) is not None:
            return ()
        return (_seat_of(state.board.turn),)

    def legal_moves(self, state: ChessState, seat: Seat) -> Sequence[chess.Move]:
        """Legal moves of ``seat`` (none unless it is to act)."""
        if seat not in self.to_act(state):
            return ()
        return tuple(state.board.legal_moves)

    def play(self, state: ChessState, seat: Seat, move: chess.Move) -> Outcome[ChessState]:
        """Play ``move`` for ``seat``. A move by the seat that did not offer a pending
        draw declines it (FIDE 9.1.2.2)."""
        self._check_live(state)
        board = state.board
        if seat not in (0, 1) or _seat_of(board.turn) != seat:
            raise NotYourTurnError(
                f"it is {self.seat_names[_seat_of(board.turn)]}'s move, not seat {seat}'s"
            )
        if not board.is_legal(move):
            raise IllegalMoveError(f"illegal move {move.uci()!r} in {board.fen()}")
        after = board.copy()
        san = after.san_and_push(move)
        events = [Event("move", seat, {"move": board.uci(move), "san": san})]
        offer = state.draw_offer
        if offer is not None and offer != seat:
            events.append(Event("draw_declined", seat, {"implicit": True}))
            offer = None
        new = _state(state.start_fen, (*state.moves, move.uci()), after, None, offer)
        if new.auto_result is not None:
            events.append(_game_over_event(new.auto_result))
        return Outcome(new, tuple(events))

    # -- leaving, draws, claims -------------------------------------------------

    def remove(self, state: ChessState, seat: Seat, reason: Removal) -> Outcome[ChessState]:
        """Resignation, timeout or forfeit: the other seat wins, except that a
        timeout is a draw when the other seat has no mating material (FIDE 6.9)."""
        self._check_live(state)
        self._check_seat(seat)
        winner = 1 - seat
        if reason is Removal.RESIGN:
            result = _win_for(winner, "resignation")
        elif reason is Removal.FORFEIT:
            result = _win_for(winner, "forfeit")
        elif state.board.has_insufficient_material(_COLORS[winner]):
            result = _draw("timeout_vs_insufficient_material")
        else:
            result = _win_for(winner, "timeout")
        return self._end(state, result, Event("removed", seat, {"reason": reason.value}))

    def offer_draw(self, state: ChessState, seat: Seat) -> Outcome[ChessState]:
        """Offer a draw; either seat, at any time. Offering while the other seat's
        offer is pending accepts it."""
        self._check_live(state)
        self._check_seat(seat)
        if state.draw_offer == seat:
            raise ActionUnavailableError(f"{self.seat_names[seat]} has already offered a draw")
        if state.draw_offer is not None:
            return self.answer_draw(state, seat, True)
        new = _state(state.start_fen, state.moves, state.board, None, seat)
        return Outcome(new, (Event("draw_offered", seat),))

    def answer_draw(self, state: ChessState, seat: Seat, accept: bool) -> Outcome[ChessState]:
        """Accept (the game is drawn) or decline the other seat's pending offer."""
        self._check_live(state)
        self._check_seat(seat)
        if state.draw_offer is None or state.draw_offer == seat:
            raise ActionUnavailableError(f"no draw offer to {self.seat_names[seat]} is pending")
        if accept:
            return self._end(state, _draw("agreement"), Event("draw_accepted", seat))
        new = _state(state.start_fen, state.moves, state.board, None, None)
        return Outcome(new, (Event("draw_declined", seat, {"implicit": False}),))

    def claim(self, state: ChessState, seat: Seat, claim: Claim) -> Outcome[ChessState]:
        """Claim a draw by threefold repetition or the fifty-move rule, when the
        current position qualifies. Either seat may claim."""
        self._check_live(state)
        self._check_seat(seat)
        if claim is not Claim.DRAW:
            raise ActionUnavailableError(f"chess has no {claim.value} claims")
        board = state.board
        if board.is_repetition(3):
            reason = "threefold_repetition"
        elif board.is_fifty_moves():
            reason = "fifty_moves"
        else:
            raise ActionUnavailableError(
                "no draw to claim: the position has not occurred three times and "
                f"the halfmove clock is {board.halfmove_clock} (< 100)"
            )
        event = Event("claimed", seat, {"claim": claim.value, "reason": reason})
        return self._end(state, _draw(reason), event)

    def _end(self, state: ChessState, result: Result, event: Event) -> Outcome[ChessState]:
        new = _state(state.start_fen, state.moves, state.board, result, None)
        return Outcome(new, (event, _game_over_event(result)))

    def _check_live(self, state: ChessState) -> None:
        result = self.result(state)
        if result is not None:
            raise GameOverError(f"the game is over ({result.reason})")

    def _check_seat(self, seat: Seat) -> None:
        if seat not in (0, 1):
            raise ActionUnavailableError(f"chess has seats 0 and 1, not {seat}")

    # -- the end -----------------------------------------------------------------

    def result(self, state: ChessState) -> Result | None:
        """How the game ended, or None while it goes on."""
        return state.ended if state.ended is not None else state.auto_result

    # -- text and bytes ----------------------------------------------------------

    def parse_move(self, state: ChessState, seat: Seat, text: str) -> chess.Move:
        """Read UCI (``e2e4``, ``e7e8q``; ``e1h1`` castles as ``e1g1``) or SAN.

        UCI need not be legal. SAN is read against the position, so SAN that
        names no legal move raises IllegalMoveError, and SAN for a seat that is
        not to move raises NotYourTurnError.
        """
        text = text.strip()
        board = state.board
        try:
            move = chess.Move.from_uci(text)
        except chess.InvalidMoveError:
            pass
        else:
            try:
                return board.parse_uci(text)  # normalizes king-takes-rook castling
            except ValueError:
                return move
        if seat not in (0, 1) or _seat_of(board.turn) != seat:
            raise NotYourTurnError(f"SAN {text!r} read for seat {seat}, who is not to move")
        try:
            return board.parse_san(text)
        except chess.AmbiguousMoveError:
            raise BadNotationError(f"ambiguous SAN {text!r} in {board.fen()}") from None
        except chess.IllegalMoveError:
            raise IllegalMoveError(f"no legal move {text!r} in {board.fen()}") from None
        except ValueError:
            raise BadNotationError(f"not UCI or SAN: {text!r}") from None

    def format_move(self, state: ChessState, move: chess.Move) -> str:
        """UCI text of ``move`` (standard castling, ``e1g1``)."""
        return state.board.uci(move)

    def encode(self, state: ChessState) -> bytes:
        """JSON: start FEN, UCI moves, action result, pending offer."""
        doc: dict[str, JSON] = {
            "v": _ENCODING_VERSION,
            "fen": state.start_fen,
            "moves": " ".join(state.moves),
            "ended": None if state.ended is None else state.ended.to_json(),
            "offer": state.draw_offer,
        }
        return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()

    def decode(self, data: bytes) -> ChessState:
        """Read encode()'s bytes, replaying (and so re-checking) every move."""
        try:
            doc = json.loads(data)
            if not isinstance(doc, dict) or doc.get("v") != _ENCODING_VERSION:
                raise BadPositionError("not an encoded chess state (version 1)")
            fen, moves_text, ended, offer = doc["fen"], doc["moves"], doc["ended"], doc["offer"]
            if not isinstance(fen, str) or not isinstance(moves_text, str):
                raise BadPositionError("fen and moves must be text")
            if offer not in (None, 0, 1) or isinstance(offer, bool):
                raise BadPositionError(f"bad draw offer seat {offer!r}")
            result = None if ended is None else _decode_result(ended)
        except (ValueError, KeyError, TypeError) as exc:
            if isinstance(exc, BadPositionError):
                raise
            raise BadPositionError(f"bad encoded chess state: {exc}") from None
        board = _start_board(fen)
        start_fen = board.fen()
        moves = tuple(moves_text.split())
        for uci in moves:
            try:
                board.push(board.parse_uci(uci))
            except ValueError:
                raise BadPositionError(f"bad move {uci!r} in {board.fen()}") from None
            if _auto_result(board) is not None and len(board.move_stack) < len(moves):
                raise BadPositionError(f"moves after the game ended at {uci!r}")
        return _state(start_fen, moves, board, result, offer)

    def position_from_text(self, text: str, options: Options | None = None) -> ChessState:
        """A game starting from a FEN position."""
        self._check_options(options)
        board = _start_board(text.strip())
        return _state(board.fen(), (), board)

    def position_to_text(self, state: ChessState) -> str:
        """FEN of the current position (en passant square only when a capture is legal)."""
        return state.board.fen()

    # -- perft ---------------------------------------------------------------------

    def perft(self, state: ChessState, depth: int) -> int:
        """Legal move sequences of length ``depth``, counted as the published perft
        tables do: by the movement rules alone (automatic draws end no branch).
        A game already ended by an action has none."""
        if depth == 0:
            return 1
        if state.ended is not None:
            return 0
        return _perft(state.board.copy(stack=False), depth)

    def perft_divide(self, state: ChessState, depth: int) -> dict[str, int]:
        """perft below each first move, keyed by UCI."""
        if state.ended is not None:
            return {}
        board = state.board.copy(stack=False)
        counts: dict[str, int] = {}
        for move in list(board.legal_moves):
            board.push(move)
            counts[move.uci()] = 1 if depth <= 1 else _perft(board, depth - 1)
            board.pop()
        return counts

    def view(self, state: ChessState, seat: Seat | None) -> dict[str, JSON]:
        """Everything (chess hides nothing), plus the legal moves of the side to move."""
        board = state.board
        result = self.result(state)
        legal: list[JSON] = [m.uci() for m in self.legal_moves(state, _seat_of(board.turn))]
        moves: list[JSON] = list(state.moves)
        return {
            "fen": board.fen(),
            "start_fen": state.start_fen,
            "moves": moves,
            "to_act": None if result is not None else _seat_of(board.turn),
            "check": board.is_check(),
            "legal_moves": legal,
            "draw_offer": state.draw_offer,
            "can_claim_draw": result is None and (board.is_repetition(3) or board.is_fifty_moves()),
            "result": None if result is None else result.to_json(),
        }


def _perft(board: chess.Board, depth: int) -> int:
    """python-chess make/unmake perft with bulk counting at the last ply."""
    if depth == 1:
        return board.legal_moves.count()
    total = 0
    for move in board.legal_moves:
        board.push(move)
        total += _perft(board, depth - 1)
        board.pop()
    return total


def _decode_result(doc: object) -> Result:
    if not isinstance(doc, dict):
        raise BadPositionError("bad result")
    placings, reason, points = doc["placings"], doc["reason"], doc["points"]
    if placings not in ([1, 2], [2, 1], [1, 1]) or not isinstance(reason, str) or points:
        raise BadPositionError(f"bad result {doc!r}")
    return Result(tuple(placings), reason)
