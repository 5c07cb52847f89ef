"""The game contract: properties every registered game (and the example plug-in) has.

Random playouts, with the moves drawn by hypothesis, check at every ply that:

* nothing raises on legal input, and a live game always has a seat with a move;
* ``format_move``/``parse_move`` are inverses on every legal move;
* ``decode(encode(s)) == s``, and position text reads back to the same text;
* an out-of-turn or illegal move raises the right RulesError and changes nothing;
* ``view()`` and events are plain JSON;
* replaying the move list from ``new()`` gives the same state and the same events;
* a finished game has one placing per seat, no seat to act, and refuses moves.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meeple import rules
from meeple.rules import (
    ActionUnavailableError,
    AnyGame,
    Claim,
    Event,
    GameOverError,
    IllegalMoveError,
    NotYourTurnError,
    Outcome,
    Removal,
    RulesError,
)

# The example plug-in is not installed; import it from its folder, as its own package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "tictactoe"))
from tictactoe import TicTacToe


def _games() -> dict[str, AnyGame]:
    games = {name: rules.get(name) for name in rules.names()}
    games.setdefault("tictactoe", cast(AnyGame, TicTacToe()))
    return games


GAMES = _games()

# Per game: plies per playout and examples. Chess and fourchess games rarely end
# by chance within these caps; the removals at the end cover finishing.
PLY_CAP = {"tictactoe": 9, "chess": 80, "fourchess": 60}
EXAMPLES = {"tictactoe": 40, "chess": 12, "fourchess": 8}


@dataclass
class Record:
    """What a playout did, to replay it: ``(action, seat, argument)`` in order."""

    actions: list[tuple[str, int, str]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def _act(game: AnyGame, state: object, action: str, seat: int, arg: str) -> Outcome[object]:
    """Apply one recorded action."""
    if action == "move":
        return game.play(state, seat, game.parse_move(state, seat, arg))
    if action == "offer":
        return game.offer_draw(state, seat)
    if action == "answer":
        return game.answer_draw(state, seat, arg == "yes")
    return game.claim(state, seat, Claim(arg))


def _as_json(value: object) -> object:
    """``value`` through a strict JSON round trip (tuples or NaN would not survive)."""
    return json.loads(json.dumps(value, allow_nan=False))


def _check_state(game: AnyGame, state: object, seats: int) -> None:
    encoded = game.encode(state)
    copy = game.decode(encoded)
    assert copy == state
    assert game.encode(copy) == encoded
    try:
        text = game.position_to_text(state)
    except ActionUnavailableError:
        pass
    else:
        assert game.position_to_text(game.position_from_text(text, game.options(state))) == text
    for seat in [None, *range(seats)]:
        view = game.view(state, seat)
        assert _as_json(view) == view
    result = game.result(state)
    if result is None:
        assert game.to_act(state), "a live game must have a seat to act"
        assert any(game.legal_moves(state, s) for s in game.to_act(state)), "no seat can move"
    else:
        assert game.to_act(state) == ()
        assert len(result.placings) == seats
        assert all(1 <= p <= seats for p in result.placings)
        assert min(result.placings) == 1
        assert _as_json(result.to_json()) == result.to_json()


def _check_mistakes(
    game: AnyGame, state: object, seats: int, earlier: list[tuple[int, object]]
) -> None:
    """Out-of-turn and illegal moves raise the right error and change nothing."""
    before = game.encode(state)
    acting = game.to_act(state)
    idle = [s for s in range(seats) if s not in acting]
    if idle and acting:
        move = game.legal_moves(state, acting[0])[0]
        with pytest.raises(NotYourTurnError) as info:
            game.play(state, idle[0], move)
        assert info.value.code == "not_your_turn"
    for seat in acting:
        legal = set(game.legal_moves(state, seat))
        stale = [m for s, m in earlier if s == seat and m not in legal]
        if stale:
            with pytest.raises(IllegalMoveError) as illegal:
                game.play(state, seat, stale[-1])
            assert illegal.value.code == "illegal_move"
    assert game.encode(state) == before


def _side_action(
    game: AnyGame, state: object, seats: int, data: st.DataObject
) -> tuple[str, int, str] | None:
    """Now and then, a draw offer, an answer or a claim instead of a move."""
    kind = data.draw(st.sampled_from(["move"] * 17 + ["offer", "answer", "claim"]), label="kind")
    if kind == "move":
        return None
    seat = data.draw(st.integers(0, seats - 1), label="actor")
    if kind == "answer":
        return kind, seat, data.draw(st.sampled_from(["yes", "no"]), label="accept")
    if kind == "claim":
        return kind, seat, data.draw(st.sampled_from([c.value for c in Claim]), label="claim")
    return kind, seat, ""


def _playout(game: AnyGame, seats: int, data: st.DataObject, cap: int) -> tuple[object, Record]:
    state = game.new(seats)
    record = Record()
    earlier: list[tuple[int, object]] = []
    _check_state(game, state, seats)
    for _ in range(cap):
        if game.result(state) is not None:
            break
        side = _side_action(game, state, seats, data)
        if side is not None:
            before = game.encode(state)
            try:
                state, events = _act(game, state, *side)
            except ActionUnavailableError:
                assert game.encode(state) == before
                continue
            record.actions.append(side)
            record.events.extend(events)
            _check_state(game, state, seats)
            continue
        acting = game.to_act(state)
        seat = data.draw(st.sampled_from(acting), label="seat")
        moves = game.legal_moves(state, seat)
        assert game.perft(state, 1) == sum(len(game.legal_moves(state, s)) for s in acting)
        for move in moves:
            assert game.parse_move(state, seat, game.format_move(state, move)) == move
        move = data.draw(st.sampled_from(list(moves)), label="move")
        _check_mistakes(game, state, seats, earlier)
        text = game.format_move(state, move)
        state, events = game.play(state, seat, game.parse_move(state, seat, text))
        assert events and events[0].kind == "move" and events[0].seat == seat
        record.actions.append(("move", seat, text))
        record.events.extend(events)
        earlier.append((seat, move))
        _check_state(game, state, seats)
    return state, record


def _replay(game: AnyGame, seats: int, record: Record) -> tuple[object, list[Event]]:
    state = game.new(seats)
    events: list[Event] = []
    for action in record.actions:
        state, new_events = _act(game, state, *action)
        events.extend(new_events)
    return state, events


def _finish(game: AnyGame, state: object, seats: int, record: Record, data: st.DataObject) -> None:
    """Remove seats until the game ends; then everything refuses politely."""
    for seat in data.draw(st.permutations(range(seats)), label="leavers"):
        if game.result(state) is not None:
            break
        reason = data.draw(st.sampled_from(list(Removal)), label="reason")
        try:
            state, events = game.remove(state, seat, reason)
        except ActionUnavailableError:
            continue  # e.g. the seat is already out
        assert events[0].kind == "removed" and events[0].seat == seat
        assert all(_as_json(e.to_json()) == e.to_json() for e in events)
        _check_state(game, state, seats)
    result = game.result(state)
    assert result is not None, "removing every seat must end the game"
    with pytest.raises(GameOverError):
        game.remove(state, 0, Removal.RESIGN)
    for seat in range(seats):
        assert not game.legal_moves(state, seat)
    moves = [(seat, text) for action, seat, text in record.actions if action == "move"]
    if moves:
        seat, text = moves[-1]
        try:
            move = game.parse_move(state, seat, text)
        except RulesError:
            return
        with pytest.raises(GameOverError):
            game.play(state, seat, move)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_game_contract(name: str) -> None:
    game = GAMES[name]
    assert game.name == name
    cap = PLY_CAP.get(name, 40)

    @settings(
        max_examples=EXAMPLES.get(name, 10),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        seats = data.draw(st.sampled_from(game.seat_counts), label="seats")
        state, record = _playout(game, seats, data, cap)
        replayed, events = _replay(game, seats, record)
        assert replayed == state
        assert game.encode(replayed) == game.encode(state)
        assert events == record.events
        _finish(game, state, seats, record, data)

    check()


@pytest.mark.parametrize("name", sorted(GAMES))
def test_bad_input_raises_rules_errors(name: str) -> None:
    game = GAMES[name]
    state = game.new(game.seat_counts[0])
    for text in ["", "??", "x" * 300]:
        with pytest.raises(RulesError):
            game.play(
                state, game.to_act(state)[0], game.parse_move(state, game.to_act(state)[0], text)
            )
    for data in [b"", b"\xff\x00", b"{}", b"[1, 2]"]:
        with pytest.raises(RulesError) as info:
            game.decode(data)
        assert info.value.code == "bad_position"
    with pytest.raises(RulesError) as bad:
        game.new(game.seat_counts[0], {"no-such-option": "1"})
    assert bad.value.code == "bad_option"
