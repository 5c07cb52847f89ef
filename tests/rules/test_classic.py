"""Classic chess: meeple's wrapper around python-chess (the rules of movement are
python-chess's; what is tested here is how games end, state, text and errors)."""

from __future__ import annotations

import json

import chess
import pytest

from meeple.rules import (
    ActionUnavailableError,
    BadNotationError,
    BadOptionError,
    BadPositionError,
    Claim,
    GameOverError,
    IllegalMoveError,
    NotYourTurnError,
    Removal,
    Result,
)
from meeple.rules.classic import ChessState, ClassicChess

GAME = ClassicChess()
START = chess.STARTING_FEN

# The classic perft table (chessprogramming.org "Perft Results"), to depth 3 or 4.
PERFT = [
    (START, [20, 400, 8902, 197281]),
    ("r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1", [48, 2039, 97862]),
    ("8/2p5/3p4/KP5r/1R3p1k/8/4P1P1/8 w - - 0 1", [14, 191, 2812, 43238]),
    ("r3k2r/Pppp1ppp/1b3nbN/nP6/BBP1P3/q4N2/Pp1P2PP/R2Q1RK1 w kq - 0 1", [6, 264, 9467]),
    ("rnbq1k1r/pp1Pbppp/2p5/8/2B5/8/PPP1NnPP/RNBQK2R w KQ - 1 8", [44, 1486, 62379]),
    ("r4rk1/1pp1qppp/p1np1n2/2b1p1B1/2B1P1b1/P1NP1N2/1PP1QPPP/R4RK1 w - - 0 10", [46, 2079]),
]


def play(state: ChessState, *moves: str) -> ChessState:
    """Play moves (any notation) for whoever is to move."""
    for text in moves:
        (seat,) = GAME.to_act(state)
        state = GAME.play(state, seat, GAME.parse_move(state, seat, text)).state
    return state


def from_fen(fen: str) -> ChessState:
    return GAME.position_from_text(fen)


KNIGHT_DANCE = ("g1f3", "g8f6", "f3g1", "f6g8")


@pytest.mark.parametrize(("fen", "counts"), PERFT, ids=lambda v: str(v)[:12])
def test_perft_matches_the_published_table(fen: str, counts: list[int]) -> None:
    state = from_fen(fen)
    assert [GAME.perft(state, depth) for depth in range(1, len(counts) + 1)] == counts
    assert GAME.perft(state, 0) == 1


def test_fast_perft_agrees_with_the_interface_walk() -> None:
    state = play(GAME.new(2), "e2e4", "d7d5")
    slow = super(ClassicChess, GAME).perft(state, 3)
    assert GAME.perft(state, 3) == slow


def test_perft_divide_keys_are_uci_and_sum_to_perft() -> None:
    divide = GAME.perft_divide(GAME.new(2), 3)
    assert len(divide) == 20
    assert divide["e2e4"] == 600
    assert sum(divide.values()) == 8902


def test_new_game() -> None:
    state = GAME.new(2)
    assert GAME.to_act(state) == (0,)
    assert len(GAME.legal_moves(state, 0)) == 20
    assert GAME.legal_moves(state, 1) == ()
    assert GAME.position_to_text(state) == START
    assert GAME.result(state) is None
    assert GAME.options(state) == {}


@pytest.mark.parametrize("seats", [1, 3, 4])
def test_chess_takes_two_seats(seats: int) -> None:
    with pytest.raises(BadOptionError):
        GAME.new(seats)


def test_chess_has_no_options() -> None:
    with pytest.raises(BadOptionError, match="variant"):
        GAME.new(2, {"variant": "960"})
    with pytest.raises(BadOptionError):
        GAME.position_from_text(START, {"x": "y"})


def test_move_events_carry_uci_and_san() -> None:
    state, events = GAME.play(GAME.new(2), 0, chess.Move.from_uci("g1f3"))
    assert [e.to_json() for e in events] == [
        {"kind": "move", "seat": 0, "data": {"move": "g1f3", "san": "Nf3"}}
    ]
    assert state.moves == ("g1f3",)
    assert GAME.to_act(state) == (1,)


