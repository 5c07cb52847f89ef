"""A tiny stand-in for the engine and matchmaker tiers, to test the gateway alone.

It is part of our system's contract, not a mock of something outside it: it
takes every shard lease, pops the shard queues and the matchmaker queue, commits
events to the store before publishing them (like the real engine) and answers on
the gateway's reply topic. Games are a list of moves taken in seat order; the
move ``"bad"`` is illegal.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert, update

from meeple.bus.base import Bus
from meeple.protocol import messages as m
from meeple.protocol.internal import (
    MATCHMAKER_QUEUE,
    SHARDS,
    Command,
    CommandReply,
    command_queue,
    decode_command,
    encode_internal,
    game_topic,
    player_topic,
    reply_topic,
    shard_lease,
)
from meeple.store.database import Store
from meeple.store.schema import game_events, game_seats, games

QUEUES = [command_queue(s) for s in range(SHARDS)] + [MATCHMAKER_QUEUE]


@dataclass
class FakeGame:
    game_id: str
    seats: list[int]
    seq: int = 0
    to_act: int = 0
    moves: list[str] = field(default_factory=list)


class FakeEngine:
    """Owns every shard while started."""

    def __init__(self, store: Store, bus: Bus, owner: str = "fake-engine") -> None:
        self.store = store
        self.bus = bus
        self.owner = owner
        self.games: dict[str, FakeGame] = {}
        self.outcomes: dict[tuple[int, str], CommandReply] = {}
        self.received: list[Command] = []
        self.presence: list[tuple[int, str, str | None]] = []
        self.hold = asyncio.Event()  # cleared: commands wait (to test timeouts, drain)
        self.hold.set()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for shard in range(SHARDS):
            assert await self.bus.acquire(shard_lease(shard), self.owner, 60_000)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for shard in range(SHARDS):
            await self.bus.release(shard_lease(shard), self.owner)

    # -- games ------------------------------------------------------------------

    async def create_game(self, game_id: str, seats: list[int]) -> FakeGame:
        now = datetime.now(UTC)
        async with self.store.begin() as conn:
            await conn.execute(
                insert(games).values(
                    id=game_id,
                    game="chess",
                    options={},
                    seats=len(seats),
                    base_ms=60_000,
                    increment_ms=0,
                    stake=0,
                    currency="USD",
                    status="active",
                    created_at=now,
                )
            )
            for seat, player_id in enumerate(seats):
                await conn.execute(
                    insert(game_seats).values(game_id=game_id, seat=seat, player_id=player_id)
                )
        game = FakeGame(game_id, seats)
        self.games[game_id] = game
        await self.append(game, "start", None, {"seats": seats})
        return game

    async def append(
        self,
        game: FakeGame,
        kind: str,
        seat: int | None,
        data: dict[str, Any],
        *,
        publish: bool = True,
    ) -> int:
        """Commit one event, then (normally) publish it."""
        game.seq += 1
        body = m.encode(
            m.Event(
                game_id=game.game_id,
                seq=game.seq,
                kind=kind,
                ts_ms=int(time.time() * 1000),
                seat=seat,
                data=data,
                clocks=[60_000] * len(game.seats),
                to_act=[game.to_act],
            )
        )
        async with self.store.begin() as conn:
            await conn.execute(
                insert(game_events).values(
                    game_id=game.game_id,
                    seq=game.seq,
                    kind=kind,
                    seat=seat,
                    body=body,
                    ts_ms=int(time.time() * 1000),
                )
            )
            await conn.execute(
                update(games).where(games.c.id == game.game_id).values(last_seq=game.seq)
            )
        if publish:
            await self.bus.publish(game_topic(game.game_id), body)
        return game.seq

    def state_frame(self, game: FakeGame, player_id: int) -> bytes:
        you = game.seats.index(player_id) if player_id in game.seats else None
        return m.encode(
            m.State(
                game_id=game.game_id,
                seq=game.seq,
                game="chess",
                status="active",
                seats=[{"player_id": p} for p in game.seats],
                view={"moves": list(game.moves)},
                clocks=[60_000] * len(game.seats),
                to_act=[game.to_act],
                ts_ms=int(time.time() * 1000),
                time_control="1+0",
                stake=0,
                you=you,
            )
        )

    # -- the loop ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            items = await self.bus.pop(QUEUES, max_items=64, wait_s=0.5)
            for queue, data in items:
                command = decode_command(data)
                self.received.append(command)
                await self.hold.wait()
                reply = await self._decide(queue, command)
                if reply is not None and command.reply_to:
                    await self.bus.publish(reply_topic(command.reply_to), encode_internal(reply))

    async def _decide(self, queue: str, cmd: Command) -> CommandReply | None:
        if cmd.kind == "presence":
            self.presence.append((cmd.player_id, cmd.game_id, cmd.arg))
            return None
        if queue == MATCHMAKER_QUEUE:
            return await self._matchmaking(cmd)
        game = self.games.get(cmd.game_id)
        if game is None:
            return self._error(cmd, "game_not_found")
        if cmd.kind == "state":
            payload = self.state_frame(game, cmd.player_id)
            return CommandReply(cmd.command_id, cmd.player_id, cmd.game_id, True, game.seq,
                                payload=payload)  # fmt: skip
        key = (cmd.player_id, cmd.command_id)
        if key in self.outcomes:
            return self.outcomes[key]
        if cmd.player_id not in game.seats:
            reply = self._error(cmd, "not_a_player")
        elif game.seats.index(cmd.player_id) != game.to_act:
            reply = self._error(cmd, "not_your_turn")
        elif cmd.kind == "move" and cmd.arg == "bad":
            reply = self._error(cmd, "illegal_move")
        else:
            seat = game.to_act
            game.moves.append(str(cmd.arg))
            game.to_act = (game.to_act + 1) % len(game.seats)
            seq = await self.append(game, cmd.kind, seat, {"move": cmd.arg})
            reply = CommandReply(cmd.command_id, cmd.player_id, cmd.game_id, True, seq)
        self.outcomes[key] = reply
        return reply

    async def _matchmaking(self, cmd: Command) -> CommandReply:
        message = orjson.loads(cmd.arg or "{}")
        status = m.QueueStatus(
            state="waiting",
            game=message.get("game", ""),
            time_control=message.get("time_control", ""),
            stake=message.get("stake", 0),
        )
        await self.bus.publish(player_topic(cmd.player_id), m.encode(status))
        payload = orjson.dumps({"queued": cmd.kind})
        return CommandReply(cmd.command_id, cmd.player_id, "", True, payload=payload)

    @staticmethod
    def _error(cmd: Command, code: str) -> CommandReply:
        return CommandReply(cmd.command_id, cmd.player_id, cmd.game_id, False, code=code,
                            message=code.replace("_", " "))  # fmt: skip
