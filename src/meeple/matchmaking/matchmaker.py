"""The matchmaker: queues, private games, and the crash-safe start of a game.

Commands arrive on :data:`~meeple.protocol.internal.MATCHMAKER_QUEUE` (any instance
may take them); replies go to the sender's reply topic, and ``QueueStatus`` /
``Matched`` frames to the players' topics. One instance at a time (the holder of
the ``lease.matchmaker`` lease) runs the tick that groups waiting players.

Starting a game, each step idempotent so that a crash anywhere is finished by
:meth:`Matchmaker.recover` at the next start-up::

    game row (pending) + queue entries removed    one transaction
    ledger.escrow (all seats or none)             key escrow:<game_id>
    games.status pending -> active
    Command(kind="start") to the game's shard     the engine writes the start event
    Matched to every player

If a wallet cannot cover the stake (:class:`~meeple.ledger.InsufficientFunds` names
the seat), that player is dropped with ``QueueStatus(state="dropped")``, the
pending game is aborted, nothing moves in the ledger, and the others go back to
the queue with their original waiting time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import msgspec
from opentelemetry.trace import Span, SpanKind

from meeple import rules
from meeple.bus.base import Bus, BusError, BusUnavailable
from meeple.ledger import InsufficientFunds, Ledger
from meeple.matchmaking.grouping import Waiting, Window, group, parse_time_control
from meeple.matchmaking.store import Busy, Entry, MatchStore, Pending, QueueKey
from meeple.obs import metrics, tracing
from meeple.obs.outage import OutageLog
from meeple.protocol import messages as m
from meeple.protocol.internal import (
    MATCHMAKER_QUEUE,
    Command,
    CommandReply,
    command_queue,
    decode_command,
    encode_internal,
    player_topic,
    reply_topic,
    shard_of,
)
from meeple.rules import RulesError
from meeple.settings import Settings
from meeple.store.database import Store

log = logging.getLogger(__name__)

LEASE = "lease.matchmaker"
SCOPE = "meeple.matchmaking"  # its spans' instrumentation scope
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud safely
SEATS = {"fourchess": 4, "chess": 2}
_SEEN_LIMIT = 10_000

_client_decoder = msgspec.json.Decoder(m.QueueJoin | m.QueueLeave | m.PrivateCreate | m.PrivateJoin)


class Refused(Exception):
    """A matchmaking command refused with a stable protocol ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def now_ms() -> int:
    """Wall-clock milliseconds (queue waiting times survive restarts)."""
    return time.time_ns() // 1_000_000


