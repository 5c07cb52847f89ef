"""A real engine on a real store and the in-memory bus, driven the way a gateway does."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from meeple.bus.base import Subscriber
from meeple.bus.memory import MemoryBus
from meeple.engine import Engine
from meeple.ledger import Ledger
from meeple.protocol import messages
from meeple.protocol.internal import (
    Command,
    CommandReply,
    command_queue,
    decode_reply,
    encode_internal,
    game_topic,
    reply_topic,
    shard_of,
)
from meeple.settings import Settings
from meeple.store.database import Store
from meeple.store.games import Games
from meeple.store.schema import players

GATEWAY = "gw-test"
_ids = itertools.count(1)


def fast_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Fast timers for tests."""
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "first_move_timeout_s": 30.0,
        "disconnect_grace_s": 60.0,
        "lease_ttl_ms": 3_000,
        "engine_batch_wait_ms": 2,
        "rake_bps": 500,
    }
    values.update(overrides)
    return Settings(**values)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, within: float = 10.0
) -> None:
    """Poll an async condition until it holds, or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.01)


class Harness:
    """Store + bus + ledger + engine, with helpers to make players and games."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.bus = MemoryBus()
        self.ledger = Ledger(store, settings.currency)
        self.games = Games(store)
        self.engine = self.new_engine()
        self.extra: list[Engine] = []  # more engines (add_engine), stopped at close
        self._replies: dict[tuple[int, str], asyncio.Future[CommandReply]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._sub: Subscriber | None = None

    def new_engine(self, engine_id: str | None = None) -> Engine:
        return Engine(
            store=self.store,
            bus=self.bus,
            ledger=self.ledger,
            settings=self.settings,
            engine_id=engine_id,
        )

    async def start(self) -> None:
        self._sub = self.bus.subscriber()
        await self._sub.subscribe(reply_topic(GATEWAY))
        self._reader = asyncio.create_task(self._read())
        await self.engine.start()

    async def add_engine(self, engine_id: str) -> Engine:
        """Start one more engine on the same store and bus."""
        engine = self.new_engine(engine_id)
        await engine.start()
        self.extra.append(engine)
        return engine

    async def close(self) -> None:
        for engine in self.extra:
            await engine.stop()
        await self.engine.stop()
        if self._sub is not None:
            await self._sub.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        assert self._sub is not None
        async for _, data in self._sub:
            reply = decode_reply(data)
            future = self._replies.get((reply.player_id, reply.command_id))
            if future is not None and not future.done():
                future.set_result(reply)

    # -- setting up ----------------------------------------------------------------

    async def players(self, count: int, *, deposit: int = 0) -> list[int]:
        now = datetime.now(UTC)
        ids = []
        async with self.store.begin() as conn:
            for _ in range(count):
                name = f"p{uuid.uuid4().hex[:10]}"
                row = await conn.execute(
                    insert(players)
                    .values(
                        username=name,
                        username_key=name,
                        display_name=name,
                        password_hash="x",
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(players.c.id)
                )
                ids.append(int(row.scalar_one()))
        for player in ids:
            if deposit:
                await self.ledger.deposit(player, deposit, key=f"dep:{player}")
        return ids

    async def game(
        self,
        seats: list[int],
        *,
        game: str = "chess",
        base_ms: int = 60_000,
        increment_ms: int = 0,
        stake: int = 0,
        start: bool = True,
    ) -> str:
        """An active game (stakes escrowed), started through the engine's queue."""
        game_id = f"g{uuid.uuid4().hex[:12]}"
        await self.games.create(
            game_id,
            game=game,
            players=seats,
            currency=self.settings.currency,
            base_ms=base_ms,
            increment_ms=increment_ms,
            stake=stake,
            status="active",
        )
        if stake:
            await self.ledger.escrow(game_id, [(s, p, stake) for s, p in enumerate(seats)])
        if start:
            reply = await self.send(game_id, 0, "start")
            assert reply.ok, reply
        return game_id

    # -- commands ---------------------------------------------------------------------

    def command(
        self, game_id: str, player_id: int, kind: str, arg: str | None = None, cid: str = ""
    ) -> Command:
        return Command(
            game_id=game_id,
            player_id=player_id,
            command_id=cid or f"c{next(_ids)}",
            kind=kind,
            arg=arg,
            reply_to=GATEWAY,
            sent_ms=int(time.time() * 1000),
        )

    async def push(
        self, command: Command, queue: str | None = None
    ) -> asyncio.Future[CommandReply]:
        key = (command.player_id, command.command_id)
        future = self._replies.get(key)
        if future is None or future.done():
            future = asyncio.get_running_loop().create_future()
            self._replies[key] = future
        queue = queue or command_queue(shard_of(command.game_id))
        await self.bus.push(queue, encode_internal(command))
        return future

    async def send(
        self, game_id: str, player_id: int, kind: str, arg: str | None = None, cid: str = ""
    ) -> CommandReply:
        future = await self.push(self.command(game_id, player_id, kind, arg, cid))
        return await asyncio.wait_for(future, 10)

    async def state(self, game_id: str, player_id: int = 0) -> messages.State:
        reply = await self.send(game_id, player_id, "state")
        assert reply.ok and reply.payload is not None
        frame = messages.decode_server(reply.payload)
        assert isinstance(frame, messages.State)
        return frame

    # -- reading back ---------------------------------------------------------------

    async def events(self, game_id: str) -> list[messages.Event]:
        out = []
        for stored in await self.games.events_after(game_id, 0):
            frame = messages.decode_server(stored.body)
            assert isinstance(frame, messages.Event)
            out.append(frame)
        return out

    async def watch(self, game_id: str) -> Subscriber:
        sub = self.bus.subscriber()
        await sub.subscribe(game_topic(game_id))
        return sub


async def next_events(sub: Subscriber, count: int, within: float = 10.0) -> list[messages.Event]:
    """The next ``count`` event frames published on a game topic."""
    out: list[messages.Event] = []

    async def take() -> None:
        async for _, data in sub:
            frame = messages.decode_server(data)
            assert isinstance(frame, messages.Event)
            out.append(frame)
            if len(out) == count:
                return

    await asyncio.wait_for(take(), within)
    return out
