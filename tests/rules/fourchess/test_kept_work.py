"""States keep derived work (their search position, their legal moves) to go
faster; a state that kept nothing, read back from its bytes, must behave the
same in every way."""

from __future__ import annotations

import dataclasses
import random

from meeple.rules import IllegalMoveError, Removal
from meeple.rules.fourchess import FourChessState, Move
from meeple.rules.fourchess.geometry import CASTLE_KING_SIDE, EMPTY, OFF, VALID
from meeple.rules.fourchess.movegen import king_captures, legal_moves
from tests.rules.fourchess.helpers import GAME


def _fresh(s: FourChessState) -> FourChessState:
    """``s`` without any kept work."""
    return GAME.decode(GAME.encode(s))


def _outcome(s: FourChessState, seat: int, move: Move) -> object:
    try:
        return GAME.play(s, seat, move)
    except IllegalMoveError as exc:
        return str(exc)


def _illegal(s: FourChessState, legal: list[Move], rng: random.Random) -> list[Move]:
    """Moves that are not legal: another seat's piece, a made-up step, a bad flag."""
    theirs = [sq for sq in VALID if s.board[sq] not in (EMPTY, OFF) and s.board[sq] >> 3 != s.turn]
    fr, to, _ = rng.choice(legal)
    other = rng.choice(theirs)
    return [(other, other + 16, 0), (fr, fr + 1, 0), (fr, to, CASTLE_KING_SIDE)]


def test_kept_work_changes_no_answer() -> None:
    seen: set[str] = set()
    for seed, promotion in [(1, "queen"), (2, "any"), (3, "any")]:
        seen |= _walk(seed, promotion)
    assert {"check", "eliminated", "game_over"} <= seen


def _walk(seed: int, promotion: str) -> set[str]:
    """Play a seeded random game to its end, comparing every state with its
    fresh copy on the way; the kinds of the events seen."""
    rng = random.Random(seed)
    s = GAME.new(4, {"promotion": promotion})
    seen: set[str] = set()
    while GAME.result(s) is None:
        fresh = _fresh(s)
        assert fresh == s and hash(fresh) == hash(s) and repr(fresh) == repr(s)
        # s wrote its FEN4 rows from its parent's, fresh from scratch
        assert GAME.encode(fresh) == GAME.encode(s)
        seat = s.turn
        # s answers from the legal moves it keeps; fresh validates without them
        legal = list(GAME.legal_moves(s, seat))
        pos = fresh.position()
        assert legal == sorted(set(legal_moves(pos) + king_captures(pos)))
        assert len(set(legal)) == len(legal)
        for move in [rng.choice(legal), *_illegal(s, legal, rng)]:
            assert _outcome(s, seat, move) == _outcome(fresh, seat, move)
        assert GAME.legal_moves(fresh, seat) == legal
        # a replaced state is another position: it must not inherit the kept work
        nxt = s.live[(s.live.index(seat) + 1) % len(s.live)]
        turned = dataclasses.replace(s, turn=nxt)
        assert GAME.legal_moves(turned, nxt) == GAME.legal_moves(_fresh(turned), nxt)
        outcome = GAME.play(s, seat, rng.choice(legal))
        seen.update(e.kind for e in outcome.events)
        s = outcome.state
    return seen


def test_positions_handed_out_are_copies() -> None:
    s = GAME.new(4)
    legal = GAME.legal_moves(s, 0)
    pos = s.position()
    pos.make(legal[0])
    pos.pieces[0].clear()
    assert s.position().pieces == _fresh(s).position().pieces
    assert s.position().board == list(s.board)
    assert GAME.legal_moves(s, 0) == legal


def test_removal_from_a_state_with_kept_work() -> None:
    s = GAME.new(4)
    s = GAME.play(s, 0, GAME.parse_move(s, 0, "h2-h3")).state
    GAME.legal_moves(s, 1)
    for seat in (1, 2):
        kept = GAME.remove(s, seat, Removal.RESIGN)
        assert kept == GAME.remove(_fresh(s), seat, Removal.RESIGN)
        assert GAME.legal_moves(kept.state, kept.state.turn) == GAME.legal_moves(
            _fresh(kept.state), kept.state.turn
        )
