"""One game's decisions: the engine's functional core (no I/O, no real clock).

:func:`decide` takes a :class:`Table` (everything the engine knows of a game), a
command and the time, and returns a :class:`Decision`: the new table, the events
to append (already encoded, with their sequence numbers) and the reply. The shell
(:mod:`meeple.engine.engine`) commits the events and only then swaps the table in,
publishes and replies; if the commit fails the old table is still the truth.

Before any command, deadlines that have passed are applied (:func:`apply_due`):
a flag falls, a first move was not made in time (the game is aborted), a
disconnected seat's grace ran out (forfeit). So a move that arrives after its
seat's flag fell finds the game already decided, whether or not the timer fired
first.

Event kinds written here: ``start``, ``move``, ``resign``, ``timeout``,
``forfeit``, ``draw_offered``, ``draw_declined``, ``draw_accepted``, ``claimed``,
``aborted``, ``game_over``. Each carries the clocks at its time and ``to_act``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from meeple.engine.clocks import Clock
from meeple.engine.ratings import Skill, rate
from meeple.ledger.payout import split_pot
from meeple.protocol import messages
from meeple.rules import AnyGame, Claim, Outcome, Removal, RulesError
from meeple.rules.errors import ActionUnavailableError

ACTIVE = "active"
PENDING = "pending"
FINISHED = "finished"
ABORTED = "aborted"

PLAYER_KINDS = frozenset({"move", "resign", "draw.offer", "draw.accept", "draw.decline", "claim"})
"""Commands a seated player sends (recorded once per command id)."""


@dataclass(frozen=True, slots=True)
class SeatInfo:
    """Who sits in a seat, and their rating when the game started."""

    player_id: int
    username: str
    skill: Skill = field(default_factory=Skill)

    def to_json(self, seat: int) -> dict[str, Any]:
        """The seat as the ``start`` event and State frames show it."""
        return {
            "seat": seat,
            "player_id": self.player_id,
            "username": self.username,
            "rating": self.skill.display,
            "mu": self.skill.mu,
            "sigma": self.skill.sigma,
        }


@dataclass(frozen=True, slots=True)
class Policy:
    """The engine settings a table's decisions depend on."""

    first_move_timeout_ms: int = 30_000
    disconnect_grace_ms: int = 60_000
    payout_percent: tuple[int, ...] = (100,)
    rake_bps: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    """Everything the engine holds of one game (a value: decisions make new ones)."""

    game_id: str
    rules: AnyGame
    seats: tuple[SeatInfo, ...]
    base_ms: int
    increment_ms: int
    stake: int = 0
    options: Mapping[str, str] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)
    status: str = PENDING
    state: object | None = None
    seq: int = 0
    clock: Clock = field(default_factory=lambda: Clock(()))
    turn_ms: int = 0  # when the current seats to act began (first-move deadline)
    to_act: tuple[int, ...] = ()
    moved: frozenset[int] = frozenset()
    offline: tuple[tuple[int, int], ...] = ()  # (seat, since_ms), sorted by seat
    result: dict[str, Any] | None = None
    new_skills: tuple[Skill, ...] | None = None  # after the game, for the ratings table

    def seat_of(self, player_id: int) -> int | None:
        """The seat of ``player_id``, or ``None`` for a spectator."""
        for seat, info in enumerate(self.seats):
            if info.player_id == player_id:
                return seat
        return None

    @property
    def time_control(self) -> str:
        """``"minutes+seconds"`` as players say it (fractions when not whole)."""
        return f"{self.base_ms / 60_000:g}+{self.increment_ms / 1000:g}"

    @property
    def over(self) -> bool:
        """Whether the game has ended (finished or aborted)."""
        return self.status in (FINISHED, ABORTED)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append: its encoded frame is both the stored body and what is published."""

    seq: int
    kind: str
    seat: int | None
    ts_ms: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a command (``seq``: the last event it caused)."""

    ok: bool
    seq: int | None = None
    code: str | None = None
    message: str | None = None
    payload: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """As stored in ``game_commands.outcome``."""
        return {"ok": self.ok, "seq": self.seq, "code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Decision:
    """What a command did: the table after it, the events it caused, the reply."""

    table: Table
    events: tuple[NewEvent, ...]
    reply: Reply | None


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ------------------------------------------------------------------------ deciding


def decide(table: Table, kind: str, player_id: int, arg: str | None, now_ms: int) -> Decision:
    """Decide one command against ``table`` at ``now_ms``; never raises for a player's
    mistake (the reply carries its code and the table is unchanged by it)."""
    if kind == "state":
        frame = state_frame(table, player_id, now_ms)
        return Decision(table, (), Reply(True, table.seq, payload=frame))
    if kind == "start":
        if table.status != PENDING:
            return Decision(table, (), Reply(True, min(table.seq, 1)))
        started, event = start(table, now_ms)
        return Decision(started, (event,), Reply(True, event.seq))
    if table.status == PENDING:
        return _refused(table, (), "action_unavailable", "the game has not started yet")
    table, events = apply_due(table, now_ms)
    if kind == "tick":
        return Decision(table, events, None)
    seat = table.seat_of(player_id)
    if seat is None:
        return _refused(table, events, "not_a_player", f"you have no seat in {table.game_id}")
    if kind == "presence":
        return Decision(_presence(table, seat, arg, now_ms), events, Reply(True, table.seq))
    if table.over:
        return _refused(table, events, "game_over", f"game {table.game_id} has ended")
    try:
        after, caused = _player_action(table, seat, kind, arg, now_ms)
    except RulesError as exc:
        return _refused(table, events, exc.code, str(exc))
    except _Refused as exc:
        return _refused(table, events, exc.code, exc.message)
    all_events = events + caused
    return Decision(after, all_events, Reply(True, all_events[-1].seq if all_events else None))


def _refused(table: Table, events: tuple[NewEvent, ...], code: str, message: str) -> Decision:
    return Decision(table, events, Reply(False, code=code, message=message))


def _player_action(
    table: Table, seat: int, kind: str, arg: str | None, now_ms: int
) -> tuple[Table, tuple[NewEvent, ...]]:
    rules, state = table.rules, table.state
    outcome: Outcome[object]
    data: dict[str, Any] = {}
    if kind == "move":
        if not arg:
            raise _Refused("bad_notation", "a move needs its text")
        if seat not in table.to_act:
            raise _Refused("not_your_turn", f"seat {seat} is not to act (to act: {table.to_act})")
        move = rules.parse_move(state, seat, arg)
        outcome = rules.play(state, seat, move)
        data["move"] = rules.format_move(state, move)
        return advance(table, outcome, now_ms, "move", seat, data)
    if kind == "resign":
        return advance(table, rules.remove(state, seat, Removal.RESIGN), now_ms, "resign", seat)
    if kind == "draw.offer":
        return advance(table, rules.offer_draw(state, seat), now_ms, "draw_offered", seat)
    if kind in ("draw.accept", "draw.decline"):
        accept = kind == "draw.accept"
        outcome = rules.answer_draw(state, seat, accept)
        return advance(table, outcome, now_ms, "draw_accepted" if accept else "draw_declined", seat)
    if kind == "claim":
        try:
            claim = Claim(arg or "")
        except ValueError:
            raise _Refused("bad_message", f"claim must be 'win' or 'draw', not {arg!r}") from None
        outcome = rules.claim(state, seat, claim)
        return advance(table, outcome, now_ms, "claimed", seat, {"claim": claim.value})
    raise _Refused("bad_message", f"unknown game command {kind!r}")


def _presence(table: Table, seat: int, arg: str | None, now_ms: int) -> Table:
    offline = dict(table.offline)
    if arg == "offline":
        offline.setdefault(seat, now_ms)
    else:
        offline.pop(seat, None)
    return replace(table, offline=tuple(sorted(offline.items())))


# ----------------------------------------------------------------- state changes


def start(table: Table, now_ms: int) -> tuple[Table, NewEvent]:
    """Begin the game at ``now_ms``: the ``start`` event (seq 1)."""
    state = table.rules.new(len(table.seats), table.options)
    to_act = table.rules.to_act(state)
    table = replace(
        table,
        status=ACTIVE,
        state=state,
        clock=Clock.new(len(table.seats), table.base_ms, now_ms),
        turn_ms=now_ms,
        to_act=to_act,
    )
    data = {
        "game": table.rules.name,
        "seats": [info.to_json(seat) for seat, info in enumerate(table.seats)],
        "time_control": table.time_control,
        "base_ms": table.base_ms,
        "increment_ms": table.increment_ms,
        "stake": table.stake,
        "options": table.rules.options(state),
    }
    return _emit(table, "start", None, data, now_ms)


def advance(
    table: Table,
    outcome: Outcome[object],
    now_ms: int,
    kind: str,
    seat: int | None,
    data: dict[str, Any] | None = None,
) -> tuple[Table, tuple[NewEvent, ...]]:
    """Take a rules outcome into the table: clocks, turn, the event, and the end."""
    data = dict(data or {})
    folded = [e.to_json() for e in outcome.events if e.kind not in ("move", "game_over")]
    if folded:
        data["events"] = folded
    clock = table.clock.stop(now_ms)
    moved = table.moved
    if kind == "move" and seat is not None:
        if seat in moved:
            clock = clock.add(seat, table.increment_ms)
        moved = moved | {seat}
    rules = table.rules
    to_act = rules.to_act(outcome.state)
    turn_ms = table.turn_ms if to_act == table.to_act and kind != "move" else now_ms
    table = replace(
        table,
        state=outcome.state,
        clock=clock.run(tuple(s for s in to_act if s in moved), now_ms),
        turn_ms=turn_ms,
        to_act=to_act,
        moved=moved,
    )
    table, event = _emit(table, kind, seat, data, now_ms)
    result = rules.result(outcome.state)
    if result is None:
        return table, (event,)
    table, over = _finish(table, result.placings, result.reason, result.points, now_ms)
    return table, (event, over)


def _finish(
    table: Table,
    placings: tuple[int, ...],
    reason: str,
    points: tuple[int, ...] | None,
    now_ms: int,
) -> tuple[Table, NewEvent]:
    skills = [info.skill for info in table.seats]
    new_skills = rate(skills, placings)
    payouts: list[int] | None = None
    house = 0
    if table.stake > 0:
        pot = table.stake * len(table.seats)
        split = split_pot(pot, placings, table.policy.payout_percent, table.policy.rake_bps)
        payouts, house = list(split.payouts), split.house
    result: dict[str, Any] = {
        "placings": list(placings),
        "reason": reason,
        "points": None if points is None else list(points),
        "payouts": payouts,
        "rake": house,
        "ratings": [
            {"seat": seat, "before": old.display, "after": new.display}
            for seat, (old, new) in enumerate(zip(skills, new_skills, strict=True))
        ],
    }
    table = replace(
        table,
        status=FINISHED,
        clock=table.clock.stop(now_ms),
        to_act=(),
        result=result,
        new_skills=tuple(new_skills),
    )
    return _emit(table, "game_over", None, result, now_ms)


def abort(table: Table, seat: int | None, reason: str, now_ms: int) -> tuple[Table, NewEvent]:
    """End the game without a result (stakes are refunded): the ``aborted`` event."""
    result = {"reason": reason, "seat": seat}
    table = replace(table, status=ABORTED, clock=table.clock.stop(now_ms), to_act=(), result=result)
    return _emit(table, "aborted", seat, result, now_ms)


def _emit(
    table: Table, kind: str, seat: int | None, data: dict[str, Any], now_ms: int
) -> tuple[Table, NewEvent]:
    seq = table.seq + 1
    if table.state is not None and table.status == ACTIVE:
        data = {**data, **_position(table)}
    frame = messages.Event(
        game_id=table.game_id,
        seq=seq,
        kind=kind,
        ts_ms=now_ms,
        seat=seat,
        data=data,
        clocks=list(table.clock.read(now_ms)),
        to_act=list(table.to_act),
    )
    return replace(table, seq=seq), NewEvent(seq, kind, seat, now_ms, messages.encode(frame))


def _position(table: Table) -> dict[str, Any]:
    """The position after an event, and the legal moves of the seats to act, so that
    clients need no rules of their own to draw the board and hint moves."""
    rules, state = table.rules, table.state
    out: dict[str, Any] = {}
    try:
        out["position"] = rules.position_to_text(state)
    except ActionUnavailableError:  # a game without position text
        pass
    out["legal"] = [
        rules.format_move(state, move)
        for seat in table.to_act
        for move in rules.legal_moves(state, seat)
    ]
    return out


# ---------------------------------------------------------------------- deadlines


def next_deadline(table: Table) -> tuple[int, str, int] | None:
    """The table's next deadline ``(time, what, seat)``: ``flag``, ``first_move`` or
    ``grace``; ``None`` when nothing is pending."""
    if table.status != ACTIVE:
        return None
    found: list[tuple[int, str, int]] = []
    flag = table.clock.flag()
    if flag is not None:
        found.append((flag[0], "flag", flag[1]))
    for seat in table.to_act:
        if seat not in table.moved:
            found.append((table.turn_ms + table.policy.first_move_timeout_ms, "first_move", seat))
    for seat, since in table.offline:
        found.append((since + table.policy.disconnect_grace_ms, "grace", seat))
    return min(found) if found else None


def apply_due(table: Table, now_ms: int) -> tuple[Table, tuple[NewEvent, ...]]:
    """Apply every deadline that has passed by ``now_ms``, in time order."""
    events: list[NewEvent] = []
    for _ in range(4 * len(table.seats) + 4):  # each step removes a deadline; bounded anyway
        due = next_deadline(table)
        if due is None or due[0] > now_ms:
            break
        _, what, seat = due
        if what == "first_move":
            table, event = abort(table, seat, "first_move_timeout", now_ms)
            events.append(event)
            continue
        reason = Removal.TIMEOUT if what == "flag" else Removal.FORFEIT
        offline = tuple(item for item in table.offline if item[0] != seat)
        try:
            outcome = table.rules.remove(table.state, seat, reason)
        except ActionUnavailableError:
            # The seat is already out (e.g. eliminated): its grace no longer matters.
            table = replace(table, offline=offline)
            continue
        table, caused = advance(
            replace(table, offline=offline), outcome, now_ms, reason.value, seat
        )
        events.extend(caused)
    return table, tuple(events)


# ----------------------------------------------------------------------- views


def state_frame(table: Table, player_id: int, now_ms: int) -> bytes:
    """The encoded ``State`` frame of the table as ``player_id`` may see it at ``now_ms``."""
    seat = table.seat_of(player_id)
    view: dict[str, Any] = {}
    if table.state is not None:
        rules, state = table.rules, table.state
        view = dict(rules.view(state, seat))
        try:
            view.setdefault("position", rules.position_to_text(state))
        except ActionUnavailableError:
            pass
        if seat is not None and seat in table.to_act and "legal_moves" not in view:
            moves = rules.legal_moves(state, seat)
            view["legal_moves"] = [rules.format_move(state, m) for m in moves]
    frame = messages.State(
        game_id=table.game_id,
        seq=table.seq,
        game=table.rules.name,
        status=table.status,
        seats=[info.to_json(s) for s, info in enumerate(table.seats)],
        view=view,
        clocks=list(table.clock.read(now_ms)),
        to_act=list(table.to_act),
        ts_ms=now_ms,
        time_control=table.time_control,
        stake=table.stake,
        you=seat,
        result=table.result,
    )
    return messages.encode(frame)
