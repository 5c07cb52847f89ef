"""Rebuilding a table from its event log (start-up, takeover, after a conflict).

Replay feeds each stored event back through the rules, so the rebuilt state is
exactly the one the events were decided on (the rules are deterministic). Clocks
are not replayed: they are restored from the last event's ``clocks`` and the
running ones restart at *load* time, so nobody is charged for the time the game
had no engine (DESIGN.md invariant 4). For the same reason the first-move and
disconnect deadlines restart at load time, and presence starts as "online"
(a gateway reports drops again; a player who never returns still loses on time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from meeple.engine.clocks import Clock
from meeple.engine.ratings import Skill, rate
from meeple.engine.table import ABORTED, ACTIVE, FINISHED, SeatInfo, Table
from meeple.protocol import messages
from meeple.rules import Claim, Outcome, Removal

_REMOVALS = {"resign": Removal.RESIGN, "timeout": Removal.TIMEOUT, "forfeit": Removal.FORFEIT}


class ReplayError(Exception):
    """The stored log does not replay (a bug or a changed rules version)."""

    code = "internal_error"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A table's rules state after ``seq``, with what replay cannot read from the state:
    the clocks of event ``seq`` and the seats that have made their first move."""

    seq: int
    state: bytes
    clocks: tuple[int, ...]
    moved: frozenset[int]

    def to_json(self) -> dict[str, Any]:
        """The store's ``game_snapshots.clocks`` column."""
        return {"clocks": list(self.clocks), "moved": sorted(self.moved)}

    @classmethod
    def of(cls, table: Table) -> Snapshot:
        """The snapshot of a table just committed: every event restarts the clocks, so
        ``clock.remaining`` are the clocks of its last event."""
        return cls(table.seq, table.rules.encode(table.state), table.clock.remaining, table.moved)

    @classmethod
    def from_json(cls, seq: int, state: bytes, data: dict[str, Any]) -> Snapshot:
        """Read back what :meth:`to_json` stored."""
        clocks = tuple(int(c) for c in data["clocks"])
        return cls(seq, state, clocks, frozenset(int(s) for s in data["moved"]))


def replay(
    table: Table,
    bodies: Sequence[bytes],
    now_ms: int,
    *,
    snapshot: Snapshot | None = None,
    served_until_ms: int | None = None,
) -> Table:
    """The table after the events ``bodies``, loaded at ``now_ms``.

    Without a snapshot ``bodies`` are seq 1..n. With one, ``bodies`` are the
    ``start`` event (seq 1, for the seats and options) and then the events after
    the snapshot's seq.

    ``served_until_ms``: the game was served by an engine until then (a graceful
    handover's time): the running seats are charged from the last event up to it,
    and only the time between it and the load is free. Ignored if it is not after
    the last event (whose time a snapshot does not keep: then nothing is charged).
    """
    last_clocks: tuple[int, ...] | None = None
    last_ms: int | None = None
    for body in bodies:
        frame = messages.decode_server(body)
        if not isinstance(frame, messages.Event) or frame.seq != table.seq + 1:
            raise ReplayError(f"{table.game_id}: expected event {table.seq + 1}, got {frame!r}")
        table = _apply(table, frame)
        last_clocks, last_ms = tuple(frame.clocks), frame.ts_ms
        if snapshot is not None and frame.seq == 1 and snapshot.seq > 1:
            state = table.rules.decode(snapshot.state)
            table = replace(table, state=state, seq=snapshot.seq, moved=snapshot.moved)
            last_clocks, last_ms = snapshot.clocks, None
    if last_clocks is None or table.state is None:
        return table
    to_act = table.rules.to_act(table.state) if table.status == ACTIVE else ()
    running = tuple(s for s in to_act if s in table.moved)
    if served_until_ms is not None and last_ms is not None and served_until_ms > last_ms:
        served = Clock(remaining=last_clocks, running=running, since_ms=last_ms)
        last_clocks = served.read(min(served_until_ms, now_ms))
    clock = Clock(remaining=last_clocks, running=(), since_ms=now_ms)
    return replace(table, clock=clock.run(running, now_ms), turn_ms=now_ms, to_act=to_act)


def _apply(table: Table, frame: messages.Event) -> Table:
    rules, state, data, seat = table.rules, table.state, frame.data, frame.seat
    table = replace(table, seq=frame.seq)
    kind = frame.kind
    if kind == "start":
        seats = tuple(_seat(s) for s in data["seats"])
        options = {str(k): str(v) for k, v in dict(data.get("options") or {}).items()}
        state = rules.new(len(seats), options)
        return replace(table, seats=seats, options=options, state=state, status=ACTIVE)
    if kind == "game_over":
        skills = rate([info.skill for info in table.seats], data["placings"])
        return replace(table, status=FINISHED, result=dict(data), new_skills=tuple(skills))
    if kind == "aborted":
        return replace(table, status=ABORTED, result=dict(data))
    if seat is None:
        raise ReplayError(f"{table.game_id}: event {frame.seq} ({kind}) has no seat")
    outcome: Outcome[object]
    if kind == "move":
        move = rules.parse_move(state, seat, str(data["move"]))
        outcome = rules.play(state, seat, move)
        table = replace(table, moved=table.moved | {seat})
    elif kind in _REMOVALS:
        outcome = rules.remove(state, seat, _REMOVALS[kind])
    elif kind == "draw_offered":
        outcome = rules.offer_draw(state, seat)
    elif kind in ("draw_accepted", "draw_declined"):
        outcome = rules.answer_draw(state, seat, kind == "draw_accepted")
    elif kind == "claimed":
        outcome = rules.claim(state, seat, Claim(str(data["claim"])))
    else:
        raise ReplayError(f"{table.game_id}: unknown event kind {kind!r} at {frame.seq}")
    return replace(table, state=outcome.state)


def _seat(data: dict[str, Any]) -> SeatInfo:
    skill = Skill(mu=float(data["mu"]), sigma=float(data["sigma"]))
    return SeatInfo(player_id=int(data["player_id"]), username=str(data["username"]), skill=skill)
