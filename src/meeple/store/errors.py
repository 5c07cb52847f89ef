"""The store's errors: one root, each with a stable machine-readable ``code``.

::

    StoreError
    ├── UnknownGame        no game with that id
    ├── GameExists         a game with that id was already created
    ├── SequenceConflict   the log is not at the expected seq (a stale or racing writer)
    ├── GameClosed         an append to a finished or aborted game
    └── DuplicateCommand   a command id recorded twice for the same player and game
"""

from __future__ import annotations


class StoreError(Exception):
    """Root of the store's errors."""

    code = "store_error"


class UnknownGame(StoreError):
    """No game with this id."""

    code = "unknown_game"

    def __init__(self, game_id: str) -> None:
        super().__init__(f"no game {game_id!r}")
        self.game_id = game_id


class GameExists(StoreError):
    """A game with this id already exists."""

    code = "game_exists"

    def __init__(self, game_id: str) -> None:
        super().__init__(f"game {game_id!r} already exists")
        self.game_id = game_id


class SequenceConflict(StoreError):
    """The game's log is not at ``expected`` (it is at ``actual``): nothing was written.

    The writer is stale (another owner appended) or raced another writer and lost.
    """

    code = "sequence_conflict"

    def __init__(self, game_id: str, expected: int, actual: int) -> None:
        super().__init__(f"game {game_id!r}: expected log at seq {expected}, it is at {actual}")
        self.game_id = game_id
        self.expected = expected
        self.actual = actual


class GameClosed(StoreError):
    """The game is finished or aborted: its log takes no more events."""

    code = "game_closed"

    def __init__(self, game_id: str, status: str) -> None:
        super().__init__(f"game {game_id!r} is {status}")
        self.game_id = game_id
        self.status = status


class DuplicateCommand(StoreError):
    """This command id already has a recorded outcome (look it up instead)."""

    code = "duplicate_command"

    def __init__(self, game_id: str, player_id: int, command_id: str) -> None:
        super().__init__(
            f"command {command_id!r} of player {player_id} in game {game_id!r} was already recorded"
        )
        self.game_id = game_id
        self.player_id = player_id
        self.command_id = command_id
