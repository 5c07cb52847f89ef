"""A client-side copy of a game: the rules state rebuilt from ``state`` and ``event`` frames.

The server is the authority; this copy exists so a client (a bot, a UI) can list
legal moves and whose turn it is without asking. It starts from a ``state``
frame (the ``view`` carries the position text) or from the ``start`` event, then
applies each later event with the game's own rules. If an event cannot be applied
(a kind it does not know, or the rules disagree), the view marks itself ``stale``;
the :class:`~meeple.client.connection.Client` then asks the server for a fresh
``state`` frame.
"""

from __future__ import annotations

import logging
from typing import Any

from meeple import rules
from meeple.protocol.messages import Event, State
from meeple.rules import AnyGame, Claim, Removal, RulesError

log = logging.getLogger(__name__)

# Keys of a ``view`` that may hold the position text, in the order tried.
POSITION_KEYS = ("position", "fen4", "fen")
# Event kinds that end a game.
FINAL_KINDS = frozenset({"game_over", "aborted"})
# Event kinds that remove a seat, and how.
REMOVALS = {
    "resign": Removal.RESIGN,
    "resigned": Removal.RESIGN,
    "timeout": Removal.TIMEOUT,
    "forfeit": Removal.FORFEIT,
}
# Event kinds that change nothing the rules keep.
PASSIVE_KINDS = frozenset({"presence", "note"})


class GameView:
    """What one client knows of one game, kept in step with the server's frames.

    ``state`` is the rules state (``None`` until a ``state`` frame or the ``start``
    event arrives); ``seq`` the last event applied; ``you`` this client's seat
    (``None`` when spectating or not yet known).
    """

    def __init__(self, game_id: str, *, you: int | None = None) -> None:
        self.game_id = game_id
        self.you = you
        self.game: str | None = None
        self.rules: AnyGame | None = None
        self.state: object | None = None
        self.seq = 0
        self.status = "unknown"
        self.seats: list[dict[str, Any]] = []
        self.clocks: list[int] = []
        self.to_act: list[int] = []
        self.ts_ms = 0
        self.result: dict[str, Any] | None = None
        self.stale = False

    # -- reading -----------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """True once the game is over (``game_over`` or ``aborted``)."""
        return self.result is not None or self.status in ("finished", "aborted")

    @property
    def my_turn(self) -> bool:
        """True when this client's seat may move now (by the local rules state)."""
        if self.finished or self.stale or self.you is None or self.state is None:
            return False
        assert self.rules is not None
        return self.you in self.rules.to_act(self.state)

    def legal_moves(self, seat: int | None = None) -> list[str]:
        """Legal moves of ``seat`` (default: yours) as text, by the local rules state."""
        seat = self.you if seat is None else seat
        if seat is None or self.state is None or self.rules is None or self.stale:
            return []
        if self.finished:
            return []
        state = self.state
        return [self.rules.format_move(state, m) for m in self.rules.legal_moves(state, seat)]

    # -- updating ----------------------------------------------------------------

    def apply_state(self, frame: State) -> None:
        """Start over from a whole-game ``state`` frame."""
        self.game = frame.game
        self.rules = rules.get(frame.game)
        self.seq = frame.seq
        self.status = frame.status
        self.seats = list(frame.seats)
        self.clocks = list(frame.clocks)
        self.to_act = list(frame.to_act)
        self.ts_ms = frame.ts_ms
        self.result = frame.result
        if frame.you is not None:
            self.you = frame.you
        self.stale = False
        self.state = None
        text = next(
            (frame.view[k] for k in POSITION_KEYS if isinstance(frame.view.get(k), str)), None
        )
        if text is None:
            if not self.finished:
                log.warning("state of %s has no position text", self.game_id)
                self.stale = True
            return
        options = _options(frame.view.get("options"))
        try:
            self.state = self.rules.position_from_text(text, options)
        except RulesError as exc:
            log.warning("cannot read the position of %s: %s", self.game_id, exc)
            self.stale = not self.finished

    def apply_event(self, frame: Event) -> bool:
        """Apply the next event; False if it is a duplicate (seq already seen).

        An event that cannot be applied leaves the view ``stale`` (its seq is
        still counted: a fresh ``state`` frame is what repairs it).
        """
        if frame.seq <= self.seq:
            return False
        if frame.seq != self.seq + 1 and not frame.kind == "start":
            log.info("gap in %s: seq %d after %d", self.game_id, frame.seq, self.seq)
            self.stale = True
        self.seq = frame.seq
        self.ts_ms = frame.ts_ms
        if frame.clocks:
            self.clocks = list(frame.clocks)
        self.to_act = list(frame.to_act)
        if self.stale and frame.kind not in FINAL_KINDS:
            return True
        try:
            self._apply(frame)
        except (RulesError, KeyError, TypeError, ValueError) as exc:
            log.warning(
                "cannot apply %s event %d of %s: %s", frame.kind, frame.seq, self.game_id, exc
            )
            self.stale = True
        return True

    def _apply(self, frame: Event) -> None:
        kind, data = frame.kind, frame.data
        if kind == "start":
            self._start(data)
            return
        if kind in FINAL_KINDS:
            self.status = "finished" if kind == "game_over" else "aborted"
            result = data.get("result", data)
            self.result = result if isinstance(result, dict) else {"reason": kind}
            return
        if kind in PASSIVE_KINDS:
            return
        if self.state is None or self.rules is None:
            raise ValueError("no state yet")
        game, state, seat = self.rules, self.state, frame.seat
        if seat is None:
            raise ValueError(f"{kind} event without a seat")
        if kind == "move":
            move = game.parse_move(state, seat, str(data["move"]))
            self.state = game.play(state, seat, move).state
        elif kind in REMOVALS:
            self.state = game.remove(state, seat, REMOVALS[kind]).state
        elif kind == "draw_offered":
            self.state = game.offer_draw(state, seat).state
        elif kind in ("draw_declined", "draw_accepted"):
            self.state = game.answer_draw(state, seat, kind == "draw_accepted").state
        elif kind == "claimed":
            self.state = game.claim(state, seat, Claim(str(data["claim"]))).state
        else:
            raise ValueError(f"unknown event kind {kind!r}")

    def _start(self, data: dict[str, Any]) -> None:
        game = str(data["game"]) if "game" in data else self.game
        if game is None:
            raise ValueError("start event names no game")
        self.game = game
        self.rules = rules.get(game)
        seats = data.get("seats", [])
        self.seats = [s for s in seats if isinstance(s, dict)]
        count = len(seats) if seats else self.rules.seat_counts[0]
        self.state = self.rules.new(count, _options(data.get("options")))
        self.status = "active"
        self.stale = False


def _options(value: object) -> dict[str, str] | None:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return None
