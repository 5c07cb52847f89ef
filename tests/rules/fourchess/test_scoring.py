"""Rules 7-9, one readable test each: points, eliminations, the end, placings."""

from __future__ import annotations

import pytest

from meeple.rules import ActionUnavailableError, Claim, GameOverError, Removal
from meeple.rules.fourchess.scoring import placings
from tests.rules.fourchess.helpers import (
    BLUE,
    GAME,
    GREEN,
    RED,
    YELLOW,
    kinds,
    play,
    points_events,
    state,
)

KINGS = "yK:g14 gK:n8"


def test_checkmate_scores_20_for_the_checker_and_greys_the_loser() -> None:
    s = state("R", f"rK:h1 rQ:d4 rR:b11 bK:a7 bP:b5 {KINGS}")
    s, events = play(s, "d4-a4")
    assert points_events(events) == [(RED, 20, "checkmate")]
    assert [(e.seat, e.data) for e in events if e.kind == "eliminated"] == [
        (BLUE, {"reason": "checkmate"})
    ]
    assert s.points == (20, 0, 0, 0)
    assert s.out[BLUE] and s.reasons[BLUE] == "checkmate"
    assert GAME.to_act(s) == (YELLOW,)  # Blue's turn is skipped
    fen = GAME.position_to_text(s)
    assert ",dP," in fen and fen.split("/")[7].startswith("dK")  # grey king on a7


def test_checkmate_credit_goes_to_the_most_recent_checker() -> None:
    # Yellow's rook already checks Blue along the a-file; Red's queen adds a second check.
    s = state("R", f"rK:h1 rQ:d4 rR:b11 bK:a7 yR:a11 {KINGS}")
    _, events = play(s, "d4-a4")
    assert points_events(events) == [(RED, 20, "checkmate")]


def test_checkmate_credit_goes_to_the_player_giving_check_not_the_mover() -> None:
    # Red only covers the escape squares; the check is Yellow's.
    s = state("R", f"rK:h1 rR:c10 bK:a7 yR:a11 {KINGS}")
    _, events = play(s, "c10-b10")
    assert points_events(events) == [(YELLOW, 20, "checkmate")]


@pytest.mark.parametrize(
    ("pieces", "move"),
    [
        pytest.param(f"rK:h1 rR:b11 rR:c9 bK:a4 {KINGS}", "c9-c5", id="bare-king"),
        # the pawn on e10 is on no line through Blue's king but cannot move either
        pytest.param(f"rK:h1 rR:b11 rR:c9 bK:a4 bP:e10 dP:f10 {KINGS}", "c9-c5", id="blocked-pawn"),
        # the knight on b5 has moves, but the bishop on c6 pins it to the king on a4
        pytest.param(f"rK:h1 rB:c6 rN:c4 rN:f6 bK:a4 bN:b5 {KINGS}", "f6-d5", id="pinned-knight"),
    ],
)
def test_stalemate_scores_20_for_the_stalemated_player(pieces: str, move: str) -> None:
    s, events = play(state("R", pieces), move)
    assert points_events(events) == [(BLUE, 20, "stalemate")]
    assert s.reasons[BLUE] == "stalemate" and s.points == (0, 20, 0, 0)


def test_a_piece_on_the_kings_line_can_still_save_it_from_stalemate() -> None:
    # the king cannot move, the knight on its file can
    s = state("R", f"rK:h1 rR:b11 rR:c9 bK:a4 bN:a6 {KINGS}")
    s, events = play(s, "c9-c5")
    assert kinds(events) == ["move"]
    assert GAME.to_act(s) == (BLUE,)
    assert sorted(GAME.format_move(s, m) for m in GAME.legal_moves(s, BLUE)) == [
        "a6-b4",
        "a6-b8",
        "a6-c7",
        "a6xc5",
    ]


def test_king_capture_scores_20_and_eliminates() -> None:
    # Green's queen checks Yellow, but taking Green's king turns that queen grey
    s = state("Y", "rK:h1 bK:a7 yK:g14 yR:l8 gK:n8 gQ:n7")
    assert "l8xn8" in [GAME.format_move(s, m) for m in GAME.legal_moves(s, YELLOW)]
    s, events = play(s, "l8xn8")
    assert events[0].data == {"move": "l8xn8", "captured": "K", "points": 20}
    assert points_events(events) == [(YELLOW, 20, "king_capture")]
    assert s.reasons[GREEN] == "king_captured"
    assert GAME.position_to_text(s).split("/")[7].endswith("dQ")  # Green's queen went grey
    assert GAME.to_act(s) == (RED,)


def test_double_check_scores_5() -> None:
    s = state("R", "rK:h1 rN:e6 bK:f9 yK:h9 gK:n8")
    s, events = play(s, "e6-g7")
    assert points_events(events) == [(RED, 5, "double_check")]
    assert [e.data for e in events if e.kind == "check"] == [{"kings": [BLUE, YELLOW]}]


def test_double_check_with_a_queen_scores_1() -> None:
    s = state("R", "rK:h1 rQ:g5 bK:d9 yK:j9 gK:n8")
    _, events = play(s, "g5-g9")
    assert points_events(events) == [(RED, 1, "double_check")]


def test_triple_check_scores_20() -> None:
    # the knight forks Blue and Yellow and uncovers the rook on Green
    s = state("R", "rK:h1 rN:e6 rR:e4 bK:f9 yK:h9 gK:e10")
    _, events = play(s, "e6-g7")
    assert points_events(events) == [(RED, 20, "triple_check")]


