"""The registry: meeple's own games come through the ``meeple.games`` entry points."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import entry_points

import pytest

from meeple import rules
from meeple.rules import Game, UnknownGameError
from meeple.rules.classic import ClassicChess
from meeple.rules.registry import _games


@pytest.fixture
def clean_registry() -> Iterator[None]:
    rules.names()  # load the entry points before saving
    saved = dict(_games)
    yield
    _games.clear()
    _games.update(saved)


def test_meeple_games_are_registered_under_their_names() -> None:
    assert {"chess", "fourchess"} <= set(rules.names())
    declared = {ep.name for ep in entry_points(group="meeple.games")}
    assert {"chess", "fourchess"} <= declared
    for name in rules.names():
        game = rules.get(name)
        assert isinstance(game, Game)
        assert game.name == name
        assert game.seat_counts and len(game.seat_names) >= max(game.seat_counts)
    assert isinstance(rules.get("chess"), ClassicChess)
    assert 4 in rules.get("fourchess").seat_counts


def test_unknown_game() -> None:
    with pytest.raises(UnknownGameError, match=r"no game named 'go'.*chess") as info:
        rules.get("go")
    assert info.value.code == "unknown_game"


def test_register_adds_and_replaces(clean_registry: None) -> None:
    class Chess2(ClassicChess):
        name = "chess2"

    rules.register(Chess2())
    assert "chess2" in rules.names()
    assert isinstance(rules.get("chess2"), Chess2)
    replacement = ClassicChess()
    rules.register(replacement)
    assert rules.get("chess") is replacement
