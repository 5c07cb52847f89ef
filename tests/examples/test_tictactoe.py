"""The example game plug-in: its rules, and that meeple finds it the way a studio's
package would be found (``register()`` and the ``meeple.games`` entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from meeple import rules
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
from meeple.rules.registry import _games
from tictactoe import Board, TicTacToe

GAME = TicTacToe()
TICTACTOE_DIR = Path(__file__).resolve().parents[2] / "examples" / "tictactoe"


def play(state: Board, *cells: str) -> Board:
    for text in cells:
        (seat,) = GAME.to_act(state)
        state = GAME.play(state, seat, GAME.parse_move(state, seat, text)).state
    return state


def test_perft_counts_every_game_prefix() -> None:
    # Mark sequences that no earlier line ended: 9, 72, 504, 3024, 15120, 54720, ...
    start = GAME.new(2)
    assert [GAME.perft(start, depth) for depth in range(1, 6)] == [9, 72, 504, 3024, 15120]
    assert sum(GAME.perft_divide(start, 5).values()) == 15120
    # X a1, O b2, X c1: O has 6 replies, then X 5; X's b1 wins, and nothing follows it.
    threat = play(start, "a1", "b2", "c1")
    assert GAME.perft(threat, 1) == 6
    assert GAME.perft_divide(threat, 2)["a3"] == 5
    won = play(threat, "a3", "b1")
    assert GAME.perft(won, 1) == 0


def test_a_line_wins() -> None:
    state = play(GAME.new(2), "a1", "a2", "b1", "b2")
    state, events = GAME.play(state, 0, GAME.parse_move(state, 0, "C1"))
    assert GAME.result(state) == Result((1, 2), "three_in_a_row")
    assert [e.kind for e in events] == ["move", "game_over"]
    assert GAME.to_act(state) == ()
    with pytest.raises(GameOverError):
        GAME.play(state, 1, 8)


def test_a_full_board_without_a_line_is_a_draw() -> None:
    state = play(GAME.new(2), "a3", "b3", "c3", "b2", "a2", "c2", "b1", "a1", "c1")
    assert GAME.position_to_text(state) == "XOX/XOO/OXX"
    assert GAME.result(state) == Result((1, 1), "board_full")
    assert GAME.to_act(state) == ()


def test_mistakes_change_nothing() -> None:
    state = play(GAME.new(2), "b2")
    before = GAME.encode(state)
    with pytest.raises(NotYourTurnError):
        GAME.play(state, 0, 0)
    with pytest.raises(IllegalMoveError, match="b2 is already marked"):
        GAME.play(state, 1, 4)
    with pytest.raises(IllegalMoveError):
        GAME.play(state, 1, 9)
    with pytest.raises(BadNotationError):
        GAME.parse_move(state, 1, "d4")
    assert GAME.encode(state) == before


def test_leaving_loses_and_draws_are_not_in_this_game() -> None:
    state = play(GAME.new(2), "b2")
    with pytest.raises(ActionUnavailableError):
        GAME.offer_draw(state, 0)
    with pytest.raises(ActionUnavailableError):
        GAME.claim(state, 0, Claim.DRAW)
    with pytest.raises(ActionUnavailableError):
        GAME.remove(state, 2, Removal.RESIGN)
    resigned, events = GAME.remove(state, 0, Removal.RESIGN)
    assert GAME.result(resigned) == Result((2, 1), "resignation")
    assert [e.kind for e in events] == ["removed", "game_over"]
    timed_out, _ = GAME.remove(state, 1, Removal.TIMEOUT)
    assert GAME.result(timed_out) == Result((1, 2), "timeout")
    assert GAME.decode(GAME.encode(timed_out)) == timed_out
    with pytest.raises(GameOverError):
        GAME.remove(resigned, 1, Removal.RESIGN)


def test_setup_errors() -> None:
    with pytest.raises(BadOptionError):
        GAME.new(3)
    with pytest.raises(BadOptionError):
        GAME.new(2, {"size": "4"})


@pytest.mark.parametrize(
    "text", ["", "XXX/OOO/...", "X../.../...x", "XX./.../...", "XXX/OO./O..", "X.O/.X./..Q"]
)
def test_bad_positions(text: str) -> None:
    with pytest.raises(BadPositionError):
        GAME.position_from_text(text)


@pytest.mark.parametrize(
    "data",
    [b"", b"{}", b'{"board": ".../.../...", "ended": {"placings": [1, 1], "reason": "x"}}'],
)
def test_bad_encodings(data: bytes) -> None:
    with pytest.raises(BadPositionError):
        GAME.decode(data)


def test_text_and_bytes_round_trip() -> None:
    state = play(GAME.new(2), "a1", "c3", "b2")
    assert GAME.position_to_text(state) == "..O/.X./X.."
    assert GAME.position_from_text("..O/.X./X..") == state
    assert GAME.decode(GAME.encode(state)) == state
    view = GAME.view(state, None)
    assert json.loads(json.dumps(view)) == view
    assert view == {"board": "..O/.X./X..", "to_act": 1, "result": None}


@pytest.fixture
def clean_registry() -> Iterator[None]:
    saved = dict(_games)
    yield
    _games.clear()
    _games.update(saved)


def test_register_makes_it_a_meeple_game(clean_registry: None) -> None:
    rules.register(TicTacToe())
    game = rules.get("tictactoe")
    assert isinstance(game, TicTacToe)
    assert "tictactoe" in rules.names()


def _declared_entry_points() -> dict[str, str]:
    with (TICTACTOE_DIR / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    declared: dict[str, str] = project["entry-points"]["meeple.games"]
    return declared


def _install_metadata(site: Path) -> None:
    """Write the .dist-info pip would write for examples/tictactoe (no build, no network)."""
    dist = site / "meeple_tictactoe-0.1.0.dist-info"
    dist.mkdir()
    metadata = "Metadata-Version: 2.1\nName: meeple-tictactoe\nVersion: 0.1.0\n"
    (dist / "METADATA").write_text(metadata)
    lines = [f"{name} = {target}" for name, target in _declared_entry_points().items()]
    (dist / "entry_points.txt").write_text("[meeple.games]\n" + "\n".join(lines) + "\n")


def test_the_declared_entry_point_loads_the_game(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _declared_entry_points() == {"tictactoe": "tictactoe:TicTacToe"}
    _install_metadata(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (ep,) = entry_points(group="meeple.games", name="tictactoe")
    assert ep.dist is not None and ep.dist.name == "meeple-tictactoe"
    game = ep.load()()
    assert isinstance(game, TicTacToe) and game.name == ep.name


def test_an_installed_game_is_found_by_the_meeple_command(tmp_path: Path) -> None:
    """End to end: the plug-in is installed beside meeple, `meeple perft` finds it."""
    _install_metadata(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(TICTACTOE_DIR)])}
    done = subprocess.run(
        [sys.executable, "-m", "meeple.cli", "perft", "--game", "tictactoe", "--depth", "4"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "3024"