def test_triple_check_with_a_queen_scores_5() -> None:
    s = state("R", "rK:h1 rQ:g5 bK:d9 yK:j9 gK:g12")
    _, events = play(s, "g5-g9")
    assert points_events(events) == [(RED, 5, "triple_check")]


def test_grey_pieces_score_nothing_and_never_act() -> None:
    s = state("R", f"rK:h1 rR:h5 dQ:h9 dR:d1 bK:a7 {KINGS}", out="0,1,0,0")
    # the grey rook on d1 sees the red king along rank 1 but gives no check
    assert GAME.view(s, RED)["checks"] == []
    s, events = play(s, "h5xh9")
    assert events[0].data == {"move": "h5xh9", "captured": "Q", "points": 0}
    assert points_events(events) == []
    assert GAME.to_act(s) == (YELLOW,)  # Blue, out, is skipped


def test_grey_pieces_block_lines() -> None:
    s = state("R", f"rK:h1 dP:h4 yR:h11 bK:a7 {KINGS}", out="0,1,0,0")
    moves = [GAME.format_move(s, m) for m in GAME.legal_moves(s, RED)]
    assert "h1-i1" in moves and GAME.view(s, RED)["checks"] == []


def test_a_promoted_queen_is_worth_one_point() -> None:
    s = state("R", f"rK:h1 rP:d7 rR:e5 bD:e9 bK:a7 {KINGS}")
    s, events = play(s, "d7-d8=Q")
    assert GAME.position_to_text(s).split("/")[6].startswith("3,rD")
    s = state("R", f"rK:h1 rR:e5 bD:e9 bK:a7 {KINGS}")
    s, events = play(s, "e5xe9")
    assert points_events(events) == [(RED, 1, "capture")]


def test_captures_score_the_piece_value() -> None:
    s = state("R", f"rK:h1 rR:e5 bQ:e9 bK:a7 {KINGS}")
    _, events = play(s, "e5xe9")
    assert points_events(events) == [(RED, 9, "capture")]


def test_hundred_plies_without_capture_or_pawn_move_end_the_game() -> None:
    s = state("R", f"rK:h1 bK:a7 {KINGS} dR:e9", out="0,0,0,0", halfmove=99, points="3,0,0,0")
    s, events = play(s, "h1-h2")
    assert points_events(events) == [(p, 10, "hundred_plies") for p in range(4)]
    assert kinds(events)[-1] == "game_over"
    result = GAME.result(s)
    assert result is not None and result.reason == "hundred_plies"
    assert result.points == (13, 10, 10, 10) and result.placings == (1, 2, 2, 2)
    with pytest.raises(GameOverError):
        GAME.play(s, BLUE, GAME.parse_move(s, BLUE, "a7-a8"))


def test_a_capture_resets_the_hundred_ply_count() -> None:
    s = state("R", f"rK:h1 rR:e5 dR:e9 bK:a7 {KINGS}", halfmove=99)
    s, _ = play(s, "e5xe9")
    assert s.halfmove == 0 and GAME.result(s) is None


def test_claim_win_needs_two_players_and_a_lead_over_20() -> None:
    two_left = dict(out="0,1,0,1")
    pieces = "rK:h1 dK:a7 yK:g14 dK:n8"
    s = state("R", pieces, points="30,0,9,0", **two_left)
    with pytest.raises(ActionUnavailableError):
        GAME.claim(s, YELLOW, Claim.WIN)  # trailing
    with pytest.raises(ActionUnavailableError):
        GAME.claim(state("R", pieces, points="29,0,9,0", **two_left), RED, Claim.WIN)  # lead 20
    with pytest.raises(ActionUnavailableError):
        GAME.claim(state("R", pieces + " bK:a5", points="30,0,9,0"), RED, Claim.WIN)  # 3+ left
    with pytest.raises(ActionUnavailableError):
        GAME.claim(s, RED, Claim.DRAW)
    s, events = GAME.claim(s, RED, Claim.WIN)
    assert kinds(events) == ["claimed", "game_over"]
    result = GAME.result(s)
    assert result is not None and result.reason == "claimed" and result.placings[RED] == 1


def test_placings_by_points_ties_to_the_later_eliminated() -> None:
    # out: 0 = still playing, else elimination order
    assert placings((10, 10, 10, 5), (1, 2, 0, 3)) == (3, 2, 1, 4)
    assert placings((7, 7, 20, 0), (0, 0, 1, 2)) == (2, 2, 1, 4)


def test_resigning_on_your_turn_passes_the_turn() -> None:
    s = GAME.new(4)
    s, events = GAME.remove(s, RED, Removal.RESIGN)
    assert kinds(events) == ["removed", "eliminated"]
    assert GAME.to_act(s) == (BLUE,) and s.reasons[RED] == "resign"
    assert GAME.position_to_text(s).endswith("x,x,x,dR,dN,dB,dQ,dK,dB,dN,dR,x,x,x")
    with pytest.raises(ActionUnavailableError):
        GAME.remove(s, RED, Removal.RESIGN)


def test_timeout_off_turn_keeps_the_turn_and_the_last_one_left_ends_it() -> None:
    s = GAME.new(4)
    s, _ = GAME.remove(s, YELLOW, Removal.TIMEOUT)
    assert GAME.to_act(s) == (RED,) and s.reasons[YELLOW] == "timeout"
    s, _ = GAME.remove(s, BLUE, Removal.FORFEIT)
    s, events = GAME.remove(s, RED, Removal.RESIGN)
    assert GAME.to_act(s) == ()
    assert kinds(events)[-1] == "game_over"
    result = GAME.result(s)
    # all on 0 points: the later-eliminated place higher, Green (never out) first
    assert result is not None and result.placings == (2, 3, 4, 1)
    assert result.reason == "last_player"
