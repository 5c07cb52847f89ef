"""Fan-out: one bus subscriber per gateway, frames forwarded as received.

The hub subscribes each topic once for the whole gateway (a game's topic while
any local connection follows the game, a player's topic while the player is
connected, and the gateway's reply topic) and hands every frame to the local
connections that want it. An event frame is decoded once per gateway, for its
``seq`` only; every connection gets the same bytes.

Who wants what changes synchronously (:meth:`Hub.follow`, :meth:`Hub.unfollow`,
:meth:`Hub.add_player`, :meth:`Hub.remove_player` need no await); the bus
subscriptions follow in the background, applied in order by one task, and a
caller that must know a topic is live (before reading the store) awaits the
future :meth:`Hub.follow` returns.

Order and gaps: each :class:`~meeple.gateway.connection.Follow` tracks the last
seq sent to its client. A frame that continues the sequence is sent; one already
sent is dropped; one past a gap puts the follow back into syncing, which fills the
gap from the store (the engine commits before it publishes, so the store has
every published seq) and then releases the frames that waited. When the bus
drops this gateway's subscriber (it fell behind), the hub subscribes again; when
the bus yields its gap marker (``GAP_TOPIC``: it reconnected, frames may be
lost), it keeps its subscriptions. Either way every follow is brought up to
date from the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable

import msgspec

from meeple.bus.base import GAP_TOPIC, Bus, Subscriber
from meeple.gateway.connection import CLOSE_INTERNAL, Connection, Follow
from meeple.gateway.reads import GatewayReads
from meeple.protocol.internal import game_topic, player_topic, reply_topic

log = logging.getLogger(__name__)

StateFetch = Callable[[], Awaitable[tuple[int, bytes]]]
"""Asks for a full state: returns ``(seq, State frame bytes)``."""


class _Head(msgspec.Struct):
    """The part of an event frame the hub reads (msgspec skips the rest)."""

    seq: int


_head_decoder = msgspec.json.Decoder(_Head)

_TopicOp = tuple[bool, str, "asyncio.Future[None] | None"]


class Hub:
    """Topic subscriptions of one gateway and delivery to its connections."""

    def __init__(
        self,
        bus: Bus,
        reads: GatewayReads,
        gateway_id: str,
        on_reply: Callable[[bytes], None],
        *,
        buffer_limit: int = 100_000,
        page: int = 500,
    ) -> None:
        self.bus = bus
        self.reads = reads
        self.gateway_id = gateway_id
        self.on_reply = on_reply
        self.buffer_limit = buffer_limit
        self.page = page
        self._reply_topic = reply_topic(gateway_id)
        self._games: dict[str, set[Connection]] = defaultdict(set)
        self._players: dict[int, set[Connection]] = defaultdict(set)
        self._topic_game: dict[str, str] = {}
        self._topic_player: dict[str, int] = {}
        self._subscriber: Subscriber | None = None
        self._task: asyncio.Task[None] | None = None
        self._ops: deque[_TopicOp] = deque()
        self._ops_wake = asyncio.Event()
        self._ops_task: asyncio.Task[None] | None = None
        self._syncs: set[asyncio.Task[None]] = set()
        self.resyncs = 0
        """How many times every follow was brought up to date (overflow or bus gap)."""

    # -- life cycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe the reply topic and start delivering."""
        self._subscriber = self.bus.subscriber(limit=self.buffer_limit)
        await self._subscriber.subscribe(self._reply_topic)
        self._task = asyncio.create_task(self._run(), name=f"hub-{self.gateway_id}")
        self._ops_task = asyncio.create_task(self._apply_ops(), name=f"hub-ops-{self.gateway_id}")

    async def stop(self) -> None:
        """Stop delivering and drop every subscription."""
        for task in (self._task, self._ops_task, *self._syncs):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._task, self._ops_task, *self._syncs) if t is not None),
            return_exceptions=True,
        )
        self._task = self._ops_task = None
        for _, _, future in self._ops:
            if future is not None and not future.done():
                future.cancel()
        self._ops.clear()
        if self._subscriber is not None:
            await self._subscriber.close()
            self._subscriber = None

    # -- who wants what -------------------------------------------------------------

    def add_player(self, conn: Connection) -> asyncio.Future[None] | None:
        """Deliver the player's topic to ``conn``.

        Returns a future that resolves once the topic is live if this is the
        player's first connection here (None if it was live already).
        """
        conns = self._players[conn.player_id]
        first = not conns
        conns.add(conn)
        if not first:
            return None
        topic = player_topic(conn.player_id)
        self._topic_player[topic] = conn.player_id
        return self._want(topic, True, wait=True)

    def remove_player(self, conn: Connection) -> bool:
        """Stop delivering to ``conn``; True if it was the player's last here."""
        for game_id in list(conn.follows):
            self.unfollow(conn, game_id)
        conns = self._players.get(conn.player_id)
        if conns is None or conn not in conns:
            return False
        conns.discard(conn)
        if conns:
            return False
        del self._players[conn.player_id]
        topic = player_topic(conn.player_id)
        self._topic_player.pop(topic, None)
        self._want(topic, False)
        return True

    def follow(self, conn: Connection, game_id: str) -> tuple[Follow, asyncio.Future[None] | None]:
        """Start following a game; the follow buffers live frames until synced.

        Also returns a future that resolves once the game's topic is live (None:
        it already is, another connection here follows the game).
        """
        follow = conn.follows.get(game_id)
        if follow is not None:
            follow.syncing = True
            return follow, None
        follow = Follow(game_id)
        conn.follows[game_id] = follow
        conns = self._games[game_id]
        conns.add(conn)
        if len(conns) > 1:
            return follow, None
        topic = game_topic(game_id)
        self._topic_game[topic] = game_id
        return follow, self._want(topic, True, wait=True)

    def unfollow(self, conn: Connection, game_id: str) -> None:
        """Stop following a game (no-op if not following)."""
        conn.follows.pop(game_id, None)
        conns = self._games.get(game_id)
        if conns is None:
            return
        conns.discard(conn)
        if not conns:
            del self._games[game_id]
            topic = game_topic(game_id)
            self._topic_game.pop(topic, None)
            self._want(topic, False)

    def connections(self) -> set[Connection]:
        """Every connection the hub delivers to."""
        return {c for conns in self._players.values() for c in conns}

    def _want(self, topic: str, on: bool, *, wait: bool = False) -> asyncio.Future[None] | None:
        future = asyncio.get_running_loop().create_future() if wait else None
        self._ops.append((on, topic, future))
        self._ops_wake.set()
        return future

    async def _apply_ops(self) -> None:
        """Apply subscription changes in the order they were wanted (runs of one kind at once)."""
        while True:
            await self._ops_wake.wait()
            self._ops_wake.clear()
            while self._ops:
                on = self._ops[0][0]
                run: list[_TopicOp] = []
                while self._ops and self._ops[0][0] == on:
                    run.append(self._ops.popleft())
                topics = [topic for _, topic, _ in run]
                error: BaseException | None = None
                try:
                    sub = self._sub()
                    if on:
                        await sub.subscribe(*topics)
                    else:
                        await sub.unsubscribe(*topics)
                except Exception as exc:
                    log.exception("bus subscription change failed", extra={"topics": len(topics)})
                    error = exc
                for _, _, future in run:
                    if future is not None and not future.done():
                        if error is None:
                            future.set_result(None)
                        else:
                            future.set_exception(error)

    def _sub(self) -> Subscriber:
        if self._subscriber is None:
            raise RuntimeError("hub is not started")
        return self._subscriber

    # -- delivery -----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            sub = self._sub()
            async for topic, data in sub:
                if topic == GAP_TOPIC:
                    log.warning("bus reconnected; resyncing", extra={"gw": self.gateway_id})
                    self.resync_all()
                else:
                    self._dispatch(topic, data)
            if not sub.overflowed:
                return  # closed by stop()
            log.warning("gateway fell behind the bus; resubscribing", extra={"gw": self.gateway_id})
            await self._resubscribe()

    def _dispatch(self, topic: str, data: bytes) -> None:
        game_id = self._topic_game.get(topic)
        if game_id is not None:
            self._deliver_event(game_id, data)
            return
        player_id = self._topic_player.get(topic)
        if player_id is not None:
            for conn in tuple(self._players.get(player_id, ())):
                conn.send(data)
            return
        if topic == self._reply_topic:
            self.on_reply(data)

    def _deliver_event(self, game_id: str, data: bytes) -> None:
        try:
            seq = _head_decoder.decode(data).seq
        except msgspec.DecodeError:
            log.error("event frame without seq dropped", extra={"game": game_id})
            return
        for conn in tuple(self._games.get(game_id, ())):
            follow = conn.follows.get(game_id)
            if follow is None:
                continue
            if follow.syncing:
                follow.buffer.append((seq, data))
            elif seq == follow.last_seq + 1:
                follow.last_seq = seq
                conn.send(data)
            elif seq > follow.last_seq + 1:
                follow.syncing = True
                follow.buffer.append((seq, data))
                self.start_sync(conn, follow)
            # else: already sent (a replayed or duplicated frame)

    async def _resubscribe(self) -> None:
        self._subscriber = self.bus.subscriber(limit=self.buffer_limit)
        topics = [self._reply_topic, *self._topic_game, *self._topic_player]
        await self._subscriber.subscribe(*topics)
        self.resync_all()

    def resync_all(self) -> None:
        """Frames may have been lost: bring every follow up to date from the store.

        A follow that is syncing already reads the store once more before it ends
        (what it read may predate the loss). Frames of player topics (queue status)
        and replies cannot be recovered: commands time out and are retried.
        """
        self.resyncs += 1
        for conns in self._games.values():
            for conn in conns:
                for follow in conn.follows.values():
                    if follow.syncing:
                        follow.recheck = True
                    else:
                        follow.syncing = True
                        self.start_sync(conn, follow)

    # -- catching up ---------------------------------------------------------------------

    def start_sync(self, conn: Connection, follow: Follow) -> None:
        """Catch a (syncing) follow up in the background."""
        task = asyncio.create_task(self._sync_or_close(conn, follow))
        self._syncs.add(task)
        task.add_done_callback(self._syncs.discard)

    async def _sync_or_close(self, conn: Connection, follow: Follow) -> None:
        try:
            await self.sync(conn, follow)
        except Exception:
            # A follow stuck in syncing would buffer without end: let the client
            # reconnect and resume instead.
            log.exception("catch-up failed", extra={"game": follow.game_id, "conn": conn.id})
            conn.close(CLOSE_INTERNAL, "internal error")

    async def sync(self, conn: Connection, follow: Follow, state: StateFetch | None = None) -> None:
        """Bring a syncing follow up to date, then let live frames through.

        With ``state``, first send the full state it fetches. Then send every
        stored event after the last one sent, then the buffered live frames,
        filling any gap from the store. Errors of ``state`` propagate (the follow
        stays syncing; the caller unfollows).
        """
        if state is not None:
            seq, data = await state()
            if not self._current(conn, follow):
                return
            follow.last_seq = max(follow.last_seq, seq)
            conn.send(data)
        until: int | None = None  # None: to the end of the stored log
        while self._current(conn, follow):
            follow.recheck = False
            events = await self.reads.events_after(
                follow.game_id, follow.last_seq, until_seq=until, limit=self.page
            )
            if not self._current(conn, follow):
                return
            for seq, body in events:
                if seq == follow.last_seq + 1:
                    follow.last_seq = seq
                    conn.send(body)
            if len(events) == self.page:
                continue  # more stored events to send
            if until is not None and follow.last_seq < until:
                # A published seq the store does not have: a bug or a foreign writer.
                # Do not skip it silently; the client reconnects and resumes.
                log.error(
                    "gap not in the store",
                    extra={"game": follow.game_id, "after": follow.last_seq, "until": until},
                )
                conn.close(CLOSE_INTERNAL, "internal error")
                return
            if follow.recheck:
                until = None  # frames were lost meanwhile: read to the end again
                continue
            until = self._release(conn, follow)
            if until is None:
                return

    def _release(self, conn: Connection, follow: Follow) -> int | None:
        """Send buffered frames that continue the sequence; at a gap, the seq to read
        the store up to (and stay syncing); None when synced."""
        buffered = sorted(follow.buffer)
        follow.buffer.clear()
        for index, (seq, data) in enumerate(buffered):
            if seq <= follow.last_seq:
                continue
            if seq > follow.last_seq + 1:
                follow.buffer.extend(buffered[index:])
                return seq - 1
            follow.last_seq = seq
            conn.send(data)
        follow.syncing = False
        return None

    @staticmethod
    def _current(conn: Connection, follow: Follow) -> bool:
        return conn.follows.get(follow.game_id) is follow and not conn.closing
