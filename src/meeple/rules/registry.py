"""The registry of games, by name.

meeple's own games and any installed package's games are found through the
``meeple.games`` entry-point group, so a studio adds a game by publishing a
package (see ``examples/tictactoe``) without touching meeple::

    [project.entry-points."meeple.games"]
    tictactoe = "tictactoe:TicTacToe"

:func:`register` adds one at run time (tests, notebooks).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import cast

from meeple.rules.base import Game, M, S
from meeple.rules.errors import UnknownGameError

AnyGame = Game[object, object]
"""A game with its state and move types erased: what the engine holds."""

_games: dict[str, AnyGame] = {}
_broken: dict[str, str] = {}  # entry-point name -> why it could not be loaded
_loaded_entry_points = False


def register(game: Game[S, M]) -> None:
    """Register a game instance under ``game.name`` (replacing one of that name)."""
    _games[game.name] = cast(AnyGame, game)


def _load_entry_points() -> None:
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    _loaded_entry_points = True
    for ep in entry_points(group="meeple.games"):
        if ep.name in _games:
            continue
        # One broken plug-in must not take the other games down with it.
        try:
            factory = ep.load()
            register(factory())
        except Exception as exc:
            _broken[ep.name] = f"{type(exc).__name__}: {exc}"


def get(name: str) -> AnyGame:
    """The registered game called ``name``. Raises UnknownGameError."""
    _load_entry_points()
    try:
        return _games[name]
    except KeyError:
        if name in _broken:
            raise UnknownGameError(f"game {name!r} failed to load: {_broken[name]}") from None
        known = ", ".join(sorted(_games)) or "none"
        raise UnknownGameError(f"no game named {name!r} (known: {known})") from None


def broken() -> dict[str, str]:
    """Entry points that failed to load, with the reason (for operators' logs)."""
    _load_entry_points()
    return dict(_broken)


def names() -> list[str]:
    """Names of every registered game, sorted."""
    _load_entry_points()
    return sorted(_games)