@pytest.mark.parametrize(
    ("fen", "text", "uci"),
    [
        (START, "e2e4", "e2e4"),
        (START, " Nf3 ", "g1f3"),
        (START, "e4", "e2e4"),
        ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "O-O", "e1g1"),
        ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "e1h1", "e1g1"),  # king takes rook
        ("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1", "O-O-O", "e1c1"),
        ("8/4P3/8/8/8/8/k7/4K3 w - - 0 1", "e7e8n", "e7e8n"),
        ("8/4P3/8/8/8/8/k7/4K3 w - - 0 1", "e8=Q", "e7e8q"),
    ],
)
def test_parse_move_reads_uci_and_san(fen: str, text: str, uci: str) -> None:
    state = from_fen(fen)
    move = GAME.parse_move(state, 0, text)
    assert GAME.format_move(state, move) == uci
    assert GAME.play(state, 0, move).state.moves == (uci,)


def test_parse_move_errors() -> None:
    state = GAME.new(2)
    with pytest.raises(BadNotationError):
        GAME.parse_move(state, 0, "zz9")
    with pytest.raises(IllegalMoveError):
        GAME.parse_move(state, 0, "Nf6")  # well-formed SAN, but no such move
    with pytest.raises(NotYourTurnError):
        GAME.parse_move(state, 1, "Nf6")  # SAN is read for the side to move only
    two_knights = from_fen("4k3/8/8/8/8/8/8/1N2KN2 w - - 0 1")
    with pytest.raises(BadNotationError, match="ambiguous"):
        GAME.parse_move(two_knights, 0, "Nd2")
    # UCI parses without judging legality; play() judges.
    assert GAME.parse_move(state, 0, "e2e5") == chess.Move.from_uci("e2e5")


@pytest.mark.parametrize("uci", ["e2e5", "e7e5", "0000", "e1e2", "P@e4"])
def test_illegal_moves_change_nothing(uci: str) -> None:
    state = GAME.new(2)
    with pytest.raises(IllegalMoveError) as info:
        GAME.play(state, 0, chess.Move.from_uci(uci))
    assert info.value.code == "illegal_move"
    assert state == GAME.new(2)
    assert state.board.fen() == START


def test_out_of_turn_moves_are_refused() -> None:
    state = GAME.new(2)
    with pytest.raises(NotYourTurnError):
        GAME.play(state, 1, chess.Move.from_uci("e7e5"))
    with pytest.raises(NotYourTurnError):
        GAME.play(state, 5, chess.Move.from_uci("e2e4"))


def test_checkmate_ends_the_game() -> None:
    state = play(GAME.new(2), "f2f3", "e7e5", "g2g4")
    state, events = GAME.play(state, 1, chess.Move.from_uci("d8h4"))
    assert GAME.result(state) == Result((2, 1), "checkmate")
    assert events[-1].kind == "game_over"
    assert events[-1].data == {"placings": [2, 1], "reason": "checkmate", "points": None}
    assert GAME.to_act(state) == ()
    assert GAME.legal_moves(state, 0) == ()
    with pytest.raises(GameOverError):
        GAME.play(state, 0, chess.Move.from_uci("e1f2"))
    with pytest.raises(GameOverError):
        GAME.remove(state, 0, Removal.RESIGN)
    with pytest.raises(GameOverError):
        GAME.offer_draw(state, 0)


def test_stalemate_is_a_draw() -> None:
    state = play(from_fen("k7/8/1Q6/8/8/8/8/7K w - - 0 1"), "h1g2")
    assert GAME.result(state) == Result((1, 1), "stalemate")


def test_insufficient_material_is_an_automatic_draw() -> None:
    state = play(from_fen("7k/8/8/8/8/8/1p6/K7 w - - 0 1"), "a1b2")
    assert GAME.result(state) == Result((1, 1), "insufficient_material")
    assert GAME.result(from_fen("7k/8/8/8/8/8/8/K5B1 w - - 0 1")) is not None


