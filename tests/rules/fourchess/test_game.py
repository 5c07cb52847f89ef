"""FourChess through the game interface: turns, errors, notation, bytes, text, views,
and seeded random playouts to the end."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meeple.rules import (
    BadNotationError,
    BadOptionError,
    BadPositionError,
    IllegalMoveError,
    NotYourTurnError,
    Removal,
    get,
)
from meeple.rules.fourchess import START_FEN4, FourChessState
from tests.rules.fourchess.helpers import BLUE, GAME, RED, YELLOW, kinds, play, state


def playout(seed: int, plies: int, promotion: str = "queen") -> list[FourChessState]:
    """States of a seeded random game (stops at the end or after ``plies``)."""
    rng = random.Random(seed)
    s = GAME.new(4, {"promotion": promotion})
    states = [s]
    for _ in range(plies):
        if GAME.result(s) is not None:
            break
        seat = GAME.to_act(s)[0]
        moves = GAME.legal_moves(s, seat)
        assert moves, GAME.position_to_text(s)  # a seat to act always has a move
        s, _ = GAME.play(s, seat, rng.choice(moves))
        states.append(s)
    return states


def test_registered_under_its_name() -> None:
    assert get("fourchess").name == "fourchess"


def test_new_game() -> None:
    s = GAME.new(4)
    assert GAME.position_to_text(s) == START_FEN4
    assert GAME.to_act(s) == (RED,) and GAME.result(s) is None
    assert GAME.options(s) == {"promotion": "queen"}
    assert GAME.options(GAME.new(4, {"promotion": "any"})) == {"promotion": "any"}
    for bad in ({"promotion": "king"}, {"teams": "1"}):
        with pytest.raises(BadOptionError):
            GAME.new(4, bad)
    with pytest.raises(BadOptionError):
        GAME.new(2)


def test_illegal_move_and_wrong_turn_change_nothing() -> None:
    s = GAME.new(4)
    before = GAME.encode(s)
    with pytest.raises(NotYourTurnError):
        GAME.play(s, BLUE, GAME.parse_move(s, BLUE, "b7-c7"))
    with pytest.raises(IllegalMoveError, match=r"h2-h5.*R-0,0,0,0"):
        GAME.play(s, RED, GAME.parse_move(s, RED, "h2-h5"))
    with pytest.raises(IllegalMoveError):
        GAME.play(s, RED, GAME.parse_move(s, RED, "b7-c7"))  # not Red's piece
    with pytest.raises(IllegalMoveError):
        GAME.play(s, RED, (0, 1, 2))  # not a square at all
    with pytest.raises(IllegalMoveError):
        GAME.play(s, RED, GAME.parse_move(s, RED, "O-O"))
    assert GAME.encode(s) == before
    assert GAME.legal_moves(s, BLUE) == []


def test_a_move_that_leaves_the_king_attacked_is_illegal() -> None:
    # the e-pawn is pinned by Yellow's rook, whose line Blue's grey-free rook does not cross
    s = state("R", "rK:e1 rP:e2 yR:e12 bK:a7 yK:g14 gK:n8")
    assert "e2-f3" not in [GAME.format_move(s, m) for m in GAME.legal_moves(s, RED)]
    with pytest.raises(IllegalMoveError):
        play(s, "e2-d3")
    s, _ = play(s, "e2-e3")  # moving along the pin is fine


def test_a_checked_king_with_a_way_out_is_not_mated() -> None:
    # Blue's rook has 26 moves, none of them safe. The search for a legal move
    # once made and unmade them while walking Blue's piece set, which rebuilt
    # the set under the walk: the rook was visited twice, the king never, and
    # Blue was declared checkmated with three king moves available.
    s = GAME.position_from_text(
        "R-0,0,1,1-0,0,0,0-0,0,0,0-37,60,54,48-12-"
        "x,x,x,1,dN,6,x,x,x/x,x,x,8,x,x,x/x,x,x,1,dN,6,x,x,x/4,dP,9/14/14/14/10,rD,3/"
        "1,bK,12/9,bR,4/6,rK,7/x,x,x,5,dP,2,x,x,x/x,x,x,8,x,x,x/x,x,x,8,x,x,x"
    )
    s, events = play(s, "k7-c7")
    assert kinds(events) == ["move", "check"]
    assert GAME.to_act(s) == (BLUE,)
    legal = [GAME.format_move(s, m) for m in GAME.legal_moves(s, BLUE)]
    assert legal == ["b6-b5", "b6-a6", "b6xc7"]


def test_notation_forms() -> None:
    s = GAME.new(4)
    long = GAME.parse_move(s, RED, "h2-h3")
    assert GAME.parse_move(s, RED, "h2h3") == long == GAME.parse_move(s, RED, " h2-h3 ")
    assert GAME.format_move(s, long) == "h2-h3"
    assert GAME.format_move(s, GAME.parse_move(s, RED, "h2h4")) == "h2-h4"
    for bad in ("", "h2", "z2-z3", "h15-h16", "hello", "h2-h3=K"):
        with pytest.raises(BadNotationError):
            GAME.parse_move(s, RED, bad)


def test_promotion_text_and_options() -> None:
    pieces = "rK:h1 rP:d7 bK:a7 yK:g14 gK:n8"
    s = state("R", pieces)
    texts = [GAME.format_move(s, m) for m in GAME.legal_moves(s, RED)]
    assert "d7-d8=Q" in texts and "d7-d8=N" not in texts
    assert GAME.parse_move(s, RED, "d7d8q") == GAME.parse_move(s, RED, "d7-d8=Q")
    with pytest.raises(IllegalMoveError):
        play(s, "d7-d8=N")
    s = state("R", pieces, promotion="any")
    texts = [GAME.format_move(s, m) for m in GAME.legal_moves(s, RED)]
    assert {"d7-d8=N", "d7-d8=B", "d7-d8=R", "d7-d8=Q"} <= set(texts)
    s, _ = play(s, "d7-d8=N")
    assert GAME.position_to_text(s).split("/")[6].startswith("3,rN")


def test_castling_and_en_passant_text() -> None:
    s = GAME.position_from_text(
        "R-0,0,0,0-1,1,1,1-1,1,1,1-0,0,0,0-0-x,x,x,yR,2,yK,3,yR,x,x,x/x,x,x,yP,yP,yP,yP,yP,"
        "yP,yP,yP,x,x,x/x,x,x,8,x,x,x/bR,bP,10,gP,gR/1,bP,10,gP,1/1,bP,10,gP,1/1,bP,10,gP,gK/"
        "bK,bP,10,gP,1/1,bP,10,gP,1/1,bP,10,gP,1/bR,bP,10,gP,gR/x,x,x,8,x,x,x/x,x,x,rP,rP,rP,"
        "rP,rP,rP,rP,rP,x,x,x/x,x,x,rR,3,rK,2,rR,x,x,x"
    )
    texts = [GAME.format_move(s, m) for m in GAME.legal_moves(s, RED)]
    assert "O-O" in texts and "O-O-O" in texts
    assert GAME.parse_move(s, RED, "h1-j1") == GAME.parse_move(s, RED, "O-O")
    s2, _ = play(s, "O-O")
    assert GAME.position_to_text(s2).endswith("x,x,x,rR,4,rR,rK,1,x,x,x")
    assert GAME.position_to_text(s2).split("-")[2:4] == ["0,1,1,1", "0,1,1,1"]
    # en passant: Red double-steps, Blue's pawn beside the skipped square takes it
    s = state("R", "rK:h1 rP:e2 bP:d4 bK:a7 yK:g14 gK:n8")
    s, _ = play(s, "e2-e4")
    assert "{'enPassant':('e3:e4','','','')}" in GAME.position_to_text(s)
    s, events = play(s, "d4xe3")
    assert events[0].data == {"move": "d4xe3", "captured": "P", "points": 1}
    assert "rP" not in GAME.position_to_text(s)


def test_view_is_plain_data() -> None:
    s = GAME.new(4)
    v = GAME.view(s, RED)
    assert v["fen4"] == START_FEN4 and v["to_act"] == [RED]
    assert isinstance(v["legal_moves"], list) and len(v["legal_moves"]) == 20
    assert GAME.view(s, BLUE)["legal_moves"] == [] and GAME.view(s, None)["legal_moves"] == []
    assert v["points"] == [0, 0, 0, 0] and v["eliminated"] == [False] * 4
    assert v["checks"] == [] and v["last_move"] is None and v["result"] is None
    s, _ = play(s, "h2-h3")
    assert GAME.view(s, YELLOW)["last_move"] == "h2-h3"


def test_bad_fen4_is_refused() -> None:
    head = "R-0,0,0,0-1,1,1,1-1,1,1,1-0,0,0,0-0-"
    board = START_FEN4[len(head) :]
    for bad in (
        "",
        "X-" + START_FEN4[2:],
        head + board.replace("x,x,x,8,x,x,x", "x,x,x,7,x,x,x", 1),
        head + board.replace("yR", "yZ", 1),
        head + "{'lives':(1,1,1,1)}-" + board,
        "R-1,0,0,0-1,1,1,1-1,1,1,1-0,0,0,0-0-" + board,  # side to move eliminated
        head + board.replace("yQ", "yK"),  # two yellow kings
    ):
        with pytest.raises(BadPositionError):
            GAME.position_from_text(bad)
    with pytest.raises(BadPositionError):
        GAME.decode(b"not a state")


def test_lenient_fen4_forms_are_normalized() -> None:
    spaced = START_FEN4.replace("x,x,x,8,x,x,x", "14").replace("/", "/\n")
    s = GAME.position_from_text(spaced)
    assert GAME.position_to_text(s) == START_FEN4


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), promotion=st.sampled_from(["queen", "any"]))
def test_round_trips_along_random_playouts(seed: int, promotion: str) -> None:
    for s in playout(seed, 120, promotion):
        text = GAME.position_to_text(s)
        back = GAME.position_from_text(text, GAME.options(s))
        assert GAME.position_to_text(back) == text
        assert (back.board, back.turn, back.castling, back.ep, back.points, back.halfmove) == (
            s.board,
            s.turn,
            s.castling,
            s.ep,
            s.points,
            s.halfmove,
        )
        assert GAME.decode(GAME.encode(s)) == s
        seat = GAME.to_act(s)
        for m in GAME.legal_moves(s, seat[0]) if seat else ():
            assert GAME.parse_move(s, seat[0], GAME.format_move(s, m)) == m


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_playouts_reach_the_end_without_errors(seed: int) -> None:
    # every game ends: 100 quiet plies end it, and captures and pawn moves are finite
    states = playout(seed, 5000, "any" if seed % 2 else "queen")
    final = states[-1]
    result = GAME.result(final)
    assert result is not None, GAME.position_to_text(final)
    assert sorted(result.placings)[0] == 1 and result.points == final.points
    assert GAME.to_act(final) == ()


def test_game_over_event_ends_a_game_of_resignations() -> None:
    s = GAME.new(4)
    s, _ = play(s, "h2-h3")
    for seat in (BLUE, YELLOW):
        s, events = GAME.remove(s, seat, Removal.RESIGN)
    s, events = GAME.remove(s, RED, Removal.TIMEOUT)
    assert kinds(events)[-1] == "game_over"
