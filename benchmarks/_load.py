"""The load generator of benchmarks/serve.py: rooms of four playing fourchess.

The same seat loop drives two servers: meeple (the real protocol through
:class:`meeple.client.Client`, private games) and a bare relay that only
rebroadcasts each message to its room. In both, every seat keeps the rules
state locally and the seat to act plays a random legal move, so the clients'
work is the same and only the server differs.

Times are ``time.monotonic()`` (one clock for every process of the machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets

from meeple import rules
from meeple.client import Client, CommandError
from meeple.protocol import messages as m

GAME = "fourchess"
SEATS = 4
TIME_CONTROL = "10+5"  # long enough that nobody flags under load
UNAVAILABLE = "games_unavailable"  # no engine owned the game (failover): try again shortly
RETRY_S = 0.1


@dataclass(frozen=True)
class WorkerSpec:
    """What one load process does."""

    kind: str  # "meeple" or "relay"
    url: str  # WebSocket URL (meeple: .../ws; relay: base, rooms appended)
    rooms: int
    first_room: int
    tokens: list[str]  # meeple: SEATS per room
    think_ms: int
    pace_s: float | None  # per room: at most one move per pace_s (open-loop rate)
    warmup_s: float
    measure_s: float
    seed: int
    # meeple: seat i of room r connects to urls[(4r + i) % len]: a game spans gateways
    urls: tuple[str, ...] = ()


@dataclass
class Recorder:
    """Samples taken inside the measurement window."""

    start: float
    end: float
    moves: int = 0
    ack_ms: list[float] = field(default_factory=list)
    delivery_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    games: int = 0
    # (game id, acked seq, monotonic time) of every accepted move, in or out of the window
    accepted: list[tuple[str, int, float]] = field(default_factory=list)

    def inside(self, t: float) -> bool:
        return self.start <= t < self.end

    def ack(self, sent: float, acked: float) -> None:
        if self.inside(acked):
            self.moves += 1
            self.ack_ms.append((acked - sent) * 1000)

    def delivered(self, sent: float, received: float) -> None:
        if self.inside(received):
            self.delivery_ms.append((received - sent) * 1000)

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1

    def summary(self) -> dict[str, Any]:
        return {
            "moves": self.moves,
            "ack_ms": self.ack_ms,
            "delivery_ms": self.delivery_ms,
            "errors": self.errors,
            "games": self.games,
            "accepted": self.accepted,
        }


class Ticker:
    """Wake waiters after each change (one Event swapped per change, no task)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def tick(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def until(self, predicate: Callable[[], bool], within: float) -> bool:
        deadline = time.monotonic() + within
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                return predicate()
        return True


class Room:
    """Four seats at one table, game after game, until ``stop_at``."""

    def __init__(self, spec: WorkerSpec, index: int, recorder: Recorder, stop_at: float) -> None:
        self.spec = spec
        self.index = index
        self.recorder = recorder
        self.stop_at = stop_at
        self.rng = random.Random(spec.seed * 1000 + index)
        self.sent_at: dict[tuple[str, int], float] = {}
        self.next_slot = 0.0

    async def pace(self) -> None:
        """Think, then wait for this room's next slot when the rate is paced."""
        if self.spec.think_ms:
            await asyncio.sleep(self.spec.think_ms / 1000)
        if self.spec.pace_s:
            now = time.monotonic()
            self.next_slot = max(self.next_slot + self.spec.pace_s, now)
            if self.next_slot > now:
                await asyncio.sleep(self.next_slot - now)


# ----------------------------------------------------------------------- meeple


class MeepleRoom(Room):
    """A private fourchess game on meeple, played through the client."""

    clients: list[Client]
    game_id = ""

    async def setup(self) -> None:
        tokens = self.spec.tokens[self.index * SEATS : (self.index + 1) * SEATS]
        self.matched: dict[int, str] = {}
        self.ticker = Ticker()
        urls = self.spec.urls or (self.spec.url,)
        self.clients = [
            await Client.connect(
                urls[(self.index * SEATS + seat) % len(urls)],
                token,
                command_timeout_s=30.0,
                keepalive_s=None,
            )
            for seat, token in enumerate(tokens)
        ]
        for seat, client in enumerate(self.clients):
            client.on_frame(lambda frame, seat=seat: self._on_frame(seat, frame))

    def _on_frame(self, seat: int, frame: m.ServerMessage) -> None:
        if isinstance(frame, m.Event):
            if frame.kind == "move" and frame.seat != seat:
                sent = self.sent_at.get((frame.game_id, frame.seq))
                if sent is not None:
                    self.recorder.delivered(sent, time.monotonic())
        elif isinstance(frame, m.Matched):
            self.matched[seat] = frame.game_id
            self.ticker.tick()

    async def _retry(self, call: Callable[[str], Any]) -> Any:
        """``await call(command_id)``; after games_unavailable or timeout (an engine
        failing over, a starved machine) again with the same id, for 60 s at most."""
        command_id = f"bench-{secrets.token_hex(6)}"
        deadline = time.monotonic() + 60
        while True:
            try:
                return await call(command_id)
            except CommandError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                self.recorder.error(exc.code)
                await asyncio.sleep(RETRY_S)

    async def new_game(self) -> str:
        """Create a private game, seat all four, subscribe all four; its id."""
        self.matched.clear()
        first = self.clients[0]
        ack = await self._retry(
            lambda cid: first.create_private(GAME, TIME_CONTROL, command_id=cid)
        )
        data = ack.data or {}
        code = str(data.get("code") or data.get("invite_code") or data.get("invite"))
        for client in self.clients[1:]:
            await self._retry(lambda cid, c=client: c.join_private(code, command_id=cid))
        if not await self.ticker.until(lambda: len(self.matched) == SEATS, 30):
            raise RuntimeError(f"room {self.index}: only {len(self.matched)} seats matched")
        game_id = self.matched[0]
        for client in self.clients:
            await self._retry(lambda cid, c=client: c.subscribe(game_id, command_id=cid))
        return game_id

    async def play(self) -> None:
        while time.monotonic() < self.stop_at:
            try:
                game_id = await self.new_game()
                self.game_id = game_id
                seats = [self._seat(client, game_id) for client in self.clients]
                for outcome in await asyncio.gather(*seats, return_exceptions=True):
                    if isinstance(outcome, BaseException):
                        raise outcome
            except (CommandError, RuntimeError) as exc:  # give this game up, start another
                self.recorder.error(f"room:{getattr(exc, 'code', 'stuck')}")
                await asyncio.sleep(RETRY_S)
                continue
            if self.clients[0].views[game_id].finished:
                self.recorder.games += 1
                for client in self.clients:
                    await client.unsubscribe(game_id)
                    client.views.pop(game_id, None)

    async def _seat(self, client: Client, game_id: str) -> None:
        view = client.views[game_id]
        while time.monotonic() < self.stop_at:
            try:
                await client.wait_until(lambda: view.finished or view.my_turn, 1.0)
            except TimeoutError:
                continue
            if view.finished:
                return
            await self.pace()
            # The same rules work as a relay seat: list the moves, format the one chosen.
            game, state, seat = view.rules, view.state, view.you
            if game is None or state is None or seat is None:
                continue
            moves = game.legal_moves(state, seat)
            if not moves:
                continue
            text = game.format_move(state, self.rng.choice(moves))
            seq = view.seq + 1
            sent = time.monotonic()
            self.sent_at[(game_id, seq)] = sent
            try:
                ack = await client.move(game_id, text)
            except CommandError as exc:
                self.recorder.error(exc.code)
                if exc.code == "game_over":
                    return
                if exc.code == UNAVAILABLE:
                    await asyncio.sleep(RETRY_S)
                await self._retry(lambda _cid: client.resync(game_id))
                continue
            acked = time.monotonic()
            self.recorder.ack(sent, acked)
            want = ack.seq or seq
            self.recorder.accepted.append((game_id, want, acked))
            try:
                await client.wait_until(lambda want=want: view.seq >= want or view.finished, 10.0)
            except TimeoutError:
                self.recorder.error("event_missing")

    async def close(self) -> None:
        """Resign the unfinished game (so no abandoned game runs its clocks), disconnect."""
        view = self.clients[0].views.get(self.game_id)
        for client in self.clients:
            if view is not None and not view.finished:
                with contextlib.suppress(CommandError):
                    await client.resign(self.game_id)
            await client.close()


# ----------------------------------------------------------------------- relay


class RelaySeat:
    """One seat's connection to the relay and its own copy of the rules state."""

    def __init__(self, room: RelayRoom, seat: int) -> None:
        self.room = room
        self.seat = seat
        self.game = rules.get(GAME)
        self.state: object = self.game.new(SEATS)
        self.seq = 0
        self.round = 0
        self.ticker = Ticker()
        self.ws: websockets.ClientConnection | None = None

    async def connect(self, url: str) -> None:
        self.ws = await websockets.connect(url, compression=None)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self._apply(json.loads(raw))
        except websockets.ConnectionClosed:
            pass

    def _apply(self, msg: dict[str, Any]) -> None:
        now = time.monotonic()
        game, seat = self.game, int(msg["seat"])
        move = game.parse_move(self.state, seat, str(msg["move"]))
        self.state = game.play(self.state, seat, move).state
        self.seq = int(msg["seq"])
        if seat != self.seat:
            self.room.recorder.delivered(float(msg["sent"]), now)
        if game.result(self.state) is not None:  # everybody starts the next game alone
            self.state = game.new(SEATS)
            self.seq = 0
            self.round += 1
            if self.seat == 0:
                self.room.recorder.games += 1
        self.ticker.tick()

    def my_turn(self) -> bool:
        return self.seat in self.game.to_act(self.state)

    async def play(self) -> None:
        room = self.room
        assert self.ws is not None
        while time.monotonic() < room.stop_at:
            if not await self.ticker.until(self.my_turn, 1.0):
                continue
            await room.pace()
            state = self.state
            moves = self.game.legal_moves(state, self.seat)
            text = self.game.format_move(state, room.rng.choice(moves))
            want, round_ = self.seq + 1, self.round
            sent = time.monotonic()
            frame = {"seat": self.seat, "seq": want, "move": text, "sent": sent}
            await self.ws.send(json.dumps(frame))
            # The relay's echo of our own frame is the "ack".
            await self.ticker.until(
                lambda want=want, round_=round_: self.seq >= want or self.round != round_, 10.0
            )
            room.recorder.ack(sent, time.monotonic())


class RelayRoom(Room):
    """Four seats of the relay baseline."""

    seats: list[RelaySeat]

    async def setup(self) -> None:
        self.seats = [RelaySeat(self, seat) for seat in range(SEATS)]
        for seat in self.seats:
            await seat.connect(f"{self.spec.url}/room/{self.spec.first_room + self.index}")

    async def play(self) -> None:
        await asyncio.gather(*(seat.play() for seat in self.seats))

    async def close(self) -> None:
        for seat in self.seats:
            assert seat.ws is not None
            await seat.ws.close()


async def run_worker(
    spec: WorkerSpec, ready: Callable[[], None], go: Callable[[], Any]
) -> dict[str, Any]:
    """Set the rooms up, report ready, wait for go, play, return the samples."""
    room_class = MeepleRoom if spec.kind == "meeple" else RelayRoom
    recorder = Recorder(0.0, 0.0)
    rooms: list[Room] = [room_class(spec, i, recorder, 0.0) for i in range(spec.rooms)]
    for room in rooms:
        await room.setup()  # type: ignore[attr-defined]
    ready()
    await asyncio.get_running_loop().run_in_executor(None, go)
    start = time.monotonic()
    recorder.start = start + spec.warmup_s
    recorder.end = recorder.start + spec.measure_s
    for room in rooms:
        room.stop_at = recorder.end
    await asyncio.gather(*(room.play() for room in rooms))  # type: ignore[attr-defined]
    for room in rooms:
        await room.close()  # type: ignore[attr-defined]
    return recorder.summary()