def test_threefold_repetition_is_claimed_by_either_seat() -> None:
    once = play(GAME.new(2), *KNIGHT_DANCE)
    with pytest.raises(ActionUnavailableError, match="no draw to claim"):
        GAME.claim(once, 0, Claim.DRAW)
    thrice = play(once, *KNIGHT_DANCE)
    assert GAME.result(thrice) is None  # a claim, not automatic
    assert GAME.view(thrice, None)["can_claim_draw"] is True
    for seat in (0, 1):
        state, events = GAME.claim(thrice, seat, Claim.DRAW)
        assert GAME.result(state) == Result((1, 1), "threefold_repetition")
        assert [e.kind for e in events] == ["claimed", "game_over"]
        assert events[0].seat == seat
    with pytest.raises(ActionUnavailableError):
        GAME.claim(thrice, 0, Claim.WIN)


def test_fivefold_repetition_ends_the_game() -> None:
    four = play(GAME.new(2), *KNIGHT_DANCE * 3, *KNIGHT_DANCE[:3])
    assert GAME.result(four) is None
    state, events = GAME.play(four, 1, chess.Move.from_uci("f6g8"))
    assert GAME.result(state) == Result((1, 1), "fivefold_repetition")
    assert events[-1].kind == "game_over"


def test_fifty_move_rule_is_claimed() -> None:
    state = from_fen("k7/8/8/8/8/8/8/K6R w - - 99 80")
    with pytest.raises(ActionUnavailableError, match="halfmove clock is 99"):
        GAME.claim(state, 0, Claim.DRAW)
    state = play(state, "a1b1")
    assert GAME.result(state) is None
    claimed, _ = GAME.claim(state, 1, Claim.DRAW)
    assert GAME.result(claimed) == Result((1, 1), "fifty_moves")


def test_seventyfive_move_rule_is_automatic() -> None:
    state = play(from_fen("k7/8/8/8/8/8/8/K6R w - - 149 80"), "a1b1")
    assert GAME.result(state) == Result((1, 1), "seventyfive_moves")


def test_a_draw_offer_is_accepted_or_declined() -> None:
    state, events = GAME.offer_draw(GAME.new(2), 0)
    assert state.draw_offer == 0
    assert [e.kind for e in events] == ["draw_offered"]
    with pytest.raises(ActionUnavailableError, match="already offered"):
        GAME.offer_draw(state, 0)
    with pytest.raises(ActionUnavailableError):
        GAME.answer_draw(state, 0, True)  # one's own offer
    declined, events = GAME.answer_draw(state, 1, False)
    assert declined.draw_offer is None
    assert GAME.result(declined) is None
    assert [e.kind for e in events] == ["draw_declined"]
    accepted, events = GAME.answer_draw(state, 1, True)
    assert GAME.result(accepted) == Result((1, 1), "agreement")
    assert [e.kind for e in events] == ["draw_accepted", "game_over"]
    with pytest.raises(ActionUnavailableError):
        GAME.answer_draw(GAME.new(2), 1, True)  # nothing pending


def test_counter_offer_accepts() -> None:
    offered, _ = GAME.offer_draw(GAME.new(2), 1)
    state, events = GAME.offer_draw(offered, 0)
    assert GAME.result(state) == Result((1, 1), "agreement")
    assert [e.kind for e in events] == ["draw_accepted", "game_over"]


def test_a_draw_offer_stands_until_the_opponent_moves() -> None:
    offered, _ = GAME.offer_draw(GAME.new(2), 0)
    after_own_move = play(offered, "e2e4")
    assert after_own_move.draw_offer == 0
    state, events = GAME.play(after_own_move, 1, chess.Move.from_uci("e7e5"))
    assert state.draw_offer is None
    assert [e.kind for e in events] == ["move", "draw_declined"]
    assert events[1].data == {"implicit": True}


