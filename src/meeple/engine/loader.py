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
from dataclasses import replace
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


def replay(table: Table, bodies: Sequence[bytes], now_ms: int) -> Table:
    """The table after the events ``bodies`` (seq 1..n, in order), loaded at ``now_ms``."""
    last: messages.Event | None = None
    for body in bodies:
        frame = messages.decode_server(body)
        if not isinstance(frame, messages.Event) or frame.seq != table.seq + 1:
            raise ReplayError(f"{table.game_id}: expected event {table.seq + 1}, got {frame!r}")
        table = _apply(table, frame)
        last = frame
    if last is None or table.state is None:
        return table
    to_act = table.rules.to_act(table.state) if table.status == ACTIVE else ()
    clock = Clock(remaining=tuple(last.clocks), running=(), since_ms=now_ms)
    running = tuple(s for s in to_act if s in table.moved)
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
