"""The engine's shell: leases, batches, one commit per batch, then publish and reply.

The loop, per batch (DESIGN.md invariants 1-3)::

    pop up to N commands from the owned shards' queues
    decide each against its game's table (pure: meeple.engine.table)
    append every event of the batch and the accepted commands' outcomes in ONE commit
    swap the new tables in, publish the event frames, send the replies, re-arm timers

If the commit fails nothing of the batch is visible: the old tables are still the
truth. A ``SequenceConflict`` means someone else wrote the game (we were a stale
owner): the game is reloaded from the store and the batch decided again, once; a
command another owner already applied is answered from its recorded outcome.

Games end in two steps that are each idempotent and retried until done: the
``game_over``/``aborted`` event is committed with the move that caused it, then
:mod:`meeple.engine.settlement` closes the games row (ratings, seats) and settles
or refunds the stakes. A crash between them is finished at the next start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from meeple.bus.base import Bus, BusError, Subscriber
from meeple.engine import settlement, spans, storage
from meeple.engine.ownership import LeaseExpired, Ownership
from meeple.engine.table import PLAYER_KINDS, NewEvent, Policy, Reply, Table, decide
from meeple.engine.table import next_deadline as table_deadline
from meeple.engine.timers import TimerWheel, now_ms
from meeple.ledger import Ledger
from meeple.obs import metrics, tracing
from meeple.obs.outage import OutageLog
from meeple.protocol.internal import (
    Command,
    CommandReply,
    command_queue,
    decode_command,
    encode_internal,
    game_topic,
    reply_topic,
    shard_of,
)
from meeple.settings import Settings
from meeple.store.database import Store
from meeple.store.games import Append, Appended, CommandRecord, Games
from meeple.store.games import NewEvent as StoreEvent
from meeple.store.outage import unreachable as store_unreachable

log = logging.getLogger(__name__)

CommandKey = tuple[str, int, str]
SEEN_LIMIT = 100_000  # command outcomes remembered in memory (the store has them all)
KEEP_ENDED_S = 120.0  # ended games stay loaded this long for late commands and state
ENGINES_TOPIC = "engines"  # "joined"/"left": the others rebalance at once
POP_WAIT_S = 0.2  # an idle pop's wait: also how long stop() waits before handing over
STORE_UNREACHABLE = "the game store is unreachable; retry with the same command id"
# Seconds before an ended game whose closing failed is tried again.
SETTLE_RETRY_S = 5.0


class Engine:
    """Owns shards of games by lease and runs their commands, clocks and endings."""

    def __init__(
        self,
        *,
        store: Store,
        bus: Bus,
        ledger: Ledger,
        settings: Settings,
        engine_id: str | None = None,
    ) -> None:
        self.store = store
        self.games = Games(store)
        self.bus = bus
        self.ledger = ledger
        self.settings = settings
        self.engine_id = engine_id or f"engine-{uuid.uuid4().hex[:12]}"
        self.tables: dict[str, Table] = {}
        self.ownership = Ownership(bus, self.engine_id, ttl_ms=settings.lease_ttl_ms)
        self._seen: OrderedDict[CommandKey, Reply] = OrderedDict()
        self._ended: dict[str, float] = {}
        self._unsettled: set[str] = set()
        self._timers = TimerWheel(self._on_deadline)
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._settle_wake = asyncio.Event()
        self._batch_lock = asyncio.Lock()
        self._depth = max(1, settings.engine_pipeline_depth)
        self._wake = asyncio.Event()
        self._changes: Subscriber | None = None
        # shard -> when its previous owner handed it over (ms), for fair clocks at load
        self._handed_over: dict[int, int] = {}
        self._running = False
        self._store_outage = OutageLog(log, "store", self.engine_id)

    @property
    def running(self) -> bool:
        """Started and not stopping (readiness)."""
        return self._running

    @property
    def owned(self) -> frozenset[int]:
        """The shards whose games run here now (leases held and still trusted)."""
        return self.ownership.shards

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Join the engines, take a fair share of the shards, load their games, start
        the loops."""
        self._running = True
        self._changes = self.bus.subscriber(limit=100)
        await self._changes.subscribe(ENGINES_TOPIC)
        await self._rebalance()
        self._tasks = [
            asyncio.create_task(self._command_loop(), name=f"{self.engine_id}-commands"),
            asyncio.create_task(self._lease_loop(), name=f"{self.engine_id}-leases"),
            asyncio.create_task(self._settle_loop(), name=f"{self.engine_id}-settle"),
            asyncio.create_task(self._watch_changes(), name=f"{self.engine_id}-changes"),
        ]
        await self._announce(b"joined")
        log.info("engine %s started with %d shards", self.engine_id, len(self.owned))

    async def stop(self) -> None:
        """Hand every game over at once: the batch in progress completes, no new one
        starts, the handover time is left for the next owners' clocks, every lease is
        released and the other engines are told (they take the shards at once)."""
        self._running = False
        self._wake.set()
        if self._tasks:
            # The loops notice within one pop wait; the last batch completes.
            await asyncio.wait(self._tasks[:2], timeout=2.0)
        await self._halt()
        await self.ownership.mark_handover(sorted(self.ownership.trusted), now_ms())
        await self.ownership.leave()
        await self._announce(b"left")
        metrics.OWNED_SHARDS.set(0)
        log.info("engine %s stopped; its shards are free", self.engine_id)

    async def abandon(self) -> None:
        """Stop without releasing anything, as if the process died (tests, fault drills)."""
        await self._halt()

    async def _halt(self) -> None:
        self._running = False
        self._timers.cancel_all()
        for task in [*self._tasks, *self._side_tasks]:
            task.cancel()
        for task in [*self._tasks, *self._side_tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._side_tasks.clear()
        self.tables.clear()
        if self._changes is not None:
            await self._changes.close()
            self._changes = None

    async def _announce(self, what: bytes) -> None:
        """Tell the other engines to rebalance now rather than at their next poll
        (best effort: the poll catches up if this is lost)."""
        try:
            await self.bus.publish(ENGINES_TOPIC, what)
        except BusError as exc:
            log.warning("engine %s could not announce %s: %s", self.engine_id, what, exc)

    async def _watch_changes(self) -> None:
        assert self._changes is not None
        async for _ in self._changes:
            self._wake.set()

    # ---------------------------------------------------------------------- leases

    async def _lease_loop(self) -> None:
        """Every poll: drop what we can no longer trust, renew (every third of the
        TTL), then take or give shards towards the fair share."""
        poll_s = self.settings.lease_poll_ms / 1000
        renew_s = self.settings.lease_ttl_ms / 3000
        next_renewal = time.monotonic() + renew_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_s)
            if not self._running:
                return
            self._wake.clear()
            try:
                self._lose(self.ownership.expired(), "not renewed in time")
                if time.monotonic() >= next_renewal:
                    next_renewal = time.monotonic() + renew_s
                    self._lose(await self.ownership.renew(), "taken by another engine")
                await self._rebalance()
            except BusError as exc:
                log.warning("engine %s cannot reach the bus: %s", self.engine_id, exc)
            except Exception:
                log.exception("lease renewal failed")
            self._evict_ended()
            metrics.OWNED_SHARDS.set(len(self.owned))
            for state in ("pending", "active", "finished", "aborted"):
                count = sum(1 for t in self.tables.values() if t.status == state)
                metrics.GAMES.labels(state=state).set(count)

    async def _rebalance(self) -> None:
        holders = await self.bus.holders(self.ownership.lease_names())
        plan = await self.ownership.poll(holders)
        if plan.give:
            await self._hand_over(plan.give)
        if plan.take and self._running:
            gained = await self.ownership.take(plan.take)
            if gained:
                log.info("engine %s took shards %s", self.engine_id, sorted(gained))
                self._handed_over |= await self.ownership.handover_marks(sorted(gained))
                await self._load_shards(gained)
        metrics.OWNED_SHARDS.set(len(self.owned))

    def _lose(self, shards: set[int], why: str) -> None:
        """Shards no longer ours (without our consent): forget their games at once."""
        if not shards:
            return
        log.warning("engine %s lost shards %s: %s", self.engine_id, sorted(shards), why)
        self.ownership.forget(shards)
        self._drop_shards(shards)

    async def _hand_over(self, shards: Sequence[int]) -> None:
        """Give shards up: after the batch in flight, before the next one."""
        async with self._batch_lock:
            self.ownership.forget(shards)
            self._drop_shards(set(shards))
        await self.ownership.mark_handover(shards, now_ms())
        await self.ownership.release(shards)
        await self._announce(b"released")
        log.info("engine %s handed shards %s over", self.engine_id, sorted(shards))

    def _drop_shards(self, shards: set[int]) -> None:
        for shard in shards:
            self._handed_over.pop(shard, None)
        for game_id in [g for g in self.tables if shard_of(g) in shards]:
            self._drop(game_id)
            self._unsettled.discard(game_id)

    async def _load_shards(self, shards: set[int]) -> None:
        """Load the live games of newly owned shards; finish what a crash left half done."""
        for game_id in await storage.games_to_recover(self.store):
            if shard_of(game_id) not in shards or game_id in self.tables:
                continue
            async with self._batch_lock:
                if shard_of(game_id) not in self.owned:
                    continue  # handed over (or lost) meanwhile
                table = await self._load(game_id)
            if table is None:
                continue
            if table.status == "pending":
                # Made by the matchmaker, but its start command was lost: start it now.
                start = encode_internal(_internal(game_id, "start"))
                await self.bus.push(command_queue(shard_of(game_id)), start)
            elif table.over:
                self._unsettled.add(game_id)
        self._settle_wake.set()

    # ---------------------------------------------------------------------- loading

    async def _load(self, game_id: str) -> Table | None:
        served_until = self._handed_over.get(shard_of(game_id))
        table = await storage.load_table(
            self.store, game_id, self._policy, now_ms(), served_until_ms=served_until
        )
        if table is None:
            return None
        self.tables[game_id] = table
        self._arm(table)
        if table.over:
            self._ended.setdefault(game_id, time.monotonic())
        return table

    def _drop(self, game_id: str) -> None:
        self.tables.pop(game_id, None)
        self._ended.pop(game_id, None)
        self._timers.schedule(game_id, None)

    def _evict_ended(self) -> None:
        cutoff = time.monotonic() - KEEP_ENDED_S
        for game_id, ended in list(self._ended.items()):
            if ended < cutoff and game_id not in self._unsettled:
                self._drop(game_id)

    def _policy(self, game: str, seats: int) -> Policy:
        return Policy(
            first_move_timeout_ms=round(self.settings.first_move_timeout_s * 1000),
            disconnect_grace_ms=round(self.settings.disconnect_grace_s * 1000),
            payout_percent=settlement.payout_table(self.settings, game, seats),
            rake_bps=self.settings.rake_bps,
        )

    # ---------------------------------------------------------------------- commands

    async def _command_loop(self) -> None:
        """Pop, decide and start the commit of a batch, and go on to the next while
        that commit is on its way to disk (group commit, pipelined).

        Batches in flight never share a game: a command for a game whose batch is
        still landing waits (in order) until it has landed, so every game still sees
        its commands one batch after the other, decided on committed tables. At most
        ``engine_pipeline_depth`` batches are in flight.
        """
        rotation = 0
        carry: list[Command] = []  # commands whose game is in a batch still landing
        flights: list[_Flight] = []
        try:
            while self._running:
                flights = [f for f in flights if not f.task.done()]
                shards = sorted(self.owned)
                if not shards:
                    await asyncio.sleep(self.settings.lease_poll_ms / 1000)  # none yet: soon
                    continue
                # Rotate the queue order so that no shard starves the others under load.
                rotation = (rotation + 1) % len(shards)
                queues = [command_queue(s) for s in shards[rotation:] + shards[:rotation]]
                try:
                    items = await self._take(queues, wait=not carry)
                except BusError as exc:
                    log.warning("engine %s cannot reach the bus: %s", self.engine_id, exc)
                    await asyncio.sleep(0.5)  # the bus is restarting; commands are retried
                    continue
                commands = carry + self._decode(items)
                busy = {g for f in flights if not f.task.done() for g in f.games}
                free = [c for c in commands if c.game_id not in busy]
                carry = [c for c in commands if c.game_id in busy]
                if not free:
                    if carry:  # they wait for their game's batch to land
                        await asyncio.wait(
                            [f.task for f in flights], return_when=asyncio.FIRST_COMPLETED
                        )
                    continue
                while len([f for f in flights if not f.task.done()]) >= self._depth:
                    await asyncio.wait(
                        [f.task for f in flights], return_when=asyncio.FIRST_COMPLETED
                    )
                flights.append(await self._launch(free))
        finally:
            # Stopping: the batches in flight land (replies sent) before we return.
            if flights:
                await asyncio.gather(*(f.task for f in flights), return_exceptions=True)

    def _decode(self, items: list[tuple[str, bytes]]) -> list[Command]:
        commands = []
        for _, data in items:
            try:
                commands.append(decode_command(data))
            except ValueError:
                log.error("undecodable command dropped (%d bytes)", len(data))
        return commands

    async def _launch(self, commands: list[Command]) -> _Flight:
        """Decide a batch and start its commit; its landing goes on in a task."""
        decided: _Decided | Exception
        try:
            async with self._batch_lock:
                decided = await self._decide(commands, look_up=False)
        except Exception as exc:
            decided = exc
        task = asyncio.create_task(self._land_batch(commands, decided))
        return _Flight(frozenset(c.game_id for c in commands), task)

    async def _land_batch(self, commands: list[Command], decided: _Decided | Exception) -> None:
        """Wait for the commit, then publish and reply; a conflict is decided again
        (once); a failure answers every command of the batch."""
        try:
            if isinstance(decided, Exception):
                raise decided
            retry = await self._land(decided)
            if retry:
                # Stale tables were dropped: reload them from the store and decide again,
                # once. Commands another owner applied are answered from their record.
                async with self._batch_lock:
                    again = await self._decide(retry, look_up=True)
                retry = await self._land(again)
            if retry:
                await self._reply_all(retry, "games_unavailable", "the game moved; retry")
        except Exception as exc:
            # Nothing of the batch was committed; senders retry with the same ids.
            if self._store_failed(exc):
                code, message = "games_unavailable", STORE_UNREACHABLE
            else:
                log.exception("batch of %d commands failed", len(commands))
                code, message = "internal_error", "the engine failed; retry"
            metrics.COMMANDS.labels(outcome=code).inc(len(commands))
            if tracing.ENABLED:
                spans.failed(code)
            with contextlib.suppress(BusError):
                await self._reply_all(commands, code, message)
        else:
            self._store_outage.succeeded()

    async def _take(self, queues: list[str], *, wait: bool = True) -> list[tuple[str, bytes]]:
        """A batch: wait for a first command (unless ``wait`` is false: commands are
        held already), then let the batch fill for a moment."""
        batch_max = self.settings.engine_batch_max
        wait_s = POP_WAIT_S if wait else 0.0
        items = await self.bus.pop(queues, max_items=batch_max, wait_s=wait_s)
        if items and len(items) < batch_max and self.settings.engine_batch_wait_ms > 0:
            wait_s = self.settings.engine_batch_wait_ms / 1000
            items += await self.bus.pop(queues, max_items=batch_max - len(items), wait_s=wait_s)
        return items

    async def _handle_batch(self, commands: Sequence[Command]) -> None:
        """One batch from its decision to its landing (the loop overlaps these)."""
        await (await self._launch(list(commands))).task

    async def _decide(self, commands: Sequence[Command], *, look_up: bool) -> _Decided:
        """Decide each command against its game's table and start the batch's commit.

        A command id seen before is answered from memory. An unknown one is decided
        at once, without asking the store first (that look-up was a round trip per
        batch): if it was in fact accepted before (by this engine long ago, or by a
        previous owner), either the commit refuses the duplicate (the store keeps
        one outcome per command id) and the game is decided again with
        ``look_up``, or the decision is a refusal, and refusals are checked against
        the store before they are sent (:meth:`_answer_refusals_from_records`).
        """
        started = time.perf_counter()
        traced = spans.batch(commands, self.store.dialect) if tracing.ENABLED else None
        moved = [c for c in commands if shard_of(c.game_id) not in self.owned]
        if moved:
            # Handed over (or lost) since they were popped: the new owner takes them.
            await self._requeue(moved)
            commands = [c for c in commands if shard_of(c.game_id) in self.owned]
        for game_id in {c.game_id for c in commands if c.game_id not in self.tables}:
            if shard_of(game_id) in self.owned:
                await self._load(game_id)
        recorded = await self._recorded(commands) if look_up else {}
        now = now_ms()
        steps: list[_Step] = []
        items: list[Append] = []
        work: dict[str, Table] = {}
        batch_seen: dict[CommandKey, Reply] = {}
        for command in commands:
            key = (command.game_id, command.player_id, command.command_id)
            known = batch_seen.get(key) or self._seen.get(key) or recorded.get(key)
            if command.kind in PLAYER_KINDS and known is not None:
                steps.append(_Step(command, known))
                continue
            table = work.get(command.game_id) or self.tables.get(command.game_id)
            if table is None:
                steps.append(_Step(command, self._missing(command.game_id)))
                continue
            try:
                decision = decide(table, command.kind, command.player_id, command.arg, now)
            except Exception:
                # Our bug (or the rules'): this command fails alone, the table is unchanged.
                log.exception("deciding %s in %s failed", command.kind, command.game_id)
                reply = Reply(False, code="internal_error", message="our bug; it was logged")
                steps.append(_Step(command, reply))
                continue
            work[command.game_id] = decision.table
            step = _Step(command, decision.reply, decision.events, decision.table)
            record = None
            if command.kind in PLAYER_KINDS and decision.reply is not None:
                batch_seen[key] = decision.reply
                if decision.reply.ok:
                    record = CommandRecord(
                        command.player_id, command.command_id, decision.reply.to_json()
                    )
            if decision.events or record is not None:
                ended = decision.table.over and not table.over
                step.item = len(items)
                items.append(
                    Append(
                        game_id=command.game_id,
                        expected_seq=table.seq,
                        events=[
                            StoreEvent(e.kind, e.seat, e.body, e.ts_ms) for e in decision.events
                        ],
                        command=record,
                        status=decision.table.status if ended else None,
                        result=decision.table.result if ended else None,
                    )
                )
            steps.append(step)
        if not look_up:
            await self._answer_refusals_from_records(steps, batch_seen)
        if traced is not None:
            traced.committing()
        # The commit starts now (the store keeps the order of commits started); the
        # engine may decide the next batch (of other games) while it is on its way.
        commit = asyncio.ensure_future(self._commit(items))
        return _Decided(steps, items, batch_seen, started, commit, traced)

    async def _land(self, decided: _Decided) -> list[Command]:
        """After the commit: publish, reply, keep the tables; the commands to decide
        again (conflicts)."""
        results = await decided.commit
        committed = time.perf_counter()
        traced = decided.traced
        if traced is not None:
            traced.committed(len(decided.items), sum(len(i.events) for i in decided.items))
        stale = await self._stale_refusals(decided.steps)
        async with self._batch_lock:
            retry = await self._conclude(
                decided.steps, results, decided.batch_seen, decided.started, committed, stale
            )
        if traced is not None:
            traced.finish(decided.steps, retry)
        return retry

    async def _answer_refusals_from_records(
        self, steps: list[_Step], batch_seen: dict[CommandKey, Reply]
    ) -> None:
        """A refused player command whose id is recorded in the store was accepted
        before: answer with that outcome (the retry of a move whose ack was lost must
        not read "not your turn")."""
        refused = [
            s
            for s in steps
            if s.command.kind in PLAYER_KINDS
            and s.reply is not None
            and not s.reply.ok
            and _key(s.command) not in self._seen
        ]
        if not refused:
            return
        found = await self._recorded([s.command for s in refused])
        for step in refused:
            reply = found.get(_key(step.command))
            if reply is not None:
                step.reply = batch_seen[_key(step.command)] = reply

    async def _stale_refusals(self, steps: list[_Step]) -> set[str]:
        """Games whose refusals were decided on a table the store has moved past.

        A write is fenced by its expected seq; a refusal writes nothing, so it is
        checked here: while another engine writes a game this one still thinks it
        owns (a Redis restart empties the leases and another engine takes the shard
        before our next renewal), our table is stale and "illegal move" or "not your
        turn" on it would be false. A game with an append in this batch needs no
        look-up: the append's expected seq proved the table current (or failed).
        """
        appended = {s.command.game_id for s in steps if s.item is not None}
        decided = {
            s.command.game_id: s.table.seq
            for s in steps
            if s.table is not None
            and s.reply is not None
            and not s.reply.ok
            and s.command.game_id not in appended
        }
        if not decided:
            return set()
        heads = await storage.last_seqs(self.store, sorted(decided))
        stale = {g for g, seq in decided.items() if heads.get(g, seq) != seq}
        if stale:
            log.warning(
                "engine %s: refusals decided on stale tables of %s; deciding again",
                self.engine_id,
                sorted(stale),
            )
        return stale

    async def _commit(self, items: list[Append]) -> list[Appended | Exception]:
        """One store commit of the items whose shard lease we still trust; the others
        fail with :class:`LeaseExpired` (a paused engine must not write; should it
        pause between this check and the commit, the expected seq fences it)."""
        if not items:
            return []
        now = time.monotonic()
        trusted = [self.ownership.holds(shard_of(i.game_id), now) for i in items]
        if all(trusted):
            return list(await self.games.append_many(items))
        mine = [item for item, ok in zip(items, trusted, strict=True) if ok]
        written = iter(await self.games.append_many(mine))
        return [
            next(written) if ok else LeaseExpired(item.game_id)
            for item, ok in zip(items, trusted, strict=True)
        ]

    async def _requeue(self, commands: Sequence[Command]) -> None:
        for command in commands:
            await self.bus.push(command_queue(shard_of(command.game_id)), encode_internal(command))

    async def _conclude(
        self,
        steps: list[_Step],
        results: Sequence[Appended | Exception],
        batch_seen: dict[CommandKey, Reply],
        started: float,
        committed: float,
        stale: set[str] | None = None,
    ) -> list[Command]:
        """After the commit: keep what committed, publish it, reply; return the rest
        (the commands of games whose append was refused or whose table was ``stale``)."""
        failed: set[str] = set(stale or ())
        retry: list[Command] = []
        replies: list[tuple[Command, Reply]] = []
        frames: list[tuple[str, bytes]] = []
        tables: dict[str, Table] = {}
        for step in steps:
            game_id = step.command.game_id
            if step.item is not None and not isinstance(results[step.item], Appended):
                error = results[step.item]
                log.warning("engine %s: append to %s refused: %s", self.engine_id, game_id, error)
                failed.add(game_id)
            if game_id in failed:
                batch_seen.pop(_key(step.command), None)
                retry.append(step.command)
                continue
            if step.table is not None:
                tables[game_id] = step.table
            frames.extend((game_topic(game_id), e.body) for e in step.events)
            if step.reply is not None:
                replies.append((step.command, step.reply))
        for game_id in failed:
            tables.pop(game_id, None)
            self._drop(game_id)
        self._keep(tables, batch_seen)
        self._observe(steps, failed, started, committed)
        if frames:
            await self.bus.publish_many(frames)
        await self._send_replies(replies)
        return retry

    def _keep(self, tables: dict[str, Table], batch_seen: dict[CommandKey, Reply]) -> None:
        every = self.settings.snapshot_every
        for game_id, table in tables.items():
            if shard_of(game_id) not in self.owned:
                continue  # handed over while its batch landed: the new owner loads it
            before = self.tables.get(game_id)
            was_over = before.over if before is not None else False
            if every > 0 and not table.over and before is not None:
                if table.seq // every > before.seq // every:
                    self._spawn(self._snapshot(table))
            self.tables[game_id] = table
            self._arm(table)
            if table.over and not was_over:
                self._ended[game_id] = time.monotonic()
                self._unsettled.add(game_id)
                self._settle_wake.set()
        for key, reply in batch_seen.items():
            self._seen[key] = reply
        while len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)

    def _observe(
        self, steps: list[_Step], failed: set[str], started: float, committed: float
    ) -> None:
        count = 0
        for step in steps:
            if step.command.game_id in failed:
                continue
            count += len(step.events)
            reply = step.reply
            if reply is not None:
                outcome = "ok" if reply.ok else reply.code or "error"
                metrics.COMMANDS.labels(outcome=outcome).inc()
            if step.command.kind == "move" and reply is not None and reply.ok and step.table:
                metrics.MOVES.labels(game=step.table.rules.name).inc()
                metrics.MOVE_LATENCY.observe(committed - started)
        if count:
            metrics.COMMIT_BATCH.observe(count)

    async def _recorded(self, commands: Sequence[Command]) -> dict[CommandKey, Reply]:
        """Outcomes of this batch's player commands recorded in the store (by any owner)."""
        wanted = [
            (c.game_id, c.player_id, c.command_id)
            for c in commands
            if c.kind in PLAYER_KINDS and (c.game_id, c.player_id, c.command_id) not in self._seen
        ]
        if not wanted:
            return {}
        found = await storage.recorded_outcomes(self.store, wanted)
        return {
            key: Reply(
                ok=bool(o.get("ok")),
                seq=o.get("seq"),
                code=o.get("code"),
                message=o.get("message"),
            )
            for key, o in found.items()
        }

    def _missing(self, game_id: str) -> Reply:
        if shard_of(game_id) in self.owned:
            return Reply(False, code="game_not_found", message=f"no game {game_id}")
        return Reply(False, code="games_unavailable", message="the game moved; retry")

    # ---------------------------------------------------------------------- replies

    async def _send_replies(self, replies: list[tuple[Command, Reply]]) -> None:
        out = [
            (
                reply_topic(command.reply_to),
                encode_internal(
                    CommandReply(
                        command_id=command.command_id,
                        player_id=command.player_id,
                        game_id=command.game_id,
                        ok=reply.ok,
                        seq=reply.seq,
                        code=reply.code,
                        message=reply.message,
                        payload=reply.payload,
                    )
                ),
            )
            for command, reply in replies
            if command.reply_to
        ]
        if out:
            await self.bus.publish_many(out)

    async def _reply_all(self, commands: Sequence[Command], code: str, message: str) -> None:
        await self._send_replies([(c, Reply(False, code=code, message=message)) for c in commands])

    async def _snapshot(self, table: Table) -> None:
        try:
            await storage.save_snapshot(self.store, table)
        except Exception as exc:
            # A snapshot only shortens replay: a missed one is taken at the next interval.
            if not self._store_failed(exc):
                log.exception("snapshot of %s at %d failed", table.game_id, table.seq)
        else:
            self._store_outage.succeeded()

    def _store_failed(self, exc: Exception) -> bool:
        """Whether ``exc`` is the store being unreachable: an outage, logged once for all
        of the engine's store paths (batches, snapshots, settlement), not our bug."""
        if store_unreachable(exc):
            self._store_outage.failed(exc)
            return True
        return False

    # ---------------------------------------------------------------------- timers

    def _arm(self, table: Table) -> None:
        due = table_deadline(table)
        self._timers.schedule(table.game_id, None if due is None else due[0])

    def _on_deadline(self, game_id: str) -> None:
        if not self._running or shard_of(game_id) not in self.owned:
            return
        # Through the queue, like any command: one decide-commit path for everything.
        data = encode_internal(_internal(game_id, "tick"))
        self._spawn(self.bus.push(command_queue(shard_of(game_id)), data))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # ---------------------------------------------------------------------- endings

    async def _settle_loop(self) -> None:
        while self._running:
            await self._settle_wake.wait()
            self._settle_wake.clear()
            for game_id in sorted(self._unsettled):
                table = self.tables.get(game_id)
                if table is None:
                    self._unsettled.discard(game_id)
                    continue
                try:
                    await settlement.close(self.store, self.ledger, self.settings, table)
                except Exception as exc:
                    self._spawn(self._wake_later(SETTLE_RETRY_S))
                    if self._store_failed(exc):
                        break  # the other games would fail alike: all of them next time
                    log.exception("closing game %s failed; will retry", game_id)
                    continue
                self._store_outage.succeeded()
                self._unsettled.discard(game_id)

    async def _wake_later(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._settle_wake.set()


@dataclass(slots=True)
class _Step:
    """One command of a batch: its reply, and what it changed (if anything)."""

    command: Command
    reply: Reply | None
    events: tuple[NewEvent, ...] = ()
    table: Table | None = None
    item: int | None = None  # index of its append in the batch's commit


@dataclass
class _Decided:
    """A decided batch whose commit is under way."""

    steps: list[_Step]
    items: list[Append]
    batch_seen: dict[CommandKey, Reply]
    started: float
    commit: asyncio.Future[list[Appended | Exception]]
    traced: Any


@dataclass(frozen=True)
class _Flight:
    """A batch landing: its games (no other batch may touch them) and its task."""

    games: frozenset[str]
    task: asyncio.Task[None]


def _key(command: Command) -> CommandKey:
    return (command.game_id, command.player_id, command.command_id)


def _internal(game_id: str, kind: str) -> Command:
    return Command(
        game_id=game_id,
        player_id=0,
        command_id="",
        kind=kind,
        arg=None,
        reply_to="",
        sent_ms=now_ms(),
    )