@pytest.mark.parametrize(
    ("seat", "reason", "result"),
    [
        (0, Removal.RESIGN, Result((2, 1), "resignation")),
        (1, Removal.RESIGN, Result((1, 2), "resignation")),
        (1, Removal.FORFEIT, Result((1, 2), "forfeit")),
        (0, Removal.TIMEOUT, Result((2, 1), "timeout")),
    ],
)
def test_removal_loses(seat: int, reason: Removal, result: Result) -> None:
    state, events = GAME.remove(play(GAME.new(2), "e2e4"), seat, reason)
    assert GAME.result(state) == result
    assert events[0].to_json() == {
        "kind": "removed",
        "seat": seat,
        "data": {"reason": reason.value},
    }
    assert events[1].kind == "game_over"
    with pytest.raises(GameOverError):
        GAME.play(state, 1, chess.Move.from_uci("e7e5"))


def test_timeout_against_a_lone_king_is_a_draw() -> None:
    state = from_fen("7k/8/8/8/8/8/8/K6Q b - - 0 1")
    white_flags, _ = GAME.remove(state, 0, Removal.TIMEOUT)
    assert GAME.result(white_flags) == Result((1, 1), "timeout_vs_insufficient_material")
    black_flags, _ = GAME.remove(state, 1, Removal.TIMEOUT)
    assert GAME.result(black_flags) == Result((1, 2), "timeout")
    with pytest.raises(ActionUnavailableError):
        GAME.remove(state, 2, Removal.RESIGN)


def test_encode_decode_keeps_history() -> None:
    state = play(GAME.new(2), *KNIGHT_DANCE * 2)
    state, _ = GAME.offer_draw(state, 1)
    copy = GAME.decode(GAME.encode(state))
    assert copy == state
    assert copy.draw_offer == 1
    claimed, _ = GAME.claim(copy, 0, Claim.DRAW)  # the repetitions survived
    assert GAME.decode(GAME.encode(claimed)) == claimed
    from_position = from_fen("k7/8/8/8/8/8/8/K6R w - - 99 80")
    assert GAME.decode(GAME.encode(from_position)) == from_position


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b'{"v": 2}',
        b'{"v": 1, "fen": "nonsense", "moves": "", "ended": null, "offer": null}',
        b'{"v": 1, "fen": "'
        + START.encode()
        + b'", "moves": "e2e5", "ended": null, "offer": null}',
        b'{"v": 1, "fen": "' + START.encode() + b'", "moves": "", "ended": null, "offer": 3}',
        b'{"v": 1, "fen": "' + START.encode() + b'", "moves": "", "ended": {"placings": [3]},'
        b' "offer": null}',
        b'{"v": 1, "fen": "' + START.encode() + b'", "moves": "f2f3 e7e5 g2g4 d8h4 e1f2",'
        b' "ended": null, "offer": null}',
    ],
)
def test_decode_rejects_bad_data(data: bytes) -> None:
    with pytest.raises(BadPositionError):
        GAME.decode(data)


@pytest.mark.parametrize(
    "fen",
    [
        "",
        "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP w KQkq - 0 1",
        "8/8/8/8/8/8/8/8 w - - 0 1",  # no kings
        "4k3/8/8/8/8/8/8/4R1K1 w - - 0 1",  # black is in check with white to move
    ],
)
def test_bad_fen_is_refused(fen: str) -> None:
    with pytest.raises(BadPositionError) as info:
        GAME.position_from_text(fen)
    assert info.value.code == "bad_position"


def test_fen_round_trip() -> None:
    fen = "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1"
    assert GAME.position_to_text(from_fen(fen)) == fen
    after = play(GAME.new(2), "e2e4")
    assert (
        GAME.position_to_text(after) == "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1"
    )


def test_view_is_json_and_complete() -> None:
    state, _ = GAME.offer_draw(play(GAME.new(2), "e2e4"), 0)
    view = GAME.view(state, 1)
    assert json.loads(json.dumps(view)) == view
    assert view["to_act"] == 1
    assert view["moves"] == ["e2e4"]
    assert view["draw_offer"] == 0
    assert view["check"] is False
    assert isinstance(view["legal_moves"], list)
    assert len(view["legal_moves"]) == 20
    assert view["result"] is None
