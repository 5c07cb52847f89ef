"""The values of an append to a game's log (shared by the repository and the batch paths)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Json = Any  # a JSON-serializable value (dicts, lists, str, int, float, bool, None)

OPEN = ("pending", "active")
STATUSES = ("pending", "active", "finished", "aborted")


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: its seq is assigned by the append."""

    kind: str
    seat: int | None
    body: bytes  # the encoded event, as it will be fanned out
    ts_ms: int


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """The outcome of a client command, recorded with the events it caused (if any)."""

    player_id: int
    command_id: str
    outcome: Json  # the ack or the error, as first sent


@dataclass(frozen=True, slots=True)
class Append:
    """One game's append, for :meth:`Games.append_many`."""

    game_id: str
    expected_seq: int
    events: Sequence[NewEvent] = ()
    command: CommandRecord | None = None
    status: str | None = None  # new games.status, e.g. "active", "finished"
    result: Json = None  # new games.result (None: unchanged)


@dataclass(frozen=True, slots=True)
class Appended:
    """A successful append: the log now ends at ``last_seq``.

    With no events, ``first_seq == last_seq + 1`` (an empty range).
    """

    game_id: str
    first_seq: int
    last_seq: int