class Matchmaker:
    """Queues by (game, time control, stake); private games by invite code."""

    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        ledger: Ledger,
        settings: Settings,
        instance_id: str | None = None,
    ) -> None:
        self.bus = bus
        self.ledger = ledger
        self.settings = settings
        self.instance_id = instance_id or f"mm-{uuid.uuid4().hex[:12]}"
        self._bus_outage = OutageLog(log, "bus", f"matchmaker {self.instance_id}")
        self.rows = MatchStore(store, settings.currency)
        self.window = Window(settings.match_window, settings.match_window_growth_per_s)
        self.time_controls = {tc.strip() for tc in settings.time_controls.split(",") if tc.strip()}
        self.stakes = {int(s) for s in settings.stakes.split(",") if s.strip()}
        self._seen: OrderedDict[tuple[int, str], CommandReply] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._lock = asyncio.Lock()  # one game-making step at a time in this instance

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Finish what a crash left half done, then serve commands and tick."""
        self._running = True
        await self.recover()
        self._tasks = [
            asyncio.create_task(self._command_loop(), name=f"{self.instance_id}-commands"),
            asyncio.create_task(self._tick_loop(), name=f"{self.instance_id}-tick"),
        ]

    async def stop(self) -> None:
        """Stop serving; queue entries stay (they are durable)."""
        self._running = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.bus.release(LEASE, self.instance_id)

    async def recover(self) -> None:
        """Pending games made from the queue (or full private ones): start or abort them."""
        for game_id in await self.rows.pending_ids():
            pending = await self.rows.pending(game_id)
            if pending is None or len(pending.players) < pending.seats:
                continue  # a private game still waiting for players
            async with self._lock:
                await self._launch(pending)

    # ------------------------------------------------------------------ commands

    async def _command_loop(self) -> None:
        while self._running:
            try:
                items = await self.bus.pop([MATCHMAKER_QUEUE], max_items=64, wait_s=0.5)
            except BusError as exc:
                log.warning("matchmaker cannot reach the bus: %s", exc)
                await asyncio.sleep(0.5)  # senders retry with the same command ids
                continue
            for _, data in items:
                try:
                    command = decode_command(data)
                except ValueError:
                    log.error("undecodable matchmaking command dropped")
                    continue
                with tracing.span(
                    SCOPE,
                    f"matchmaker {command.kind}",
                    parent=command.trace,
                    kind=SpanKind.CONSUMER,
                    attributes={"meeple.player_id": command.player_id},
                    root=False,
                ) as span:
                    try:
                        reply = await self.handle(command)
                    except Exception:
                        log.exception("matchmaking command %s failed", command.kind)
                        reply = _error(command, "internal_error", "matchmaking failed; retry")
                    if span is not None:
                        tracing.outcome(span, None if reply.ok else reply.code)
                if command.reply_to:
                    await self.bus.publish(reply_topic(command.reply_to), encode_internal(reply))

    async def handle(self, command: Command) -> CommandReply:
        """Answer one command (a retry of the same id gets the first answer)."""
        key = (command.player_id, command.command_id)
        seen = self._seen.get(key)
        if seen is not None:
            return seen
        try:
            message = _client_decoder.decode(command.arg or "")
        except msgspec.DecodeError as exc:
            return _error(command, "bad_message", str(exc))
        try:
            async with self._lock:
                data = await self._dispatch(command.player_id, message)
        except (Refused, Busy) as exc:
            reply = _error(command, exc.code, exc.message)
        else:
            payload = msgspec.json.encode(data)
            reply = CommandReply(command.command_id, command.player_id, "", True, payload=payload)
        self._seen[key] = reply
        while len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return reply

    async def _dispatch(self, player_id: int, message: Any) -> dict[str, Any]:
        if isinstance(message, m.QueueJoin):
            return await self._join(player_id, message)
        if isinstance(message, m.QueueLeave):
            return await self._leave(player_id)
        if isinstance(message, m.PrivateCreate):
            return await self._create_private(player_id, message)
        assert isinstance(message, m.PrivateJoin)
        return await self._join_private(player_id, message.code)

    def _queue_key(self, game: str, time_control: str, stake: int, *, private: bool) -> QueueKey:
        try:
            rules.get(game)
        except RulesError as exc:
            raise Refused("unknown_game", str(exc)) from None
        if game not in SEATS:
            raise Refused("unknown_game", f"{game} is not offered for play")
        if not private and time_control not in self.time_controls:
            offered = ", ".join(sorted(self.time_controls))
            raise Refused("bad_time_control", f"{time_control} is not offered ({offered})")
        base_ms, increment_ms = parse_time_control(time_control)
        # A time control's minute lasts clock_minute_ms (shortened for tests and demos).
        base_ms = base_ms * self.settings.clock_minute_ms // 60_000
        increment_ms = increment_ms * self.settings.clock_minute_ms // 60_000
        if base_ms <= 0:
            raise Refused("bad_time_control", "a game needs some time on the clock")
        if (not private and stake not in self.stakes) or stake > self.settings.max_stake:
            raise Refused("bad_option", f"a stake of {stake} is not offered")
        return QueueKey(game, base_ms, increment_ms, stake)

    async def _may_play(self, player_id: int, stake: int) -> None:
        """At most one queue, and at most one staked game, per player."""
        if await self.rows.entry(player_id) is not None:
            raise Refused("already_queued", "you are already in a queue; leave it first")
        if stake > 0:
            if await self.rows.staked_game(player_id) is not None:
                raise Refused("already_playing", "you already have a staked game in progress")
            balance = await self.ledger.balance(player_id)
            if balance < stake:
                raise Refused("insufficient_funds", f"the stake is {stake}, you have {balance}")

    async def _join(self, player_id: int, join: m.QueueJoin) -> dict[str, Any]:
        key = self._queue_key(join.game, join.time_control, join.stake, private=False)
        await self._may_play(player_id, key.stake)
        rating = await self.rows.rating(player_id, key.game)
        if not await self.rows.enqueue([Entry(player_id, key, rating, now_ms())]):
            raise Refused("already_queued", "you are already in a queue; leave it first")
        size = await self.rows.queue_size(key)
        await self._status(player_id, key, "waiting", queue_size=size)
        return {"state": "waiting", "queue_size": size, "rating": rating}

    async def _leave(self, player_id: int) -> dict[str, Any]:
        entry = await self.rows.dequeue(player_id)
        if entry is None:
            return {"state": "not_queued"}
        waited = now_ms() - entry.enqueued_ms
        await self._status(player_id, entry.key, "left", waited_ms=waited)
        return {"state": "left"}

    async def _create_private(self, player_id: int, create: m.PrivateCreate) -> dict[str, Any]:
        key = self._queue_key(create.game, create.time_control, create.stake, private=True)
        if key.stake > 0:
            await self._may_play(player_id, key.stake)
        game_id = _game_id()
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
        await self.rows.create_private(game_id, key, SEATS[key.game], code, player_id)
        return {"code": code, "game_id": game_id, "seat": 0}

    async def _join_private(self, player_id: int, code: str) -> dict[str, Any]:
        pending = await self.rows.by_code(code.strip().upper())
        if pending is None:
            raise Refused("invite_not_found", f"no open private game with code {code!r}")
        if player_id in pending.players:
            return {"game_id": pending.id, "seat": pending.players.index(player_id)}
        if pending.stake > 0:
            await self._may_play(player_id, pending.stake)
        seat = await self.rows.take_seat(pending.id, player_id)
        if seat is None:
            raise Refused("invite_not_found", "that private game is full")
        full = await self.rows.pending(pending.id)
        if full is not None and len(full.players) == full.seats:
            await self._launch(full)
        return {"game_id": pending.id, "seat": seat}

    # ------------------------------------------------------------------ matching

    async def _tick_loop(self) -> None:
        interval = self.settings.match_tick_ms / 1000
        ttl = max(3000, 5 * self.settings.match_tick_ms)
        while self._running:
            try:
                if await self.bus.acquire(LEASE, self.instance_id, ttl):
                    await self.tick()
            except BusUnavailable as exc:
                self._bus_outage.failed(exc)  # once per outage, not every tick
            except Exception:
                log.exception("matchmaking tick failed")
            else:
                self._bus_outage.succeeded()
            await asyncio.sleep(interval)

    async def tick(self) -> int:
        """Group waiting players and start their games; the number of games made."""
        entries = await self.rows.entries()
        queues: dict[QueueKey, list[Entry]] = {}
        for entry in entries:
            queues.setdefault(entry.key, []).append(entry)
        for game in SEATS:
            metrics.QUEUE_SIZE.labels(game=game).set(sum(1 for e in entries if e.key.game == game))
        now = now_ms()
        made = 0
        for key, waiting in queues.items():
            by_id = {e.player_id: e for e in waiting}
            pool = [Waiting(e.player_id, e.rating, e.enqueued_ms) for e in waiting]
            for found in group(pool, SEATS.get(key.game, 2), self.window, now):
                async with self._lock:
                    made += await self._match([by_id[w.player_id] for w in found])
        return made

    async def _match(self, members: Sequence[Entry]) -> int:
        game_id = _game_id()
        if not await self.rows.create_from_queue(game_id, members):
            return 0  # someone left meanwhile; the next tick regroups
        pending = await self.rows.pending(game_id)
        assert pending is not None
        return 1 if await self._launch(pending, members) else 0

    async def _launch(self, pending: Pending, queued: Sequence[Entry] = ()) -> bool:
        """Escrow, activate, start and announce a full pending game (idempotent)."""
        with tracing.span(
            SCOPE,
            "matchmaking match",
            attributes={
                "meeple.game_id": pending.id,
                "meeple.game": pending.game,
                "meeple.stake": pending.stake,
                "meeple.seats": len(pending.players),
            },
        ) as span:
            started = await self._start_game(pending, queued, span)
            if span is not None:
                span.set_attribute("meeple.match.started", started)
            return started

    async def _start_game(
        self, pending: Pending, queued: Sequence[Entry], span: Span | None
    ) -> bool:
        if pending.stake > 0:
            stakes = [(seat, p, pending.stake) for seat, p in enumerate(pending.players)]
            try:
                await self.ledger.escrow(pending.id, stakes)
            except InsufficientFunds as exc:
                await self._drop(pending, exc, queued)
                return False
        if not await self.rows.set_status(pending.id, "active"):
            return False  # another instance launched (or aborted) it
        # The engine's "start" continues the match's trace.
        trace = tracing.traceparent(span) if span is not None else None
        start = Command(pending.id, 0, f"start.{pending.id}", "start", None, "", now_ms(), trace)
        await self.bus.push(command_queue(shard_of(pending.id)), encode_internal(start))
        metrics.MATCHES.labels(game=pending.game).inc()
        names = await self.rows.usernames(pending.players)
        ratings = [await self.rows.rating(p, pending.game) for p in pending.players]
        seats = [
            {"seat": s, "player_id": p, "username": names.get(p, ""), "rating": ratings[s]}
            for s, p in enumerate(pending.players)
        ]
        time_control = f"{pending.base_ms / 60_000:g}+{pending.increment_ms / 1000:g}"
        frames = [
            (
                player_topic(p),
                m.encode(
                    m.Matched(
                        game_id=pending.id,
                        seat=s,
                        game=pending.game,
                        time_control=time_control,
                        stake=pending.stake,
                        players=seats,
                    )
                ),
            )
            for s, p in enumerate(pending.players)
        ]
        await self.bus.publish_many(frames)
        log.info("game %s started: %s", pending.id, pending.players)
        return True

    async def _drop(
        self, pending: Pending, exc: InsufficientFunds, queued: Sequence[Entry]
    ) -> None:
        """A seat cannot pay: drop that player, give the others their places back."""
        short = exc.player_id
        if short is None and exc.seat is not None and exc.seat < len(pending.players):
            short = pending.players[exc.seat]
        key = QueueKey(pending.game, pending.base_ms, pending.increment_ms, pending.stake)
        reason = f"insufficient funds for the stake of {pending.stake}"
        await self._status(short or 0, key, "dropped", reason=reason)
        if pending.invite_code is not None:
            # A private game stays open: the seat is free for someone who can pay.
            if short is not None:
                await self.rows.unseat(pending.id, short)
            return
        await self.rows.set_status(pending.id, "aborted", {"reason": "insufficient_funds"})
        since = {e.player_id: e.enqueued_ms for e in queued}
        back = [
            Entry(p, key, await self.rows.rating(p, key.game), since.get(p, now_ms()))
            for p in pending.players
            if p != short
        ]
        for entry in back:
            # One by one: a player who queued or sat down elsewhere meanwhile is simply
            # not re-queued.
            try:
                requeued = await self.rows.enqueue([entry])
            except Busy:
                requeued = False
            if requeued:
                await self._status(entry.player_id, key, "waiting")
        log.info("game %s not started: player %s cannot pay", pending.id, short)

    async def _status(
        self,
        player_id: int,
        key: QueueKey,
        state: str,
        *,
        waited_ms: int = 0,
        queue_size: int = 0,
        reason: str | None = None,
    ) -> None:
        frame = m.QueueStatus(
            state=state,  # type: ignore[arg-type]
            game=key.game,
            time_control=f"{key.base_ms / 60_000:g}+{key.increment_ms / 1000:g}",
            stake=key.stake,
            waited_ms=waited_ms,
            queue_size=queue_size,
            reason=reason,
        )
        await self.bus.publish(player_topic(player_id), m.encode(frame))


def _game_id() -> str:
    return secrets.token_urlsafe(12)


def _error(command: Command, code: str, message: str) -> CommandReply:
    return CommandReply(
        command.command_id, command.player_id, "", False, code=code, message=message
    )
